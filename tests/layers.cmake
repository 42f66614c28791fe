# No include of src/ or include/fcnet/ runs up a layer (cmake/layers.cmake, checked by
# cmake/check_layers.cmake); and the check does fail: on a tree whose core includes the trainer's
# public and private headers it names both.
add_test(NAME layers COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${CMAKE_SOURCE_DIR} -P
                             ${CMAKE_SOURCE_DIR}/cmake/check_layers.cmake)
set(FCNET_LAYERS_BAD ${CMAKE_CURRENT_BINARY_DIR}/layers_bad)
file(WRITE ${FCNET_LAYERS_BAD}/src/core/bad.cpp
     "#include \"fcnet/trainer.hpp\"\n#include \"train/history.hpp\"\n")
add_test(NAME layers_check_fails COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${FCNET_LAYERS_BAD} -P
                                         ${CMAKE_SOURCE_DIR}/cmake/check_layers.cmake)
set_tests_properties(
  layers_check_fails
  PROPERTIES PASS_REGULAR_EXPRESSION
             "src/core/bad.cpp: includes \"fcnet/trainer.hpp\" of layer train.*src/core/bad.cpp: includes \"train/history.hpp\" of layer train")
