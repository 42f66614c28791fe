# The Python package's tests: pytest under Debian's interpreter with the package the build
# assembled in build/python, and the ONNX export's (tests/onnx: ONNX Runtime from third_party/npm
# runs each exported graph). A missing module or dependency makes the run fail, never skip. Builds
# without the module (FCNET_PYTHON=OFF, as the sanitizer preset) do not register it.
if(FCNET_PYTHON)
  add_test(NAME python COMMAND /usr/bin/python3 -m pytest -q -p no:cacheprovider
                               ${CMAKE_SOURCE_DIR}/tests/python ${CMAKE_SOURCE_DIR}/tests/onnx)
  set_tests_properties(
    python PROPERTIES
    ENVIRONMENT "PYTHONPATH=${CMAKE_BINARY_DIR}/python;FCNET_CLI=$<TARGET_FILE:fcnet_cli>;FCNET_SOURCE_DIR=${CMAKE_SOURCE_DIR}"
    TIMEOUT 300 LABELS python)
endif()
