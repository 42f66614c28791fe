// The C API (include/fcnet/fcnet.h, libfcnet.so): its predictions equal fcnet::predict's on the
// same rows read from an NPY file, bit for bit; errors come back as statuses with messages; one
// handle serves several threads at once with the single-threaded results.
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "fcnet/fcnet.h"
#include "fcnet/trainer.hpp"
#include "test_util.hpp"

using namespace fcnet;
using namespace fcnet::test;

namespace {

constexpr int64_t kD = 13, kC = 3;

// A tanh 13-9-3 model with a per-column input transform and named classes, saved to `path`.
void save_test_model(const std::string& path, bool f64, uint64_t seed) {
  Rng rng(seed);
  Model m;
  m.f64 = f64;
  const std::vector<int64_t> sizes = {kD, 9, kC};
  const ActivationFn act{Activation::tanh};
  if (f64)
    m.net64 = random_network<double>(sizes, act, rng);
  else
    m.net32 = random_network<float>(sizes, act, rng);
  m.transform.scale = 0.5;
  for (int64_t j = 0; j < kD; ++j) {
    m.transform.mean.push_back(0.1 * static_cast<double>(j) - 0.3);
    m.transform.std.push_back(0.5 + 0.25 * static_cast<double>(j));
  }
  m.class_names = {"cat", "dog", "emu"};
  save_model(path, m);
}

// n×kD inputs of T, on a scale the transform maps to about ±2.
template <class T>
std::vector<T> random_rows(int64_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<T> x(static_cast<std::size_t>(n * kD));
  for (auto& v : x) v = static_cast<T>(3.0 * rng.normal());
  return x;
}

template <class T>
std::string npy_of(const std::vector<T>& x, int64_t n) {
  std::string payload(x.size() * sizeof(T), '\0');
  std::memcpy(payload.data(), x.data(), payload.size());
  return npy_file(sizeof(T) == 8 ? "<f8" : "<f4",
                  "(" + std::to_string(n) + ", " + std::to_string(kD) + ")", payload);
}

// fcnet::predict's probabilities for the rows, read back from an NPY file by the data loader.
template <class T>
Matrix<double> library_probs(const std::string& model_path, const std::vector<T>& x, int64_t n,
                             const std::filesystem::path& dir) {
  const std::string npy = (dir / "x.npy").string();
  write_file_atomic(npy, npy_of(x, n));
  LoadOptions opt;
  opt.require_labels = false;
  return predict(load_model(model_path), load_dataset(npy, opt), true);
}

struct Handle {
  fcnet_model* m = nullptr;
  explicit Handle(const std::string& path) {
    EXPECT_EQ(fcnet_model_open(path.c_str(), &m), FCNET_OK) << fcnet_last_error();
  }
  ~Handle() { fcnet_model_close(m); }
};

template <class T>
fcnet_status predict_c(const fcnet_model* m, const T* x, int64_t n, int64_t d, T* p, int32_t* y) {
  if constexpr (sizeof(T) == sizeof(double))
    return fcnet_predict_double(m, x, n, d, p, y);
  else
    return fcnet_predict(m, x, n, d, p, y);
}

// The C API's probabilities and labels equal fcnet::predict's (to the bit when the output type
// holds the model's precision, else as the rounding of them) for T input on a model of either
// precision.
template <class T>
void expect_same_as_library(bool f64_model) {
  const auto dir = temp_dir(std::string("capi-same-") + (f64_model ? "64" : "32") +
                            (sizeof(T) == 8 ? "-d" : "-f"));
  const std::string path = (dir / "m.safetensors").string();
  save_test_model(path, f64_model, 3);
  const int64_t n = 1037;  // more than one of fcnet::predict's batches of 1000
  const std::vector<T> x = random_rows<T>(n, 11);
  const Matrix<double> want = library_probs(path, x, n, dir);
  Handle h(path);
  ASSERT_NE(h.m, nullptr);
  EXPECT_EQ(fcnet_model_is_double(h.m), f64_model ? 1 : 0);
  std::vector<T> probs(static_cast<std::size_t>(n * kC), T(-1));
  std::vector<int32_t> labels(static_cast<std::size_t>(n), -1);
  ASSERT_EQ(predict_c<T>(h.m, x.data(), n, kD, probs.data(), labels.data()), FCNET_OK)
      << fcnet_last_error();
  int64_t per_class[kC] = {0, 0, 0};
  for (int64_t i = 0; i < n; ++i) {
    int64_t best = 0;
    for (int64_t j = 0; j < kC; ++j) {
      EXPECT_EQ(probs[static_cast<std::size_t>(i * kC + j)], static_cast<T>(want(i, j)))
          << "row " << i << " class " << j;
      if (want(i, j) > want(i, best)) best = j;
    }
    EXPECT_EQ(labels[static_cast<std::size_t>(i)], best) << "row " << i;
    per_class[best]++;
  }
  for (int64_t k = 0; k < kC; ++k) EXPECT_GT(per_class[k], 0) << "no row predicted as " << k;
  // Labels alone, and probabilities alone, are the same as together.
  std::vector<int32_t> only_labels(static_cast<std::size_t>(n), -1);
  ASSERT_EQ(predict_c<T>(h.m, x.data(), n, kD, nullptr, only_labels.data()), FCNET_OK);
  EXPECT_EQ(only_labels, labels);
  std::vector<T> only_probs(static_cast<std::size_t>(n * kC));
  ASSERT_EQ(predict_c<T>(h.m, x.data(), n, kD, only_probs.data(), nullptr), FCNET_OK);
  EXPECT_EQ(only_probs, probs);
}

}  // namespace

TEST(CApi, FloatPredictionsEqualTheLibrarysOnAFloatModel) {
  expect_same_as_library<float>(false);
}
TEST(CApi, DoublePredictionsEqualTheLibrarysOnAFloatModel) {
  expect_same_as_library<double>(false);
}
TEST(CApi, DoublePredictionsEqualTheLibrarysOnADoubleModel) {
  expect_same_as_library<double>(true);
}
TEST(CApi, FloatPredictionsAreTheRoundedLibrarysOnADoubleModel) {
  expect_same_as_library<float>(true);
}

TEST(CApi, VersionIsTheProjects) {
  const std::string want = std::to_string(FCNET_VERSION_MAJOR) + "." +
                           std::to_string(FCNET_VERSION_MINOR) + "." +
                           std::to_string(FCNET_VERSION_PATCH);
  EXPECT_EQ(std::string(fcnet_version()), want);
  EXPECT_EQ(std::string(FCNET_VERSION_STRING), want);
  // The CLI reports the same version.
  const auto dir = temp_dir("capi-version");
  const CmdResult r = run_cli("--version", dir);
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "fcnet " + want + "\n");
}

TEST(CApi, DescribesTheModel) {
  const auto dir = temp_dir("capi-describe");
  const std::string path = (dir / "m.safetensors").string();
  save_test_model(path, false, 5);
  Handle h(path);
  ASSERT_NE(h.m, nullptr);
  EXPECT_EQ(fcnet_model_input_width(h.m), kD);
  EXPECT_EQ(fcnet_model_num_classes(h.m), kC);
  EXPECT_STREQ(fcnet_model_class_name(h.m, 0), "cat");
  EXPECT_STREQ(fcnet_model_class_name(h.m, 2), "emu");
  EXPECT_EQ(fcnet_model_class_name(h.m, 3), nullptr);
  EXPECT_STREQ(fcnet_last_error(),
               "fcnet_model_class_name: class 3 is out of range, expected 0..2");
  EXPECT_EQ(fcnet_model_class_name(h.m, -1), nullptr);
  // Trained on a numeric file: no feature names.
  EXPECT_EQ(fcnet_model_has_feature_names(h.m), 0);
  EXPECT_EQ(fcnet_model_feature_name(h.m, 0), nullptr);
  EXPECT_STREQ(fcnet_last_error(),
               "fcnet_model_feature_name: the model has no feature names, expected a model "
               "trained on a CSV file");
}

TEST(CApi, IndexClassesAreNamedByTheirIndexAndTableFeaturesByTheirEncoding) {
  const auto dir = temp_dir("capi-names");
  Rng rng(7);
  Model m;
  m.net32 = random_network<float>({4, 2}, ActivationFn{}, rng);
  ColumnSpec a;
  a.name = "a";
  a.indicator = true;
  ColumnSpec color;
  color.name = "color";
  color.kind = ColumnSpec::Kind::categorical;
  color.categories = {"blue", "red"};
  m.schema.columns = {a, color};
  m.schema.label = "label";
  m.schema.file_columns = 3;
  const std::string path = (dir / "m.safetensors").string();
  save_model(path, m);
  Handle h(path);
  ASSERT_NE(h.m, nullptr);
  EXPECT_STREQ(fcnet_model_class_name(h.m, 0), "0");
  EXPECT_STREQ(fcnet_model_class_name(h.m, 1), "1");
  EXPECT_EQ(fcnet_model_has_feature_names(h.m), 1);
  const char* want[] = {"a", "a=missing", "color=blue", "color=red"};
  for (int64_t j = 0; j < 4; ++j) EXPECT_STREQ(fcnet_model_feature_name(h.m, j), want[j]);
  EXPECT_EQ(fcnet_model_feature_name(h.m, 4), nullptr);
  EXPECT_STREQ(fcnet_last_error(),
               "fcnet_model_feature_name: feature 4 is out of range, expected 0..3");
}

TEST(CApi, FilesThatCannotBeReadOrAreNoModelsAreRefusedWithTheirPath) {
  const auto dir = temp_dir("capi-open");
  fcnet_model* m = reinterpret_cast<fcnet_model*>(&m);  // must be reset to NULL on failure
  const std::string missing = (dir / "missing.safetensors").string();
  EXPECT_EQ(fcnet_model_open(missing.c_str(), &m), FCNET_ERROR_IO);
  EXPECT_EQ(m, nullptr);
  EXPECT_EQ(std::string(fcnet_last_error()),
            missing + ": cannot open: No such file or directory, expected a readable file");
  EXPECT_EQ(fcnet_model_open(dir.string().c_str(), &m), FCNET_ERROR_IO);
  EXPECT_EQ(std::string(fcnet_last_error()),
            dir.string() + ": is a folder, expected a file to read");

  const std::string text = (dir / "notes.txt").string();
  write_file_atomic(text, "label,a,b\n1,2,3\n");
  EXPECT_EQ(fcnet_model_open(text.c_str(), &m), FCNET_ERROR_FORMAT);
  EXPECT_EQ(m, nullptr);
  EXPECT_EQ(std::string(fcnet_last_error()).rfind(text + ": ", 0), 0u) << fcnet_last_error();

  // A model file cut short.
  const std::string good = (dir / "m.safetensors").string();
  save_test_model(good, false, 1);
  const std::string bytes = read_file(good);
  const std::string cut = (dir / "cut.safetensors").string();
  write_file_atomic(cut, bytes.substr(0, bytes.size() - 7));
  EXPECT_EQ(fcnet_model_open(cut.c_str(), &m), FCNET_ERROR_FORMAT);
  EXPECT_EQ(std::string(fcnet_last_error()).rfind(cut + ": ", 0), 0u) << fcnet_last_error();
  EXPECT_STREQ(fcnet_status_name(FCNET_ERROR_FORMAT), "not a model file");
  EXPECT_STREQ(fcnet_status_name(FCNET_ERROR_IO), "i/o error");
}

TEST(CApi, NullPointersAndWrongSizesAreRefusedWithMessagesAndWriteNothing) {
  const auto dir = temp_dir("capi-args");
  const std::string path = (dir / "m.safetensors").string();
  save_test_model(path, false, 2);
  EXPECT_EQ(fcnet_model_open(path.c_str(), nullptr), FCNET_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(fcnet_last_error(),
               "fcnet_model_open: model is NULL, expected where to store the new handle");
  fcnet_model* none = nullptr;
  EXPECT_EQ(fcnet_model_open(nullptr, &none), FCNET_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(fcnet_last_error(), "fcnet_model_open: path is NULL, expected a model file's path");

  EXPECT_EQ(fcnet_model_input_width(nullptr), -1);
  EXPECT_STREQ(fcnet_last_error(),
               "fcnet_model_input_width: model is NULL, expected a handle from fcnet_model_open");
  EXPECT_EQ(fcnet_model_num_classes(nullptr), -1);
  EXPECT_EQ(fcnet_model_is_double(nullptr), -1);
  EXPECT_EQ(fcnet_model_has_feature_names(nullptr), -1);
  EXPECT_EQ(fcnet_model_class_name(nullptr, 0), nullptr);
  EXPECT_EQ(fcnet_model_feature_name(nullptr, 0), nullptr);
  fcnet_model_close(nullptr);

  Handle h(path);
  ASSERT_NE(h.m, nullptr);
  const int64_t n = 3;
  std::vector<float> x = random_rows<float>(n, 4);
  std::vector<float> probs(static_cast<std::size_t>(n * kC), -7.0f);
  std::vector<int32_t> labels(static_cast<std::size_t>(n), -7);
  auto refused = [&](fcnet_status got, const std::string& message) {
    EXPECT_EQ(got, FCNET_ERROR_INVALID_ARGUMENT);
    EXPECT_EQ(std::string(fcnet_last_error()), message);
    for (float p : probs) EXPECT_EQ(p, -7.0f);
    for (int32_t y : labels) EXPECT_EQ(y, -7);
  };
  refused(fcnet_predict(nullptr, x.data(), n, kD, probs.data(), labels.data()),
          "fcnet_predict: model is NULL, expected a handle from fcnet_model_open");
  refused(fcnet_predict(h.m, x.data(), n, kD - 1, probs.data(), labels.data()),
          "fcnet_predict: d is 12, expected 13 (the model's input width)");
  refused(fcnet_predict(h.m, x.data(), n, kD + 1, probs.data(), labels.data()),
          "fcnet_predict: d is 14, expected 13 (the model's input width)");
  refused(fcnet_predict(h.m, nullptr, n, kD, probs.data(), labels.data()),
          "fcnet_predict: x is NULL, expected n×d values");
  refused(fcnet_predict(h.m, x.data(), n, kD, nullptr, nullptr),
          "fcnet_predict: probs and labels are both NULL, expected at least one to write to");
  refused(fcnet_predict(h.m, x.data(), -1, kD, probs.data(), labels.data()),
          "fcnet_predict: n is -1, expected >= 0");
  x[static_cast<std::size_t>(1 * kD + 4)] = std::numeric_limits<float>::quiet_NaN();
  refused(fcnet_predict(h.m, x.data(), n, kD, probs.data(), labels.data()),
          "fcnet_predict: x[1][4] is nan, expected a finite number");
  std::vector<double> xd(static_cast<std::size_t>(n * kD), 0.0);
  xd[2] = -std::numeric_limits<double>::infinity();
  std::vector<double> probs_d(static_cast<std::size_t>(n * kC), -7.0);
  EXPECT_EQ(fcnet_predict_double(h.m, xd.data(), n, kD, probs_d.data(), nullptr),
            FCNET_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(fcnet_last_error(),
               "fcnet_predict_double: x[0][2] is -inf, expected a finite number");
  for (double p : probs_d) EXPECT_EQ(p, -7.0);

  // No rows: nothing to do, and x may be NULL.
  EXPECT_EQ(fcnet_predict(h.m, nullptr, 0, kD, probs.data(), labels.data()), FCNET_OK);
  EXPECT_EQ(probs[0], -7.0f);

  EXPECT_EQ(fcnet_set_num_threads(-1), FCNET_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(fcnet_last_error(),
               "fcnet_set_num_threads: is -1, expected a thread count from 1 to 256 (0: one per "
               "core)");
  EXPECT_EQ(fcnet_set_num_threads(0), FCNET_OK);
}

TEST(CApi, LastErrorIsPerThread) {
  EXPECT_EQ(fcnet_model_input_width(nullptr), -1);
  const std::string mine = fcnet_last_error();
  std::string theirs_before, theirs_after;
  std::thread t([&] {
    theirs_before = fcnet_last_error();
    fcnet_model* m = nullptr;
    EXPECT_EQ(fcnet_model_open(nullptr, &m), FCNET_ERROR_INVALID_ARGUMENT);
    theirs_after = fcnet_last_error();
  });
  t.join();
  EXPECT_EQ(theirs_before, "");
  EXPECT_EQ(theirs_after, "fcnet_model_open: path is NULL, expected a model file's path");
  EXPECT_EQ(std::string(fcnet_last_error()), mine);
}

// Several threads predicting on one handle at once get what one thread alone gets, bit for bit.
// The reference is computed on a thread of its own too, so every call runs with the same
// (default) OpenMP thread count.
template <class T>
void expect_concurrent_predictions_identical(bool f64_model) {
  const auto dir = temp_dir(std::string("capi-threads-") + (f64_model ? "64" : "32"));
  const std::string path = (dir / "m.safetensors").string();
  save_test_model(path, f64_model, 9);
  Handle h(path);
  ASSERT_NE(h.m, nullptr);
  const int64_t n = 300;
  const std::vector<T> x = random_rows<T>(n, 21);
  std::vector<T> want(static_cast<std::size_t>(n * kC));
  std::vector<int32_t> want_labels(static_cast<std::size_t>(n));
  std::thread([&] {
    EXPECT_EQ(predict_c<T>(h.m, x.data(), n, kD, want.data(), want_labels.data()), FCNET_OK);
  }).join();
  constexpr int kThreads = 4, kRounds = 5;
  std::vector<std::vector<T>> got(kThreads * kRounds, std::vector<T>(want.size()));
  std::vector<std::vector<int32_t>> got_labels(kThreads * kRounds,
                                               std::vector<int32_t>(want_labels.size()));
  std::vector<fcnet_status> status(kThreads * kRounds, FCNET_ERROR_INTERNAL);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int r = 0; r < kRounds; ++r) {
        const auto k = static_cast<std::size_t>(t * kRounds + r);
        status[k] = predict_c<T>(h.m, x.data(), n, kD, got[k].data(), got_labels[k].data());
      }
    });
  for (auto& t : threads) t.join();
  for (std::size_t k = 0; k < got.size(); ++k) {
    EXPECT_EQ(status[k], FCNET_OK);
    EXPECT_EQ(std::memcmp(got[k].data(), want.data(), want.size() * sizeof(T)), 0) << "call " << k;
    EXPECT_EQ(got_labels[k], want_labels) << "call " << k;
  }
}

TEST(CApi, ConcurrentPredictionsOnOneHandleEqualASingleThreadedOne) {
  expect_concurrent_predictions_identical<float>(false);
  expect_concurrent_predictions_identical<double>(true);
}
