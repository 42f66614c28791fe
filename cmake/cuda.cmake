# CUDA backend (FCNET_CUDA=ON): src/cuda/ built into the object library fcnet_cuda, whose objects
# go into the training layer, fcnet_train (its engine is one of the training loop's);
# FCNET_HAVE_CUDA tells the library, the CLI and the tests that it is there.
# Device code for Hopper (sm_90) plus compute_90 PTX, which the driver compiles for newer GPUs.
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
  set(CMAKE_CUDA_ARCHITECTURES "90-real;90-virtual")
endif()
enable_language(CUDA)
find_package(CUDAToolkit REQUIRED)

file(GLOB FCNET_CUDA_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/cuda/*.cu
     ${CMAKE_SOURCE_DIR}/src/cuda/*.cpp)
list(FILTER FCNET_CUDA_SOURCES EXCLUDE REGEX "/unavailable\\.cpp$")

add_library(fcnet_cuda OBJECT ${FCNET_CUDA_SOURCES})
# CMake 3.25 knows no C++20 dialect flag for nvcc; the .cu files are C++17 and include only
# src/cuda/ops.hpp and device.cuh, while the host .cpp files use C++20 like the rest of fcnet.
set_target_properties(fcnet_cuda PROPERTIES CUDA_STANDARD 17 CUDA_STANDARD_REQUIRED ON
                                            CUDA_EXTENSIONS OFF POSITION_INDEPENDENT_CODE ON)
target_include_directories(fcnet_cuda PRIVATE ${CMAKE_SOURCE_DIR}/include ${CMAKE_SOURCE_DIR}/src)
target_link_libraries(fcnet_cuda PRIVATE CUDA::cudart CUDA::cublasLt nlohmann_json::nlohmann_json)
target_compile_options(
  fcnet_cuda
  PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wfloat-conversion
          -Wno-sign-conversion -Wno-restrict>
          $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<BOOL:${FCNET_NATIVE}>>:-march=native>
          $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra --expt-relaxed-constexpr>)
if(FCNET_WERROR)
  target_compile_options(fcnet_cuda PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Werror>
                                            $<$<COMPILE_LANGUAGE:CUDA>:-Werror=all-warnings>)
endif()
# The optimizer rounds after every operation, as the CPU loop does (no contraction into FMA), so
# the two can be compared to the last bit.
set_source_files_properties(${CMAKE_SOURCE_DIR}/src/cuda/optimizer.cu PROPERTIES COMPILE_OPTIONS
                                                                                 "--fmad=false")

# NCCL, when the toolkit (or the system) has it, sums the gradients of data-parallel ranks that
# each have a GPU of their own; without it such ranks sum through the host (MPI), as ranks that
# share a GPU always do.
# -DFCNET_NCCL=OFF leaves it out even where it is found.
if(FCNET_NCCL)
  find_path(FCNET_NCCL_INCLUDE_DIR nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS}
            ${CUDAToolkit_LIBRARY_ROOT} PATH_SUFFIXES include)
  find_library(FCNET_NCCL_LIBRARY nccl HINTS ${CUDAToolkit_LIBRARY_DIR} ${CUDAToolkit_LIBRARY_ROOT}
               PATH_SUFFIXES lib lib64)
endif()
if(FCNET_NCCL AND FCNET_NCCL_INCLUDE_DIR AND FCNET_NCCL_LIBRARY)
  message(STATUS "fcnet: NCCL found (${FCNET_NCCL_LIBRARY}): ranks with a GPU each sum through it")
  target_include_directories(fcnet_cuda PRIVATE ${FCNET_NCCL_INCLUDE_DIR})
  target_compile_definitions(fcnet_cuda PRIVATE FCNET_HAVE_NCCL=1)
  target_link_libraries(fcnet_train PRIVATE ${FCNET_NCCL_LIBRARY})
else()
  message(STATUS "fcnet: no NCCL (not found, or FCNET_NCCL=OFF): CUDA ranks sum their "
                 "gradients through the host collective only")
endif()

target_sources(fcnet_train PRIVATE $<TARGET_OBJECTS:fcnet_cuda>)
target_link_libraries(fcnet_train PRIVATE CUDA::cudart CUDA::cublasLt)
target_compile_definitions(fcnet_train PUBLIC FCNET_HAVE_CUDA)
