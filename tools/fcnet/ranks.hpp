// The processes of one fcnet command: every rank of MPI_COMM_WORLD when an MPI launcher (mpirun,
// mpiexec, srun) started fcnet and it was built with MPI (FCNET_MPI), else this process alone.
// See docs/mpi.md.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cli.hpp"
#include "fcnet/error.hpp"
#include "fcnet/mpi.hpp"
#include "fcnet/trainer.hpp"

namespace fcnet::cli {

// An error that every rank raises in the same way (a data load the ranks agreed has failed, a
// mismatch between the ranks' data): rank 0 alone reports it, and every rank exits with code 1.
class AgreedError : public Error {
 public:
  using Error::Error;
};

class Ranks {
 public:
  Ranks();   // joins MPI when started by an MPI launcher
  ~Ranks();  // leaves MPI
  Ranks(const Ranks&) = delete;
  Ranks& operator=(const Ranks&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool leader() const { return rank_ == 0; }  // the rank that logs and writes files
  bool mpi() const { return mpi_; }           // running under MPI (with any number of ranks)

  // Loads this rank's share of the training data named by `o` and agrees with all ranks that
  // every share loaded and fits the others (throws AgreedError on every rank when not):
  //  - "a,b,c": a list of shard files (with a matching --labels list when labels are separate),
  //    split over the ranks in order, each rank concatenating its consecutive run of them; one
  //    process reads them all;
  //  - a name with "{rank}" (and optionally "{size}"): each rank reads its own file;
  //  - any other source: each rank reads it and keeps its slice [r·N/K, (r+1)·N/K).
  // CSV class names are merged over the shards (sorted, as one file holding them all would be).
  Dataset load_share(const DataOptions& o, const std::string& split);

  // What train() needs to combine the ranks (its comm is null when not under MPI); valid after
  // load_share.
  DataParallel parallel();
  int64_t total_examples() const { return total_; }  // over all ranks, after load_share
  double sum_seconds() const;                        // time spent combining values so far

 private:
  bool mpi_ = false;
  int rank_ = 0;
  int size_ = 1;
  int64_t total_ = 0;
  int64_t first_ = 0;
};

// Shard sources of `text` for this rank: the list, the placeholder name or the one source, with
// the part of them that rank `rank` of `size` reads (see Ranks::load_share). `slice` is set when
// the rank must keep only its slice of the one source. Exposed for tests.
struct ShareSpec {
  std::vector<std::string> data;    // files this rank reads, in order
  std::vector<std::string> labels;  // matching label files (empty when none)
  bool slice = false;
};
ShareSpec share_spec(const DataOptions& o, int rank, int size);

// Concatenates data sets in order (same width; uint8 with uint8, floats widened to the wider
// type), merging CSV class names as one file holding them all would.
Dataset concat_datasets(std::vector<Dataset> parts, const std::string& source);

// Runs a command's body with its ranks. Alone (or as the one rank of mpirun -np 1) errors pass
// through unchanged. With several ranks, usage errors and AgreedErrors are reported by rank 0 and
// every rank exits with their code; any other error is printed by the rank that raised it,
// naming the rank, and MPI_Abort ends every rank at once.
Runner with_ranks(std::function<int(Ranks&)> body);

}  // namespace fcnet::cli
