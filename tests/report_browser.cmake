# Browser test of the HTML report: a sample report rendered by headless Chromium must load with no
# console errors, show its plots and images, and reference no remote resource. Chromium comes from
# scripts/install-deps; without it the test fails rather than skips.
add_executable(fcnet_report_sample ${CMAKE_CURRENT_SOURCE_DIR}/report_sample.cpp)
target_link_libraries(fcnet_report_sample PRIVATE fcnet fcnet_warnings)

add_test(NAME report_browser
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/report_browser_test.sh
                 $<TARGET_FILE:fcnet_report_sample> ${CMAKE_CURRENT_BINARY_DIR}/report_browser)
set_tests_properties(report_browser PROPERTIES TIMEOUT 300 LABELS browser)
