# The C API's unit tests (test_capi.cpp, part of fcnet_tests) call libfcnet.so, which carries its
# own copy of the library, so they compare its answers with the static library's fcnet::predict.
target_link_libraries(fcnet_tests PRIVATE fcnet_shared)
