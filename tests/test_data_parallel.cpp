// Data-parallel training in one process: K threads, each a rank holding a consecutive slice of the
// data set, combined by a Collective that sums in rank order. The single-process trainer on the
// whole set is the reference: same batches, so the same trajectory up to float addition order.
#include <array>
#include <atomic>
#include <barrier>
#include <cstring>
#include <exception>
#include <numeric>
#include <string>
#include <thread>
#include <type_traits>

#include "fcnet/trainer.hpp"
#include "test_util.hpp"
#include "thread_ranks.hpp"
#include "train/data_parallel.hpp"

using namespace fcnet;
using namespace fcnet::test;

namespace {

// N×D float features with class-dependent means, sorted by label so that the ranks' slices hold
// different classes (the last rank alone holds the highest).
Dataset make_data(int64_t n, int64_t d, int classes, uint64_t seed, DType type = DType::f32) {
  Rng rng(seed);
  std::vector<int32_t> y(static_cast<std::size_t>(n));
  for (auto& v : y) v = static_cast<int32_t>(rng.below(static_cast<uint64_t>(classes)));
  std::sort(y.begin(), y.end());
  Dataset ds;
  ds.n = n;
  ds.d = d;
  ds.dtype = type;
  ds.labels = y;
  ds.source = "synthetic";
  ds.bytes.resize(static_cast<std::size_t>(n * d) * dtype_size(type));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) {
      const double v = 3.0 + 0.8 * rng.normal() + ((j % classes) == y[i] ? 1.5 : 0.0);
      const std::size_t k = static_cast<std::size_t>(i * d + j);
      if (type == DType::f32)
        reinterpret_cast<float*>(ds.bytes.data())[k] = static_cast<float>(v);
      else
        reinterpret_cast<double*>(ds.bytes.data())[k] = v;
    }
  // One constant column: standardization must map it to 0 on every rank alike.
  for (int64_t i = 0; i < n; ++i) {
    const std::size_t k = static_cast<std::size_t>(i * d + d - 1);
    if (type == DType::f32)
      reinterpret_cast<float*>(ds.bytes.data())[k] = 2.5f;
    else
      reinterpret_cast<double*>(ds.bytes.data())[k] = 2.5;
  }
  return ds;
}

Dataset slice(const Dataset& all, int64_t lo, int64_t hi) {
  std::vector<int64_t> idx(static_cast<std::size_t>(hi - lo));
  std::iota(idx.begin(), idx.end(), lo);
  return all.subset(idx);
}

struct RankRun {
  std::vector<TrainResult> res;
  std::vector<int64_t> calls;
};

// Trains on `all` split over k thread-ranks; `stop_rank` (when >= 0) has its stop flag set from
// the start.
RankRun train_ranks(const Dataset& all, int k, const TrainConfig& cfg, int stop_rank = -1) {
  Group g(k);
  RankRun out;
  out.res.resize(static_cast<std::size_t>(k));
  out.calls.resize(static_cast<std::size_t>(k));
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(k));
  std::vector<std::thread> threads;
  for (int r = 0; r < k; ++r)
    threads.emplace_back([&, r] {
      try {
        set_num_threads(1);
        const int64_t lo = all.n * r / k, hi = all.n * (r + 1) / k;
        Dataset part = slice(all, lo, hi);
        ThreadCollective comm(g, r);
        std::atomic<bool> stop{r == stop_rank};
        TrainCallbacks cb;
        cb.stop = &stop;
        cb.parallel = {&comm, all.n, lo};
        out.res[static_cast<std::size_t>(r)] = train(part, nullptr, cfg, cb);
        out.calls[static_cast<std::size_t>(r)] = comm.calls;
      } catch (...) {
        errors[static_cast<std::size_t>(r)] = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
  return out;
}

TrainResult train_alone(const Dataset& all, const TrainConfig& cfg) {
  set_num_threads(1);
  return train(all, nullptr, cfg);
}

template <class T>
double max_param_diff(const Model& a, const Model& b) {
  const Network<T>& x = a.net<T>();
  const Network<T>& y = b.net<T>();
  EXPECT_EQ(x.buffer_size(), y.buffer_size());
  double m = 0;
  for (int64_t i = 0; i < x.buffer_size(); ++i)
    m = std::max(m, std::abs(static_cast<double>(x.params()[i]) - y.params()[i]));
  return m;
}

TrainConfig small_config() {
  TrainConfig cfg;
  cfg.hidden = {16, 8};
  cfg.batch = 32;
  cfg.epochs = 8;
  cfg.seed = 7;
  cfg.optimizer.kind = OptimizerKind::adam;
  cfg.schedule.lr = 1e-2;
  cfg.reg = 1e-3;
  cfg.val_split = 0.2;
  return cfg;
}

// One rank of a run that is expected to fail: its data, where they sit among all the ranks' data,
// the total it is told, and a skew for its float sums (see ThreadCollective).
struct RankSpec {
  Dataset data;
  int64_t first = 0;
  int64_t total = 0;
  float skew = 0.0f;
};

// Trains small_config() on one thread-rank per spec and returns each rank's error message, or
// "trained" for a rank whose training finished.
std::vector<std::string> rank_errors(const std::vector<RankSpec>& ranks) {
  const int k = static_cast<int>(ranks.size());
  Group g(k);
  std::vector<std::string> errors(ranks.size());
  std::vector<std::thread> threads;
  for (int r = 0; r < k; ++r)
    threads.emplace_back([&, r] {
      set_num_threads(1);
      const RankSpec& spec = ranks[static_cast<std::size_t>(r)];
      ThreadCollective comm(g, r);
      comm.skew = spec.skew;
      TrainCallbacks cb;
      cb.parallel = {&comm, spec.total, spec.first};
      try {
        train(spec.data, nullptr, small_config(), cb);
        errors[static_cast<std::size_t>(r)] = "trained";
      } catch (const Error& e) {
        errors[static_cast<std::size_t>(r)] = e.what();
      }
    });
  for (auto& t : threads) t.join();
  return errors;
}

}  // namespace

TEST(DataParallel, ThreeAndTwoRanksFollowTheSingleProcessTrajectory) {
  const Dataset all = make_data(203, 12, 4, 11);
  const TrainConfig cfg = small_config();
  const TrainResult ref = train_alone(all, cfg);
  ASSERT_EQ(ref.epochs.size(), 8u);
  // Training must have moved the weights for the comparison to mean anything.
  EXPECT_GT(ref.epochs.back().train_accuracy, 0.6);
  EXPECT_GT(ref.epochs.back().val_accuracy, 0.6);
  for (int k : {2, 3}) {
    RankRun run = train_ranks(all, k, cfg);
    for (int r = 0; r < k; ++r) {
      const TrainResult& got = run.res[static_cast<std::size_t>(r)];
      EXPECT_LT(max_param_diff<float>(got.model, ref.model), 2e-5) << "K=" << k << " rank " << r;
      EXPECT_EQ(got.steps, ref.steps);
      EXPECT_EQ(got.train_examples, ref.train_examples);
      EXPECT_EQ(got.val_examples, ref.val_examples);
      EXPECT_EQ(got.best_epoch, ref.best_epoch);
      ASSERT_EQ(got.epochs.size(), ref.epochs.size());
      for (std::size_t e = 0; e < ref.epochs.size(); ++e) {
        EXPECT_NEAR(got.epochs[e].train_loss, ref.epochs[e].train_loss, 1e-5);
        EXPECT_NEAR(got.epochs[e].train_accuracy, ref.epochs[e].train_accuracy, 1e-12);
        EXPECT_NEAR(got.epochs[e].val_loss, ref.epochs[e].val_loss, 1e-5);
        EXPECT_NEAR(got.epochs[e].val_accuracy, ref.epochs[e].val_accuracy, 1e-12);
        EXPECT_NEAR(got.epochs[e].grad_norms[0], ref.epochs[e].grad_norms[0],
                    1e-4 * ref.epochs[e].grad_norms[0]);
      }
      // The standardization was fitted on all ranks' training rows together.
      const InputTransform &t = got.model.transform, &u = ref.model.transform;
      ASSERT_EQ(t.mean.size(), u.mean.size());
      for (std::size_t j = 0; j < u.mean.size(); ++j) {
        EXPECT_NEAR(t.mean[j], u.mean[j], 1e-12);
        EXPECT_NEAR(t.std[j], u.std[j], 1e-12);
      }
      EXPECT_EQ(t.std.back(), 1.0);  // the constant column
      EXPECT_NE(got.model.training_json.find("\"ranks\":" + std::to_string(k)), std::string::npos);
    }
    // Every rank holds the very same model.
    for (int r = 1; r < k; ++r)
      EXPECT_EQ(max_param_diff<float>(run.res[static_cast<std::size_t>(r)].model, run.res[0].model),
                0.0);
  }
}

TEST(DataParallel, DoublePrecisionAgreesToRounding) {
  const Dataset all = make_data(150, 9, 3, 5, DType::f64);
  TrainConfig cfg = small_config();
  cfg.f64 = true;
  cfg.optimizer.kind = OptimizerKind::momentum;
  cfg.schedule.lr = 0.05;
  const TrainResult ref = train_alone(all, cfg);
  RankRun run = train_ranks(all, 3, cfg);
  EXPECT_LT(max_param_diff<double>(run.res[1].model, ref.model), 1e-12);
  EXPECT_NEAR(run.res[1].epochs.back().train_loss, ref.epochs.back().train_loss, 1e-13);
}

TEST(DataParallel, RanksWithoutRowsInABatchStillTakeTheStep) {
  // Batch 2 over 3 ranks: in most steps some rank holds none of the batch's rows.
  const Dataset all = make_data(41, 6, 3, 3);
  TrainConfig cfg = small_config();
  cfg.batch = 2;
  cfg.epochs = 2;
  cfg.val_split = 0;
  cfg.optimizer.kind = OptimizerKind::sgd;
  cfg.schedule.kind = ScheduleKind::constant;
  cfg.schedule.lr = 0.05;
  const TrainResult ref = train_alone(all, cfg);
  RankRun run = train_ranks(all, 3, cfg);
  EXPECT_EQ(run.res[2].steps, 42);
  EXPECT_LT(max_param_diff<float>(run.res[2].model, ref.model), 1e-5);
  // Exchanges, counted: set-up 6 (the shard's consistency 2, the class count 1, standardisation
  // 3), then per step the gradients and the loss/hits/stop statistics (2 × 42), and per epoch
  // the parameter-hash agreement (1 × 2).
  EXPECT_EQ(run.calls[0], 6 + 2 * 42 + 2);
}

TEST(DataParallel, RerunsAreBitIdentical) {
  const Dataset all = make_data(120, 10, 3, 9);
  TrainConfig cfg = small_config();
  cfg.dropout = 0.2;  // drawn per rank, from seeds that depend only on seed and rank
  RankRun a = train_ranks(all, 3, cfg), b = train_ranks(all, 3, cfg);
  const Network<float>& x = a.res[0].model.net32;
  const Network<float>& y = b.res[0].model.net32;
  EXPECT_EQ(std::memcmp(x.params(), y.params(), sizeof(float) * x.buffer_size()), 0);
  EXPECT_EQ(a.res[0].epochs.back().train_loss, b.res[0].epochs.back().train_loss);
}

TEST(DataParallel, AStopRequestOnOneRankStopsEveryRankAtTheSameStep) {
  const Dataset all = make_data(100, 5, 2, 1);
  TrainConfig cfg = small_config();
  cfg.val_split = 0;
  RankRun run = train_ranks(all, 2, cfg, 1);
  for (const auto& r : run.res) {
    EXPECT_EQ(r.steps, 1);
    EXPECT_TRUE(r.interrupted);
  }
}

TEST(DataParallel, MismatchedWidthsFailOnEveryRank) {
  const Dataset all = make_data(60, 5, 2, 1);
  for (const auto& e :
       rank_errors({{slice(all, 0, 30), 0, 60}, {slice(make_data(60, 6, 2, 1), 30, 60), 30, 60}}))
    EXPECT_NE(e.find("between 5 and 6 features"), std::string::npos) << e;
}

// Ranks whose ranges overlap and leave a gap, where the counts still sum to the total and the
// ranges still start at 0 and end at the total; and ranks that disagree on the total. Every rank
// must fail with the same message, before any training.
namespace {
std::vector<std::string> shard_errors(const std::vector<std::array<int64_t, 3>>& ranges) {
  const Dataset all = make_data(10, 4, 2, 3);
  std::vector<RankSpec> ranks;
  for (const auto& [lo, hi, total] : ranges) ranks.push_back({slice(all, lo, hi), lo, total});
  return rank_errors(ranks);
}
}  // namespace

TEST(DataParallel, OverlappingOrDisagreeingRangesFailOnEveryRank) {
  // [0, 4), [2, 5), [7, 10) of 10: counts 4 + 3 + 3 = 10, first 0, last end 10.
  for (const auto& e : shard_errors({{0, 4, 10}, {2, 5, 10}, {7, 10, 10}}))
    EXPECT_NE(e.find("rank 1's examples start at 2, while rank 0's end at 4"), std::string::npos)
        << e;
  for (const auto& e : shard_errors({{0, 5, 10}, {5, 10, 12}}))
    EXPECT_NE(e.find("totals between 10 and 12 examples"), std::string::npos) << e;
  for (const auto& e : shard_errors({{0, 5, 12}, {5, 10, 12}}))
    EXPECT_NE(e.find("hold 10 examples in all, while the split names 12"), std::string::npos) << e;
}

TEST(DataParallel, SumsThatDifferBetweenRanksEndTheRunOnEveryRank) {
  // Rank 1's gradient sums are off by 1e-3 in one entry, so its parameters drift from rank 0's:
  // the end-of-epoch comparison must stop both ranks with the same error after epoch 1.
  const Dataset all = make_data(60, 5, 2, 1);
  for (const auto& e :
       rank_errors({{slice(all, 0, 30), 0, 60}, {slice(all, 30, 60), 30, 60, 1e-3f}}))
    EXPECT_NE(e.find("the parameters differ between ranks after epoch 1"), std::string::npos) << e;
}

TEST(DataParallel, SplitOfASortedIndexListKeepsEachRanksPart) {
  const std::vector<int64_t> sorted = {0, 2, 3, 7, 8, 9, 12};
  detail::Shard s{nullptr, 13, 3, 6}, out;  // this rank holds global 3..8
  const std::vector<int64_t> local = detail::restrict_to(sorted, s, &out);
  EXPECT_EQ(local, (std::vector<int64_t>{0, 4, 5}));  // 3, 7, 8 relative to 3
  EXPECT_EQ(out.total, 7);
  EXPECT_EQ(out.first, 2);  // position of 3 in the list
  EXPECT_EQ(out.count, 3);
}

TEST(DataParallel, BroadcastCopiesTheRootsBytesToEveryRank) {
  std::vector<std::array<unsigned char, 5>> got(3);
  on_ranks(3, [&](Collective& c) {
    std::array<unsigned char, 5> b{};
    for (std::size_t i = 0; i < b.size(); ++i)
      b[i] = static_cast<unsigned char>(10 * c.rank() + static_cast<int>(i));
    c.broadcast(b.data(), static_cast<int64_t>(b.size()), 1);
    got[static_cast<std::size_t>(c.rank())] = b;
  });
  for (const auto& b : got) EXPECT_EQ(b, (std::array<unsigned char, 5>{10, 11, 12, 13, 14}));
}

// The validation scores of ranks holding 3, 0 and 2 rows: every rank gets all 5, in rank order.
TEST(DataParallel, GatheredScoresAreEveryRanksRowsInRankOrder) {
  const std::array<int64_t, 3> rows = {3, 0, 2};
  std::vector<Matrix<double>> all(3);
  std::vector<std::vector<int32_t>> labels(3);
  on_ranks(3, [&](Collective& c) {
    const auto r = static_cast<std::size_t>(c.rank());
    int64_t first = 0;
    for (std::size_t q = 0; q < r; ++q) first += rows[q];
    Matrix<double> mine(rows[r], 2);
    std::vector<int32_t> y;
    for (int64_t i = 0; i < rows[r]; ++i) {
      mine(i, 0) = 0.25 * static_cast<double>(first + i);
      mine(i, 1) = -0.5 - static_cast<double>(first + i);
      y.push_back(static_cast<int32_t>((first + i) % 2));
    }
    detail::gather_scores(c, mine, y, all[r], labels[r]);
  });
  for (std::size_t r = 0; r < 3; ++r) {
    ASSERT_EQ(all[r].rows(), 5) << r;
    ASSERT_EQ(all[r].cols(), 2) << r;
    EXPECT_EQ(labels[r], (std::vector<int32_t>{0, 1, 0, 1, 0})) << r;
    for (int64_t i = 0; i < 5; ++i) {
      EXPECT_EQ(all[r](i, 0), 0.25 * static_cast<double>(i)) << r;
      EXPECT_EQ(all[r](i, 1), -0.5 - static_cast<double>(i)) << r;
    }
  }
}

// --monitor val_roc_auc on ranks scores the whole validation set (every rank's share gathered),
// so the kept epoch and the weights are those of one process.
TEST(DataParallel, RocAucMonitorOnRanksFollowsTheSingleProcessRun) {
  const Dataset all = make_data(203, 12, 3, 13);
  TrainConfig cfg = small_config();
  cfg.monitor = Monitor::val_roc_auc;
  cfg.schedule.lr = 3e-2;  // large steps: the score goes up and down, so the kept epoch matters
  cfg.epochs = 10;
  const TrainResult ref = train_alone(all, cfg);
  for (int k : {2, 3}) {
    RankRun run = train_ranks(all, k, cfg);
    for (int r = 0; r < k; ++r) {
      const TrainResult& got = run.res[static_cast<std::size_t>(r)];
      EXPECT_EQ(got.best_epoch, ref.best_epoch) << "K=" << k << " rank " << r;
      EXPECT_EQ(got.epochs.size(), ref.epochs.size()) << "K=" << k;
      EXPECT_LT(max_param_diff<float>(got.model, ref.model), 2e-5) << "K=" << k << " rank " << r;
    }
  }
}

TEST(DataParallel, RankDevicesAreRankModCountAndOwnedOnlyWhenAllDiffer) {
  EXPECT_EQ(detail::device_for_rank(0, 1), 0);
  EXPECT_EQ(detail::device_for_rank(3, 1), 0);
  EXPECT_EQ(detail::device_for_rank(0, 4), 0);
  EXPECT_EQ(detail::device_for_rank(5, 4), 1);
  EXPECT_EQ(detail::device_for_rank(7, 8), 7);
  EXPECT_THROW(detail::device_for_rank(0, 0), Error);
  const detail::DeviceId a{1, 2, 3}, b{1, 2, 4}, c{};
  EXPECT_TRUE(detail::all_distinct({}));
  EXPECT_TRUE(detail::all_distinct({a}));
  EXPECT_TRUE(detail::all_distinct({a, b, c}));
  EXPECT_FALSE(detail::all_distinct({a, b, a}));
  // Decided over the ranks from every rank's id: the same answer everywhere. Ids differing only
  // in their last byte, or in a high bit, are different devices.
  for (bool shared : {false, true}) {
    std::array<bool, 3> own{};
    on_ranks(3, [&](Collective& comm) {
      detail::DeviceId id{};
      id.fill(0xA5);
      const int r = comm.rank();
      if (r == 1) id[15] = 0x5A;
      if (r == 2 && !shared) id[3] = 0xFF;
      own[static_cast<std::size_t>(r)] = detail::every_rank_has_own_device(comm, id);
    });
    for (bool o : own) EXPECT_EQ(o, !shared);
  }
}
