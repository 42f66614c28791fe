# The layers of the library, from the bottom up. Each is the static library fcnet_<layer>, built
# from the sources of its folders under src/; it owns the public headers named here
# (include/fcnet/<name>.hpp) and builds on the layers it USES and on what those build on, never on
# a layer above. The `fcnet` target is all of them; the C API (api: cmake/capi.cmake builds it into
# libfcnet.so) sits above them all.
#
# Two things keep an include from running up a layer: a layer's sources see the private headers
# (src/<folder>/*.hpp, included as "folder/name.hpp") of its own folders and of the layers below
# only, and the ctest `layers` (cmake/check_layers.cmake) checks every include of src/ and
# include/fcnet/ against this table. A new folder or public header goes into the table.
set(FCNET_LAYERS core kernels nn data io train report)

# Tensors, errors, generators, threads, the activation functions, the CPU's description, UTF-8
# and JSON text, and the interface of a data-parallel run's processes.
set(FCNET_LAYER_core_DIRS core)
set(FCNET_LAYER_core_HEADERS activation collective cpu error precision random tensor text)
set(FCNET_LAYER_core_USES "")

# The CPU kernels: the reference loops and the fast ones (oneDNN GEMM, fused elementwise).
set(FCNET_LAYER_kernels_DIRS cpu)
set(FCNET_LAYER_kernels_HEADERS kernels)
set(FCNET_LAYER_kernels_USES core)

# The network's forward and backward passes, the optimizers, the schedules, the gradient check.
set(FCNET_LAYER_nn_DIRS nn)
set(FCNET_LAYER_nn_HEADERS gradcheck network optim optimizer_kind schedule)
set(FCNET_LAYER_nn_USES kernels)

# Data sets: the readers (IDX, CSV, NPY), column roles and the input transform.
set(FCNET_LAYER_data_DIRS data)
set(FCNET_LAYER_data_HEADERS data)
set(FCNET_LAYER_data_USES core)

# The model (a network with its input transform) and its files: safetensors, ONNX export.
set(FCNET_LAYER_io_DIRS io)
set(FCNET_LAYER_io_HEADERS model model_io onnx)
set(FCNET_LAYER_io_USES nn data)

# Training: the one loop, its engines (the CPU's here, the CUDA one in src/cuda, built by
# cmake/cuda.cmake), the option table, checkpoints, shards over ranks, history, metrics.
set(FCNET_LAYER_train_DIRS train cuda)
set(FCNET_LAYER_train_HEADERS checkpoint cuda metrics step_engine train_options trainer)
set(FCNET_LAYER_train_USES io)

# The HTML training report and the worked example.
set(FCNET_LAYER_report_DIRS report)
set(FCNET_LAYER_report_HEADERS explain report training_report)
set(FCNET_LAYER_report_USES train)

# Data-parallel runs over MPI's ranks: a library of its own (fcnet_mpi, cmake/mpi.cmake), linked by
# the command line and the Python module, so that the layers above and the C API link no MPI.
set(FCNET_LAYER_mpi_DIRS mpi)
set(FCNET_LAYER_mpi_HEADERS mpi)
set(FCNET_LAYER_mpi_USES train)

set(FCNET_LAYER_api_DIRS capi)
set(FCNET_LAYER_api_HEADERS fcnet fcnet_version)
set(FCNET_LAYER_api_USES report)

# Every layer `layer` builds on, directly or through another, into `out`.
function(fcnet_layers_below layer out)
  set(below "")
  foreach(used ${FCNET_LAYER_${layer}_USES})
    fcnet_layers_below(${used} deeper)
    list(APPEND below ${used} ${deeper})
  endforeach()
  list(REMOVE_DUPLICATES below)
  set(${out} "${below}" PARENT_SCOPE)
endfunction()

# The libraries fcnet_<layer> and the umbrella `fcnet`. A layer's private include folder,
# ${CMAKE_BINARY_DIR}/layers/<layer>, holds links to its own folders of src/ and to those of the
# layers below, and to nothing else.
function(fcnet_add_layers)
  set(targets "")
  foreach(layer ${FCNET_LAYERS})
    fcnet_layers_below(${layer} below)
    set(view ${CMAKE_BINARY_DIR}/layers/${layer})
    file(REMOVE_RECURSE ${view})  # removes the links, not what they point to
    file(MAKE_DIRECTORY ${view})
    set(sources "")
    foreach(seen ${layer} ${below})
      foreach(dir ${FCNET_LAYER_${seen}_DIRS})
        file(CREATE_LINK ${CMAKE_SOURCE_DIR}/src/${dir} ${view}/${dir} SYMBOLIC)
      endforeach()
    endforeach()
    foreach(dir ${FCNET_LAYER_${layer}_DIRS})
      file(GLOB found CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/${dir}/*.cpp)
      list(APPEND sources ${found})
    endforeach()
    list(FILTER sources EXCLUDE REGEX "/src/cuda/")  # cmake/cuda.cmake, or unavailable.cpp
    add_library(fcnet_${layer} STATIC ${sources})
    target_include_directories(fcnet_${layer} PRIVATE ${view})
    target_link_libraries(fcnet_${layer} PRIVATE fcnet_warnings nlohmann_json::nlohmann_json)
    foreach(used ${FCNET_LAYER_${layer}_USES})
      target_link_libraries(fcnet_${layer} PUBLIC fcnet_${used})
    endforeach()
    list(PREPEND targets fcnet_${layer})
  endforeach()
  add_library(fcnet INTERFACE)
  target_link_libraries(fcnet INTERFACE ${targets})
endfunction()
