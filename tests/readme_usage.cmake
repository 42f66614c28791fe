# Every command of the README's Usage block runs and succeeds (tests/readme_usage_test.sh), on
# generated CSV/NPY files and the Fashion-MNIST package from scripts/install-deps.
add_test(NAME readme_usage
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/readme_usage_test.sh $<TARGET_FILE:fcnet_cli>
                 ${CMAKE_SOURCE_DIR}/README.md ${CMAKE_CURRENT_BINARY_DIR}/readme_usage)
set_tests_properties(readme_usage PROPERTIES TIMEOUT 900)
