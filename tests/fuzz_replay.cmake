# Replays the committed fuzz corpus (fuzz/corpus/<target>/) through the fuzz targets' entry
# points in every build: malformed files must be rejected with a clear fcnet::Error, valid ones
# read, and nothing may crash (the asan preset runs this under the sanitizers).
add_executable(fuzz_replay ${CMAKE_SOURCE_DIR}/fuzz/replay.cpp ${CMAKE_SOURCE_DIR}/fuzz/targets.cpp)
target_include_directories(fuzz_replay PRIVATE ${CMAKE_SOURCE_DIR}/src ${CMAKE_SOURCE_DIR}/fuzz)
target_link_libraries(fuzz_replay PRIVATE fcnet fcnet_warnings)
foreach(t idx gzip csv npy safetensors)
  add_test(NAME fuzz_replay_${t}
           COMMAND fuzz_replay ${t} ${CMAKE_SOURCE_DIR}/fuzz/corpus/${t})
  set_tests_properties(fuzz_replay_${t} PROPERTIES LABELS fuzz TIMEOUT 300)
endforeach()
