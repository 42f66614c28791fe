// Data-parallel training over the processes an MPI launcher (mpirun, mpiexec, srun) started: the
// world of ranks as a Collective for train() (TrainCallbacks::parallel), each rank's share of a
// data set, and the end of every rank when one fails. Its own library, fcnet_mpi (cmake/mpi.cmake),
// so that the core library and the C API link no MPI; the command line and the Python module use
// it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fcnet/collective.hpp"
#include "fcnet/trainer.hpp"

namespace fcnet {

// The ranks an MPI launcher started this process among (from its environment), or 0 when none did.
int mpi_launcher_size();

// MPI_COMM_WORLD as a Collective: joins MPI on the first call (only the calling thread calls MPI
// later) and leaves it at exit (or at mpi_finalize). Null in a process that no launcher started.
// Throws fcnet::Error when a launcher started several ranks of a build without MPI.
Collective* mpi_world();

// Leaves MPI (waiting for every rank); later calls, and those in a process that never joined,
// do nothing.
void mpi_finalize();

// Whether this process has joined MPI (and not left it).
bool mpi_joined();

// Seconds the world's sums took so far.
double mpi_seconds();

// What train() needs when this rank holds `rows` consecutive examples of a data set split over the
// ranks in rank order: the total over the ranks and where this rank's rows start.
DataParallel rank_share(Collective& comm, int64_t rows);

// Every rank's `mine`, in rank order, on every rank (a world of one: {mine}).
std::vector<std::string> mpi_all_gather(const std::string& mine);

// Prints "fcnet: error: rank R of K: <message>" on stderr and ends every rank's process with
// `code` (MPI_Abort), so that no rank waits for one that failed.
[[noreturn]] void mpi_abort_all(const std::string& message, int code = 1);

}  // namespace fcnet
