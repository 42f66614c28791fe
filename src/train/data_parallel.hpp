// Pieces of data-parallel training that the trainer calls at its few points of contact with the
// other ranks (see DataParallel in fcnet/trainer.hpp). With no Collective they are not used.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "fcnet/data.hpp"
#include "fcnet/trainer.hpp"

namespace fcnet::detail {

// This rank's share of a data set split over the ranks in rank order: global examples
// [first, first + count) of `total`. A single process holds {nullptr, n, 0, n}.
struct Shard {
  Collective* comm = nullptr;
  int64_t total = 0;
  int64_t first = 0;
  int64_t count = 0;

  bool owns(int64_t g) const { return g >= first && g < first + count; }
};

// The shard of `data` described by `par` (checked for consistency), or the whole of it.
Shard make_shard(const DataParallel& par, const Dataset& data);

// The part of the sorted global index list `sorted` that this rank holds, as local row indices,
// and (when `out` is given) the shard it forms within that list (the list's positions are the new
// global indices).
std::vector<int64_t> restrict_to(const std::vector<int64_t>& sorted, const Shard& s,
                                 Shard* out = nullptr);

// Fills loss (loss_sum / n), accuracy and per-class accuracy of r from its n and confusion matrix.
void finish_eval(EvalResult& r, double loss_sum);

// Largest of v over the ranks.
int64_t max_over(Collective& comm, int64_t v);
// Sum of v over the ranks.
int64_t sum_over(Collective& comm, int64_t v);

// Turns a rank's evaluation of its share into the evaluation of the whole set: loss, accuracy,
// confusion and per-class accuracy summed over the ranks.
void combine_eval(Collective& comm, EvalResult& r);

// Called at the end of every epoch: checks that the parameters are bit-identical on every rank
// (throws fcnet::Error otherwise, naming the epoch) and returns whether any rank asks to stop.
bool end_epoch_agreement(Collective& comm, const void* params, std::size_t bytes, bool stop,
                         int64_t epoch);

// Every rank's `mine` (its length may differ from rank to rank), concatenated in rank order, on
// every rank; `lengths` (when given) receives each rank's length.
std::vector<double> all_gather(Collective& comm, const std::vector<double>& mine,
                               std::vector<int64_t>* lengths = nullptr);

// The validation set's class probabilities (this rank's rows `local`, N_r×C) and labels of all
// ranks, stacked in rank order: the whole set's, the same on every rank, for metrics that do not
// add up over shares (ROC AUC).
void gather_scores(Collective& comm, const Matrix<double>& local,
                   const std::vector<int32_t>& labels, Matrix<double>& all,
                   std::vector<int32_t>& all_labels);

// A device's identity (a CUDA device's 16-byte UUID).
using DeviceId = std::array<unsigned char, 16>;

// The device rank `rank` trains on when the machine has `device_count` of them: rank mod count,
// so the ranks of one machine spread over its devices and share them when there are more ranks.
int device_for_rank(int rank, int device_count);

// Whether no two of the ids are the same.
bool all_distinct(const std::vector<DeviceId>& ids);

// Whether every rank has a device of its own (`mine` is this rank's): the same answer on every
// rank, from every rank's id.
bool every_rank_has_own_device(Collective& comm, const DeviceId& mine);

}  // namespace fcnet::detail
