# Data-parallel training under mpirun (FCNET_MPI): the Mpi.* cases of fcnet_tests run
# `mpirun -np 2|3 fcnet train` against one process, and mpi_killed_rank kills a rank mid-training.
# Without MPI the Mpi.* cases report themselves skipped.
if(FCNET_MPI)
  target_compile_definitions(fcnet_tests PRIVATE FCNET_MPIEXEC="${MPIEXEC_EXECUTABLE}")
  add_test(NAME mpi_killed_rank
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/mpi_killed_rank.sh $<TARGET_FILE:fcnet_cli>
                   ${MPIEXEC_EXECUTABLE})
  set_tests_properties(mpi_killed_rank PROPERTIES TIMEOUT 90 LABELS mpi)
endif()
