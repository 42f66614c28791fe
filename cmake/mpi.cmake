# Data-parallel training on MPI (FCNET_MPI, on by default when find_package(MPI) finds a C++ MPI,
# e.g. Debian's libopenmpi-dev). Only the fcnet command line links MPI: it joins MPI_COMM_WORLD
# when mpirun/mpiexec/srun started it and gives the trainer a Collective over it
# (tools/fcnet/ranks.cpp). The library and the Python module stay free of MPI, and the same binary
# also runs as one plain process. See docs/mpi.md.
find_package(MPI REQUIRED COMPONENTS CXX)

# This file is included before the CLI target exists; attach MPI once the directory is processed.
function(fcnet_link_mpi)
  target_link_libraries(fcnet_cli PRIVATE MPI::MPI_CXX)
  # The C API only: the deprecated C++ bindings do not compile cleanly under -Werror.
  target_compile_definitions(fcnet_cli PRIVATE FCNET_HAVE_MPI=1 OMPI_SKIP_MPICXX=1
                                               MPICH_SKIP_MPICXX=1)
endfunction()
cmake_language(DEFER CALL fcnet_link_mpi)
