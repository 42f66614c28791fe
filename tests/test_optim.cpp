// Optimizers against torch.optim trajectories (fixtures) and schedules against hand values.
#include <cmath>

#include "fcnet/optim.hpp"
#include "fcnet/schedule.hpp"
#include "test_util.hpp"

using namespace fcnet;
using namespace fcnet::test;

TEST(Optimizer, MatchesTorchOptimForThreeSteps) {
  for (const char* name : {"sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop"}) {
    auto st = read_safetensors(fixture_path(std::string("optim_") + name + ".safetensors"));
    auto md = [&](const char* k, double dflt) {
      auto it = st.metadata.find(k);
      return it == st.metadata.end() ? dflt : std::stod(it->second);
    };
    OptimizerConfig cfg;
    cfg.kind = parse_optimizer(st.metadata.at("optimizer"));
    cfg.momentum = md("momentum", 0);
    cfg.beta1 = md("beta1", 0.9);
    cfg.beta2 = md("beta2", 0.999);
    cfg.eps = md("eps", 1e-8);
    cfg.alpha = md("alpha", 0.99);
    cfg.weight_decay = md("weight_decay", 0);
    const double lr = md("lr", 0);
    auto p = st.tensors.at("p0").to_double("p0");
    const int64_t n = static_cast<int64_t>(p.size());
    Optimizer<double> opt(cfg, n, {{0, n, true}});
    for (int s = 1; s <= 3; ++s) {
      auto g = st.tensors.at("g" + std::to_string(s)).to_double("g");
      opt.step(p.data(), g.data(), lr);
      auto want = st.tensors.at("p" + std::to_string(s)).to_double("p");
      for (int64_t i = 0; i < n; ++i)
        ASSERT_NEAR(p[i], want[i], 1e-14 * (1 + std::fabs(want[i]))) << name << " step " << s;
    }
  }
}

TEST(Optimizer, L2TermAppliesToWeightsOnlyAndMatchesExplicitGradient) {
  // sgd with l2: p −= lr·(g + l2·p) on the weight range; bias range untouched by l2.
  std::vector<double> p = {1.0, -2.0, 3.0, 4.0}, g = {0.5, 0.5, 0.5, 0.5};
  Optimizer<double> opt({OptimizerKind::sgd}, 4, {{0, 2, true}, {2, 4, false}});
  opt.step(p.data(), g.data(), 0.1, 0.2);
  EXPECT_NEAR(p[0], 1.0 - 0.1 * (0.5 + 0.2 * 1.0), 1e-15);
  EXPECT_NEAR(p[1], -2.0 - 0.1 * (0.5 - 0.4), 1e-15);
  EXPECT_NEAR(p[2], 3.0 - 0.05, 1e-15);
  EXPECT_NEAR(p[3], 4.0 - 0.05, 1e-15);
}

TEST(Optimizer, FloatLargeBufferMatchesDoubleReference) {
  // The parallel path (large buffers) agrees with the double update to float rounding.
  Rng rng(3);
  const int64_t n = 200003;
  std::vector<float> p(n), g(n);
  std::vector<double> pd(n), gd(n);
  for (int64_t i = 0; i < n; ++i) {
    pd[i] = p[i] = static_cast<float>(rng.normal());
    gd[i] = g[i] = static_cast<float>(rng.normal());
  }
  Optimizer<float> of({OptimizerKind::adam}, n, {{0, n, true}});
  Optimizer<double> od({OptimizerKind::adam}, n, {{0, n, true}});
  for (int s = 0; s < 3; ++s) {
    of.step(p.data(), g.data(), 1e-3, 1e-4);
    od.step(pd.data(), gd.data(), 1e-3, 1e-4);
  }
  for (int64_t i = 0; i < n; i += 997) ASSERT_NEAR(p[i], pd[i], 1e-6 * (1 + std::fabs(pd[i])));
}

TEST(Optimizer, StepReportsNonFiniteGradients) {
  // Every optimizer, on the small (one thread) and the large (parallel) path: a finite gradient
  // buffer gives true, one NaN or Inf anywhere in a range gives false.
  for (OptimizerKind k : {OptimizerKind::sgd, OptimizerKind::momentum, OptimizerKind::nesterov,
                          OptimizerKind::adam, OptimizerKind::adamw, OptimizerKind::rmsprop})
    for (int64_t n : {int64_t{7}, int64_t{150001}}) {
      std::vector<float> p(n, 0.5f), g(n, 0.25f);
      Optimizer<float> opt({k}, n, {{0, n - 3, true}, {n - 3, n, false}});
      EXPECT_TRUE(opt.step(p.data(), g.data(), 1e-3)) << optimizer_name(k) << " " << n;
      if (k == OptimizerKind::sgd) {
        EXPECT_NEAR(p[n / 2], 0.5 - 1e-3 * 0.25, 1e-7);
      }
      for (float badv : {std::nanf(""), INFINITY, -INFINITY}) {
        std::vector<float> gb = g;
        gb[n - 1] = badv;
        EXPECT_FALSE(opt.step(p.data(), gb.data(), 1e-3)) << optimizer_name(k) << " " << n;
        gb[n - 1] = 0.25f;
        gb[n / 3] = badv;
        EXPECT_FALSE(opt.step(p.data(), gb.data(), 1e-3)) << optimizer_name(k) << " " << n;
      }
    }
}

TEST(Schedule, HandValues) {
  Schedule s;
  s.lr = 0.1;
  s.steps_per_epoch = 10;
  s.kind = ScheduleKind::exponential;
  s.decay = 0.5;
  EXPECT_DOUBLE_EQ(s.at(0), 0.1);
  EXPECT_DOUBLE_EQ(s.at(9), 0.1);
  EXPECT_DOUBLE_EQ(s.at(10), 0.05);
  EXPECT_DOUBLE_EQ(s.at(35), 0.0125);
  s.kind = ScheduleKind::step;
  s.step_epochs = 2;
  EXPECT_DOUBLE_EQ(s.at(19), 0.1);
  EXPECT_DOUBLE_EQ(s.at(20), 0.05);
  s.kind = ScheduleKind::cosine;
  s.total_steps = 100;
  EXPECT_DOUBLE_EQ(s.at(0), 0.1);
  EXPECT_NEAR(s.at(50), 0.05, 1e-15);
  EXPECT_NEAR(s.at(100), 0.0, 1e-15);
  s.warmup_steps = 4;
  EXPECT_DOUBLE_EQ(s.at(0), 0.025);
  EXPECT_DOUBLE_EQ(s.at(3), 0.1);
}
