# Browser test of reports made by the real command line: `fcnet train --report` on a Fashion-MNIST
# run (600 training images, a few epochs) and `fcnet report` on the saved model must both render
# in headless Chromium with no console errors, every section and plot present; so must the page of
# `fcnet explain --html`. Needs Chromium and the Fashion-MNIST package from scripts/install-deps.
add_test(NAME report_cli_browser
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/report_cli_browser_test.sh
                 $<TARGET_FILE:fcnet_cli> ${CMAKE_CURRENT_BINARY_DIR}/report_cli_browser)
set_tests_properties(report_cli_browser PROPERTIES TIMEOUT 600 LABELS browser)
