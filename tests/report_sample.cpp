// Writes a sample training report with realistic synthetic data (10 epochs of a 784-64-32-10
// network on Fashion-MNIST-like images) for the browser test of the report page.
// Usage: fcnet_report_sample OUT.html
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <numbers>
#include <string>
#include <vector>

#include "fcnet/error.hpp"
#include "fcnet/report.hpp"

namespace {

// SplitMix64: a tiny seeded generator whose output is the same on every platform.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  double normal() {
    const double u = 1.0 - uniform();
    return std::sqrt(-2.0 * std::log(u)) * std::cos(2.0 * std::numbers::pi * uniform());
  }
  int below(int n) { return static_cast<int>(next() % static_cast<uint64_t>(n)); }

 private:
  uint64_t state_;
};

constexpr int kSide = 28;
const std::vector<std::string> kClasses = {"T-shirt/top", "Trouser",   "Pullover", "Dress",
                                           "Coat",        "Sandal",    "Shirt",    "Sneaker",
                                           "Bag",         "Ankle boot"};

bool in(double v, double lo, double hi) {
  return v >= lo && v <= hi;
}

// Rough silhouette of a garment of class `k` at normalised position (u across, v down): 1 inside.
double silhouette(int k, double u, double v) {
  switch (k) {
    case 0: {  // T-shirt: torso, short sleeves, round neck
      const bool torso = in(u, 0.28, 0.72) && in(v, 0.12, 0.93);
      const bool sleeves = in(v, 0.12, 0.38) && in(u, 0.08, 0.92) && v - 0.12 > (0.28 - u) * 0.2 &&
                           v - 0.12 > (u - 0.72) * 0.2;
      const bool neck = std::hypot(u - 0.5, v - 0.1) < 0.09;
      return (torso || sleeves) && !neck ? 1.0 : 0.0;
    }
    case 1:  // Trouser: waistband and two legs
      return (in(v, 0.04, 0.2) && in(u, 0.31, 0.69)) ||
                     (in(v, 0.04, 0.96) && (in(u, 0.31, 0.485) || in(u, 0.515, 0.69)))
                 ? 1.0
                 : 0.0;
    case 2:    // Pullover: torso and long sleeves
    case 6: {  // Shirt: the same with a collar
      const bool torso = in(u, 0.27, 0.73) && in(v, 0.1, 0.92);
      const bool sleeves = in(v, 0.13, 0.86) && (in(u, 0.07, 0.27) || in(u, 0.73, 0.93)) &&
                           !(in(v, 0.55, 0.86) && (in(u, 0.07, 0.12) || in(u, 0.88, 0.93)));
      const bool collar = k == 6 && std::fabs(u - 0.5) < 0.12 - (v - 0.1) && v < 0.22;
      return (torso || sleeves) && !collar ? 1.0 : 0.0;
    }
    case 3: {  // Dress: a trapezoid widening downwards
      const double half = 0.13 + 0.3 * std::clamp((v - 0.06) / 0.9, 0.0, 1.0);
      return in(v, 0.06, 0.96) && std::fabs(u - 0.5) < half ? 1.0 : 0.0;
    }
    case 4: {  // Coat: wide torso, long sleeves, dark zip
      const bool torso = in(u, 0.22, 0.78) && in(v, 0.08, 0.95);
      const bool sleeves = in(v, 0.1, 0.9) && (in(u, 0.05, 0.22) || in(u, 0.78, 0.95));
      const bool zip = in(u, 0.485, 0.515) && v > 0.2;
      return (torso || sleeves) ? (zip ? 0.35 : 1.0) : 0.0;
    }
    case 5: {  // Sandal: sole and diagonal straps
      const bool sole = in(v, 0.62, 0.72) && in(u, 0.06, 0.94);
      const bool straps =
          in(v, 0.38, 0.62) && in(u, 0.15, 0.85) && std::fmod(std::fabs(u * 5 + v * 4), 1.0) < 0.25;
      return sole || straps ? 1.0 : 0.0;
    }
    case 7:  // Sneaker: low shoe, higher at the heel
      return in(u, 0.05, 0.95) && in(v, 0.62 - 0.22 * u, 0.76) ? 1.0 : 0.0;
    case 8: {  // Bag: body and handle
      const bool body = in(u, 0.1, 0.9) && in(v, 0.36, 0.9);
      const double r = std::hypot(u - 0.5, (v - 0.36) * 1.2);
      const bool handle = v < 0.36 && in(r, 0.2, 0.27);
      return body || handle ? 1.0 : 0.0;
    }
    default:  // Ankle boot: shaft and foot
      return (in(u, 0.48, 0.86) && in(v, 0.14, 0.82)) || (in(u, 0.08, 0.88) && in(v, 0.56, 0.82))
                 ? 1.0
                 : 0.0;
  }
}

std::vector<float> garment_image(int k, Rng& rng) {
  std::vector<float> img(kSide * kSide);
  const double brightness = rng.uniform(0.45, 0.9);
  const double shift_u = rng.uniform(-0.04, 0.04), shift_v = rng.uniform(-0.03, 0.03);
  const double stripes = rng.uniform() < 0.3 ? rng.uniform(0.1, 0.25) : 0.0;
  for (int r = 0; r < kSide; ++r)
    for (int c = 0; c < kSide; ++c) {
      const double u = (c + 0.5) / kSide + shift_u, v = (r + 0.5) / kSide + shift_v;
      const double s = silhouette(k, u, v);
      double value = 0;
      if (s > 0) {
        value = s * brightness * (1.0 - stripes * (std::sin(v * 40.0) > 0 ? 1.0 : 0.0)) +
                0.07 * rng.normal();
        // Edges a little brighter, as folds and seams are in the real photographs.
        if (silhouette(k, u + 0.04, v) == 0 || silhouette(k, u - 0.04, v) == 0) value += 0.12;
      }
      img[static_cast<std::size_t>(r * kSide + c)] =
          static_cast<float>(std::clamp(value, 0.0, 1.0));
    }
  return img;
}

// Confusion on a 10,000-example test split, with the error patterns typical of Fashion-MNIST.
std::vector<std::vector<int64_t>> make_confusion() {
  const std::array<double, 10> recall = {0.84, 0.97, 0.80, 0.89, 0.82,
                                         0.96, 0.64, 0.95, 0.97, 0.95};
  // Relative weights of the wrong predictions of each true class.
  const std::array<std::array<double, 10>, 10> weights = {{
      {0, 2, 4, 8, 1, 0, 30, 0, 2, 0},    // T-shirt/top
      {2, 0, 1, 8, 2, 0, 1, 0, 1, 0},     // Trouser
      {2, 0, 0, 2, 25, 0, 16, 0, 2, 0},   // Pullover
      {6, 4, 1, 0, 6, 0, 4, 0, 1, 0},     // Dress
      {1, 0, 20, 6, 0, 0, 14, 0, 1, 0},   // Coat
      {0, 0, 0, 0, 0, 0, 0, 10, 1, 4},    // Sandal
      {26, 1, 14, 6, 12, 0, 0, 0, 3, 0},  // Shirt
      {0, 0, 0, 0, 0, 8, 0, 0, 0, 8},     // Sneaker
      {2, 0, 2, 1, 1, 1, 3, 1, 0, 1},     // Bag
      {0, 0, 0, 0, 0, 3, 0, 10, 1, 0},    // Ankle boot
  }};
  std::vector<std::vector<int64_t>> m(10, std::vector<int64_t>(10, 0));
  for (int t = 0; t < 10; ++t) {
    const auto correct = static_cast<int64_t>(std::llround(1000 * recall[t]));
    const int64_t wrong = 1000 - correct;
    double sum = 0;
    for (double w : weights[t]) sum += w;
    int64_t given = 0;
    int biggest = 0;
    for (int p = 0; p < 10; ++p) {
      m[t][p] = static_cast<int64_t>(std::floor(static_cast<double>(wrong) * weights[t][p] / sum));
      given += m[t][p];
      if (weights[t][p] > weights[t][biggest]) biggest = p;
    }
    m[t][biggest] += wrong - given;
    m[t][t] = correct;
  }
  return m;
}

fcnet::ReportData make_report() {
  Rng rng(20240611);
  fcnet::ReportData d;
  d.title = "Fashion-MNIST · 784-64-32-10 relu";
  d.class_names = kClasses;
  d.confusion = make_confusion();
  d.confusion_split = "test";

  const int epochs = 10;
  double total_seconds = 0;
  for (int e = 1; e <= epochs; ++e) {
    const double t = e - 1;
    fcnet::ReportEpoch ep;
    ep.epoch = e;
    ep.train_loss = 0.24 + 0.52 * std::exp(-t / 2.6) + 0.004 * rng.normal();
    ep.val_loss = 0.31 + 0.42 * std::exp(-t / 2.2) + 0.004 * t + 0.006 * rng.normal();
    ep.train_accuracy = 0.913 - 0.15 * std::exp(-t / 2.6) + 0.002 * rng.normal();
    ep.val_accuracy = 0.884 - 0.12 * std::exp(-t / 2.2) - 0.0008 * t + 0.003 * rng.normal();
    ep.lr = 0.0005 + 0.5 * (0.05 - 0.0005) * (1 + std::cos(std::numbers::pi * t / epochs));
    ep.seconds = 2.9 + 0.15 * rng.normal() + (e == 1 ? 0.6 : 0.0);
    total_seconds += ep.seconds;
    ep.weight_norms = {10.5 + 7.5 * (1 - std::exp(-t / 3)), 6.1 + 3.2 * (1 - std::exp(-t / 3)),
                       2.4 + 2.3 * (1 - std::exp(-t / 2.5))};
    for (auto& n : ep.weight_norms) n *= 1 + 0.01 * rng.normal();
    ep.grad_norms = {0.9 * std::exp(-t / 4) + 0.22, 0.55 * std::exp(-t / 4) + 0.12,
                     0.32 * std::exp(-t / 3.5) + 0.07};
    for (auto& n : ep.grad_norms) n *= 1 + 0.05 * rng.normal();
    d.epochs.push_back(ep);
  }

  // First layer: each unit mixes two garment templates with opposite signs, an oriented stripe
  // pattern and noise, roughly what a trained MLP's first layer looks like.
  const int64_t inputs = kSide * kSide, units = 64;
  d.first_layer_inputs = inputs;
  d.first_layer_units = units;
  d.image_shape = {kSide, kSide};
  d.first_layer_weights.assign(static_cast<std::size_t>(inputs * units), 0.0f);
  for (int64_t h = 0; h < units; ++h) {
    const int a = rng.below(10), b = (a + 1 + rng.below(9)) % 10;
    const double angle = rng.uniform(0, std::numbers::pi), freq = rng.uniform(6, 14);
    const double stripes = rng.uniform(0.0, 0.5), scale = rng.uniform(0.04, 0.09);
    for (int r = 0; r < kSide; ++r)
      for (int c = 0; c < kSide; ++c) {
        const double u = (c + 0.5) / kSide, v = (r + 0.5) / kSide;
        const double along = u * std::cos(angle) + v * std::sin(angle);
        const double w = silhouette(a, u, v) - 0.8 * silhouette(b, u, v) +
                         stripes * std::sin(freq * along * 2 * std::numbers::pi) *
                             std::exp(-8 * (std::pow(u - 0.5, 2) + std::pow(v - 0.5, 2))) +
                         0.35 * rng.normal();
        d.first_layer_weights[static_cast<std::size_t>((r * kSide + c) * units + h)] =
            static_cast<float>(scale * w);
      }
  }

  // Misclassified test examples drawn from the confusion's off-diagonal cells.
  std::vector<std::array<int, 2>> pairs;
  for (int t = 0; t < 10; ++t)
    for (int p = 0; p < 10; ++p)
      for (int64_t k = 0; t != p && k < d.confusion[t][p] / 8; ++k) pairs.push_back({t, p});
  for (int i = 0; i < 48; ++i) {
    const auto [t, p] = pairs[static_cast<std::size_t>(rng.below(static_cast<int>(pairs.size())))];
    fcnet::ReportExample ex;
    ex.index = static_cast<int64_t>(rng.below(10000));
    ex.true_label = t;
    ex.predicted_label = p;
    ex.confidence = rng.uniform(0.42, 0.99);
    ex.pixels = garment_image(t, rng);
    d.misclassified.push_back(std::move(ex));
  }

  const auto& last = d.epochs.back();
  auto pct = [](double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f%%", v * 100);
    return std::string(buf);
  };
  char time_text[64];
  std::snprintf(time_text, sizeof time_text, "%.1f s on 2 threads (CPU)", total_seconds);
  d.summary = {
      {"data",
       "Fashion-MNIST: 54,000 train / 6,000 validation / 10,000 test examples, 784 "
       "features (28×28), 10 classes; inputs scaled by 1/255 and standardized"},
      {"network", "784 → 64 → 32 → 10, relu, softmax cross-entropy; 52,650 parameters (float32)"},
      {"hyperparameters",
       "SGD, momentum 0.9, learning rate 0.05 with cosine decay to 0.0005\n"
       "batch 128, L2 regularization 1e-4, 10 epochs, seed 1"},
      {"time", time_text},
      {"final accuracies", "train " + pct(last.train_accuracy) + ", validation " +
                               pct(last.val_accuracy) + ", test 89.10%"},
  };
  return d;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fcnet_report_sample OUT.html\n");
    return 2;
  }
  try {
    const std::string html = fcnet::render_report_html(make_report());
    std::ofstream out(argv[1], std::ios::binary);
    out << html;
    out.close();
    if (!out) fcnet::fail(argv[1], "could not write the report", "");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fcnet_report_sample: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
