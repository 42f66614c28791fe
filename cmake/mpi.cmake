# Data-parallel training on MPI (FCNET_MPI, on by default when find_package(MPI) finds a C++ MPI,
# e.g. Debian's libopenmpi-dev). fcnet_mpi (src/mpi/, include/fcnet/mpi.hpp) joins MPI_COMM_WORLD
# when mpirun/mpiexec/srun started the process and gives the trainer a Collective over it; the
# command line (tools/fcnet/ranks.cpp) and the Python module (data_parallel=True) link it. The
# core library and the C API stay free of MPI, and the same binaries also run as one plain
# process. Without FCNET_MPI, fcnet_mpi is built without MPI and refuses several ranks. See
# docs/mpi.md.
add_library(fcnet_mpi STATIC ${CMAKE_SOURCE_DIR}/src/mpi/mpi_world.cpp)
target_link_libraries(fcnet_mpi PUBLIC fcnet PRIVATE fcnet_warnings)
if(FCNET_MPI)
  find_package(MPI REQUIRED COMPONENTS CXX)
  target_link_libraries(fcnet_mpi PUBLIC MPI::MPI_CXX)
  # The C API only: the deprecated C++ bindings do not compile cleanly under -Werror.
  target_compile_definitions(fcnet_mpi PUBLIC FCNET_HAVE_MPI=1 OMPI_SKIP_MPICXX=1
                                              MPICH_SKIP_MPICXX=1)
endif()
