# Interruption soak test at a small count (tests/soak_test.sh): random SIGKILL/SIGINT during
# training and resumes, ending bit-identical to an uninterrupted run. By hand, longer:
#   bash tests/soak_test.sh build/bin/fcnet /tmp/fcnet-soak 200
add_test(NAME soak_interrupts
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/soak_test.sh $<TARGET_FILE:fcnet_cli>
                 ${CMAKE_CURRENT_BINARY_DIR}/soak 10)
set_tests_properties(soak_interrupts PROPERTIES TIMEOUT 900)
