// bfloat16 on the CPU: the rounding against hand-derived bits, the fast rounding against the
// reference, the bf16 GEMM against the reference product of rounded inputs, and bf16 training
// against float32. Tests that need AVX512_BF16 are SKIPPED on CPUs without it.
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "fcnet/fcnet.h"
#include "fcnet/kernels.hpp"
#include "fcnet/trainer.hpp"
#include "test_util.hpp"

using namespace fcnet;
using fcnet::test::random_matrix;

namespace {

float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

#define REQUIRE_BF16_GEMM()                                                  \
  do {                                                                       \
    if (!cpu_has_bf16_gemm()) GTEST_SKIP() << "this CPU has no AVX512_BF16"; \
  } while (0)

// The input rounded to bf16 and back: what a bf16 product multiplies.
Matrix<float> rounded(ConstView<float> m) {
  Matrix<float> r(m.rows, m.cols);
  for (int64_t i = 0; i < m.rows; ++i)
    for (int64_t j = 0; j < m.cols; ++j) r(i, j) = ref::from_bf16(ref::to_bf16(m(i, j)));
  return r;
}

// Largest |got − want| / (1 + |want|).
double worst_error(ConstView<float> got, ConstView<float> want) {
  double worst = 0;
  for (int64_t i = 0; i < want.rows; ++i)
    for (int64_t j = 0; j < want.cols; ++j)
      worst = std::max(worst, std::fabs(double(got(i, j)) - double(want(i, j))) /
                                  (1.0 + std::fabs(double(want(i, j)))));
  return worst;
}

}  // namespace

TEST(Bf16, RoundingIsToNearestEvenByHand) {
  // bf16 keeps 7 mantissa bits: 1 + 2⁻⁸ lies halfway between 1 (0x3F80, even) and 1 + 2⁻⁷
  // (0x3F81), so it rounds to 1; 1 + 3·2⁻⁸ lies halfway between 0x3F81 and 0x3F82 (even).
  EXPECT_EQ(ref::to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(ref::to_bf16(1.0f + 0x1p-8f), 0x3F80);
  EXPECT_EQ(ref::to_bf16(1.0f + 3 * 0x1p-8f), 0x3F82);
  EXPECT_EQ(ref::to_bf16(1.0f + 0x1p-8f + 0x1p-20f), 0x3F81);  // past halfway: up
  EXPECT_EQ(ref::to_bf16(-2.0f), 0xC000);
  EXPECT_EQ(ref::to_bf16(std::numeric_limits<float>::infinity()), 0x7F80);
  EXPECT_EQ(ref::to_bf16(std::numeric_limits<float>::max()), 0x7F80);  // rounds past the top
  // A NaN whose payload sits in the low half stays a NaN (rounding would make it infinity).
  EXPECT_TRUE(std::isnan(ref::from_bf16(ref::to_bf16(from_bits(0x7F800001u)))));
  EXPECT_FLOAT_EQ(ref::from_bf16(0x4049), 3.140625f);  // π in bf16: 1.5703125 · 2
}

TEST(Bf16, FastRoundingMatchesReferenceBitForBit) {
  set_num_threads(2);
  Rng rng(5);
  struct Case {
    int64_t rows, cols, ld;
  };
  for (const Case cs : {Case{1, 1, 1}, Case{7, 13, 13}, Case{17, 33, 40}, Case{300, 257, 260}}) {
    Matrix<float> m = random_matrix<float>(cs.rows, cs.ld, rng, 3.0);
    m[0] = std::numeric_limits<float>::infinity();
    if (m.size() > 2) m[2] = from_bits(0x7FC00001u);
    ConstView<float> in(m.data(), cs.rows, cs.cols, cs.ld);
    for (bool trans : {false, true}) {
      const int64_t out_rows = trans ? cs.cols : cs.rows, out_cols = trans ? cs.rows : cs.cols;
      const int64_t out_ld = out_cols + 3;
      std::vector<uint16_t> fast(static_cast<std::size_t>(out_rows * out_ld), 0xDEAD), want(fast);
      to_bf16(fast.data(), out_ld, in, trans);
      ref::to_bf16(want.data(), out_ld, in, trans);
      EXPECT_EQ(fast, want) << cs.rows << "x" << cs.cols << (trans ? " transposed" : "");
    }
  }
}

TEST(Bf16, RefusedWhereTheCpuLacksIt) {
  // tf32 is a CUDA format; bf16 needs AVX512_BF16, and the message says so.
  EXPECT_THROW(DnnlContext{Precision::tf32}, Error);
  if (cpu_has_bf16_gemm()) {
    EXPECT_NO_THROW(DnnlContext{Precision::bf16});
  } else {
    try {
      DnnlContext ctx(Precision::bf16);
      ADD_FAILURE() << "bf16 accepted on a CPU without AVX512_BF16";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("AVX512_BF16"), std::string::npos) << e.what();
    }
  }
}

TEST(Bf16, GemmIsTheReferenceProductOfRoundedInputs) {
  REQUIRE_BF16_GEMM();
  set_num_threads(2);
  struct S {
    int64_t n, k, m;
  };
  Rng rng(9);
  DnnlContext ctx(Precision::bf16);
  for (const S s : {S{64, 784, 256}, S{33, 65, 47}, S{128, 64, 10}, S{5, 300, 40}})
    for (int t = 0; t < 4; ++t) {
      const bool ta = t & 1, tb = t & 2;
      auto a = ta ? random_matrix<float>(s.k, s.n, rng) : random_matrix<float>(s.n, s.k, rng);
      auto b = tb ? random_matrix<float>(s.m, s.k, rng) : random_matrix<float>(s.k, s.m, rng);
      auto bias = random_matrix<float>(1, s.m, rng);
      GemmOp<float> op;
      op.trans_a = ta;
      op.trans_b = tb;
      op.bias = bias.data();
      op.activate = true;
      op.act = {Activation::relu, 0.0};
      Matrix<float> got(s.n, s.m), want(s.n, s.m), exact(s.n, s.m);
      ctx.gemm(got.view(), a.view(), b.view(), op);
      const bool low = gemm_pays_in_bf16(s.n, s.k, s.m);
      ref::gemm<float>(want.view(), low ? rounded(a.view()).cview() : a.cview(),
                       low ? rounded(b.view()).cview() : b.cview(), op);
      ref::gemm<float>(exact.view(), a.view(), b.view(), op);
      const std::string what = std::to_string(s.n) + "x" + std::to_string(s.k) + "x" +
                               std::to_string(s.m) + " t" + std::to_string(t);
      // f32 accumulation of exactly representable products: float32 rounding only.
      EXPECT_LT(worst_error(got.view(), want.view()), 4e-6 * std::sqrt(double(s.k)) + 1e-6) << what;
      // …and the rounding did happen: unrounded inputs give a product bf16's 2⁻⁹ away.
      if (low) {
        EXPECT_GT(worst_error(got.view(), exact.view()), 1e-4) << what;
      }
    }
}

TEST(Bf16, PassReusesARoundedInputOnlyUntilAProductWritesIt) {
  REQUIRE_BF16_GEMM();
  set_num_threads(1);
  Rng rng(13);
  auto x = random_matrix<float>(40, 64, rng), w = random_matrix<float>(64, 48, rng),
       w2 = random_matrix<float>(48, 64, rng);
  Matrix<float> h(40, 48), x_new(40, 64), once(40, 48), again(40, 48), fresh(40, 48);
  DnnlContext ctx(Precision::bf16), plain(Precision::bf16);
  ctx.begin_pass();
  ctx.gemm(once.view(), x.view(), w.view(), {});
  // A product writes x (its C): the next product that reads x must round the new values.
  ctx.gemm(h.view(), x.view(), w.view(), {});
  ctx.gemm(x.view(), h.view(), w2.view(), {});
  ctx.gemm(again.view(), x.view(), w.view(), {});
  ctx.end_pass();
  plain.gemm(fresh.view(), x.view(), w.view(), {});
  EXPECT_EQ(worst_error(again.view(), fresh.view()), 0.0);
  EXPECT_GT(worst_error(again.view(), once.view()), 1e-3);  // x did change
}

TEST(Bf16, TrainingTracksFloat32) {
  REQUIRE_BF16_GEMM();
  set_num_threads(2);
  Dataset tr = load_dataset("fashion-mnist:train"), te = load_dataset("fashion-mnist:test");
  std::vector<int64_t> idx(3000);
  for (int64_t i = 0; i < 3000; ++i) idx[static_cast<std::size_t>(i)] = i;
  tr = tr.subset(idx);
  idx.resize(1000);
  te = te.subset(idx);
  TrainConfig cfg;
  cfg.hidden = {128, 64};
  cfg.batch = 64;
  cfg.epochs = 4;
  cfg.seed = 3;
  const TrainResult f32 = train(tr, nullptr, cfg);
  cfg.precision = Precision::bf16;
  const TrainResult b16 = train(tr, nullptr, cfg);
  // bf16 rounds each GEMM input by up to 2⁻⁹ (relative): the curves stay within 3 % of f32's,
  // and held-out accuracy within 3 points; the weights differ (the rounding took place).
  for (std::size_t e = 0; e < f32.epochs.size(); ++e)
    EXPECT_NEAR(b16.epochs[e].train_loss, f32.epochs[e].train_loss, 0.03 * f32.epochs[e].train_loss)
        << "epoch " << e + 1;
  const double acc32 = evaluate(f32.model, te).accuracy;
  const double acc16 = evaluate(b16.model, te, 1000, nullptr, Precision::bf16).accuracy;
  EXPECT_NEAR(acc16, acc32, 0.03);
  EXPECT_GT(acc16, 0.7);
  double diff = 0;
  for (int64_t i = 0; i < f32.model.net32.buffer_size(); ++i)
    diff = std::max(
        diff, std::fabs(double(f32.model.net32.params()[i]) - double(b16.model.net32.params()[i])));
  EXPECT_GT(diff, 1e-4);
}

TEST(Bf16, Float64RefusesIt) {
  Dataset d = load_dataset("fashion-mnist:test").subset({0, 1, 2, 3});
  TrainConfig cfg;
  cfg.hidden = {4};
  cfg.f64 = true;
  cfg.precision = Precision::bf16;
  EXPECT_THROW(train(d, nullptr, cfg), Error);
}

TEST(Bf16, CommandLineTrainsEvaluatesAndPredictsInBf16) {
  auto dir = fcnet::test::temp_dir("bf16_cli");
  const std::string model = (dir / "m.safetensors").string();
  const std::string train_args =
      "train --hidden 64 --max-steps 40 --quiet --precision bf16 --out " + model;
  if (!cpu_has_bf16_gemm()) {  // the run is refused, naming what is missing
    auto r = fcnet::test::run_cli(train_args, dir);
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find("AVX512_BF16"), std::string::npos) << r.err;
    return;
  }
  auto t = fcnet::test::run_cli(train_args, dir);
  ASSERT_EQ(t.code, 0) << t.err;
  auto info = fcnet::test::run_cli("info --json --model " + model, dir);
  ASSERT_EQ(info.code, 0) << info.err;
  EXPECT_EQ(nlohmann::json::parse(info.out)["training"]["precision"], "bf16");
  // eval and predict at bf16 agree with f32 to bf16's rounding: the same loss within 1 %, the
  // same labels on nearly every row.
  auto e32 = fcnet::test::run_cli("eval --json --data fashion-mnist --model " + model, dir);
  auto e16 = fcnet::test::run_cli(
      "eval --json --precision bf16 --data fashion-mnist --model " + model, dir);
  ASSERT_EQ(e32.code, 0) << e32.err;
  ASSERT_EQ(e16.code, 0) << e16.err;
  const double l32 = nlohmann::json::parse(e32.out)["loss"],
               l16 = nlohmann::json::parse(e16.out)["loss"];
  EXPECT_NEAR(l16, l32, 0.01 * l32);
  EXPECT_NE(l16, l32);
  auto p32 = fcnet::test::run_cli("predict --no-header --data fashion-mnist --model " + model, dir);
  auto p16 = fcnet::test::run_cli(
      "predict --no-header --precision bf16 --batch 333 --data fashion-mnist --model " + model,
      dir);
  ASSERT_EQ(p32.code, 0) << p32.err;
  ASSERT_EQ(p16.code, 0) << p16.err;
  std::istringstream a(p32.out), b(p16.out);
  std::string la, lb;
  int rows = 0, same = 0;
  while (std::getline(a, la) && std::getline(b, lb)) {
    ++rows;
    same += la == lb;
  }
  EXPECT_EQ(rows, 10000);
  EXPECT_GT(same, 9900);
}

TEST(Bf16, CApiPredictsAsTheLibraryAtBf16) {
  auto dir = fcnet::test::temp_dir("bf16_capi");
  const std::string path = (dir / "m.safetensors").string();
  Rng rng(21);
  Model m;
  m.net32 = fcnet::test::random_network<float>({64, 48, 3}, {Activation::relu, 0.0}, rng);
  save_model(path, m);
  fcnet_model* h = nullptr;
  ASSERT_EQ(fcnet_model_open(path.c_str(), &h), FCNET_OK) << fcnet_last_error();
  EXPECT_EQ(fcnet_model_set_precision(h, "tf32"), FCNET_ERROR_INVALID_ARGUMENT);
  if (!cpu_has_bf16_gemm()) {
    EXPECT_EQ(fcnet_model_set_precision(h, "bf16"), FCNET_ERROR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(fcnet_last_error()).find("AVX512_BF16"), std::string::npos);
    fcnet_model_close(h);
    return;
  }
  const int64_t n = 300;
  Matrix<float> x = random_matrix<float>(n, 64, rng);
  Dataset d;
  d.n = n;
  d.d = 64;
  d.dtype = DType::f32;
  d.source = "rows";
  const auto* bytes = reinterpret_cast<const uint8_t*>(x.data());
  d.bytes.assign(bytes, bytes + n * 64 * sizeof(float));
  const Matrix<double> want16 = predict(load_model(path), d, true, 1000, Precision::bf16);
  const Matrix<double> want32 = predict(load_model(path), d, true);
  std::vector<float> p16(n * 3), p32(n * 3);
  ASSERT_EQ(fcnet_model_set_precision(h, "bf16"), FCNET_OK) << fcnet_last_error();
  ASSERT_EQ(fcnet_predict(h, x.data(), n, 64, p16.data(), nullptr), FCNET_OK);
  ASSERT_EQ(fcnet_model_set_precision(h, "f32"), FCNET_OK);
  ASSERT_EQ(fcnet_predict(h, x.data(), n, 64, p32.data(), nullptr), FCNET_OK);
  fcnet_model_close(h);
  double apart = 0;
  for (int64_t i = 0; i < n * 3; ++i) {
    EXPECT_EQ(p16[i], static_cast<float>(want16.data()[i])) << i;
    EXPECT_EQ(p32[i], static_cast<float>(want32.data()[i])) << i;
    apart = std::max(apart, std::fabs(double(p16[i]) - double(p32[i])));
  }
  EXPECT_GT(apart, 1e-5);  // the bf16 products are another computation
  EXPECT_LT(apart, 0.05);
}

TEST(Bf16, CheckpointRecordsItAndAResumedRunEndsBitIdentical) {
  REQUIRE_BF16_GEMM();
  auto dir = fcnet::test::temp_dir("bf16_resume");
  auto path = [&](const char* f) { return (dir / f).string(); };
  const std::string common =
      " --hidden 48 --batch 256 --threads 2 --seed 4 --quiet --val-split 0.1 --schedule constant "
      "--precision bf16";
  auto full =
      fcnet::test::run_cli("train --epochs 2 --out " + path("full.safetensors") + common, dir);
  ASSERT_EQ(full.code, 0) << full.err;
  auto first = fcnet::test::run_cli("train --epochs 1 --checkpoint " + path("c.ckpt") + " --out " +
                                        path("first.safetensors") + common,
                                    dir);
  ASSERT_EQ(first.code, 0) << first.err;
  // Resumed without --precision: the checkpoint's bf16 carries on, to the same bytes.
  auto resumed = fcnet::test::run_cli("train --quiet --threads 2 --epochs 2 --resume " +
                                          path("c.ckpt") + " --out " + path("resumed.safetensors"),
                                      dir);
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  const Model a = load_model(path("full.safetensors")), b = load_model(path("resumed.safetensors"));
  ASSERT_EQ(a.net32.buffer_size(), b.net32.buffer_size());
  for (int64_t i = 0; i < a.net32.buffer_size(); ++i)
    ASSERT_EQ(a.net32.params()[i], b.net32.params()[i]) << "parameter " << i;
  EXPECT_NE(b.training_json.find("\"precision\":\"bf16\""), std::string::npos) << b.training_json;
  // Asking for f32 on a bf16 checkpoint is refused, naming both.
  auto other = fcnet::test::run_cli("train --quiet --epochs 3 --precision f32 --resume " +
                                        path("c.ckpt") + " --out " + path("x.safetensors"),
                                    dir);
  EXPECT_EQ(other.code, 1);
  EXPECT_NE(other.err.find("bf16"), std::string::npos) << other.err;
}
