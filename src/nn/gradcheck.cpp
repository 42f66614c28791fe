#include "fcnet/gradcheck.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/parallel.hpp"

namespace fcnet {

const char* const kGradCheckCriterion =
    "|a - n| / max(|a| + |n|, m), a analytic, n numerical, m the mean size of the per-example "
    "contributions to n (|n| when they agree in sign; larger when they cancel near zero)";

double rel_error(double analytic, double numeric) {
  return std::fabs(analytic - numeric) / std::max(1e-8, std::fabs(analytic) + std::fabs(numeric));
}

namespace {

// The unperturbed forward pass, kept whole: a[0] = x, z[l] and a[l] per layer, and per example
// the shifted exponentials e = exp(s − max s) of the scores with their sum.
struct Base {
  std::vector<Matrix<double>> z, a;
  Matrix<double> e;
  std::vector<double> esum;
};

Base forward_kept(const Network<double>& net, ConstView<double> x) {
  const int L = net.num_layers();
  const int64_t n = x.rows;
  Base b;
  b.z.resize(static_cast<std::size_t>(L + 1));
  b.a.resize(static_cast<std::size_t>(L + 1));
  b.a[0] = Matrix<double>(n, x.cols, "gradcheck input");
  std::copy(x.data, x.data + x.rows * x.cols, b.a[0].data());
  for (int l = 1; l <= L; ++l) {
    const int64_t fi = net.sizes()[l - 1], fo = net.sizes()[l];
    Matrix<double> z(n, fo, "gradcheck z");
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < fo; ++j) {
        long double acc = net.b(l)(0, j);
        for (int64_t k = 0; k < fi; ++k) acc += b.a[l - 1](i, k) * net.W(l)(k, j);
        z(i, j) = static_cast<double>(acc);
      }
    if (l < L) {
      Matrix<double> a(n, fo, "gradcheck a");
      for (int64_t i = 0; i < z.size(); ++i) a[i] = activation_value(net.activation(), z[i]);
      b.a[static_cast<std::size_t>(l)] = std::move(a);
    }
    b.z[static_cast<std::size_t>(l)] = std::move(z);
  }
  const Matrix<double>& s = b.z[static_cast<std::size_t>(L)];
  b.e = Matrix<double>(n, s.cols(), "gradcheck exp");
  b.esum.assign(static_cast<std::size_t>(n), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    double mx = s(i, 0);
    for (int64_t c = 1; c < s.cols(); ++c) mx = std::max(mx, s(i, c));
    for (int64_t c = 0; c < s.cols(); ++c) {
      b.e(i, c) = std::exp(s(i, c) - mx);
      b.esum[static_cast<std::size_t>(i)] += b.e(i, c);
    }
  }
  return b;
}

struct Change {
  long double sum = 0;  // Σ_i ΔLᵢ
  double abs = 0;       // Σ_i |ΔLᵢ|
  bool kink = false;    // some unit's pre-activation crossed a relu kink
};

// Per-thread buffers for one perturbation.
struct Scratch {
  std::vector<double> col, dz, da;
};

class Differ {
 public:
  Differ(const Network<double>& net, ConstView<double> x, const int32_t* y, const double* w)
      : net_(net), y_(y), w_(w), base_(forward_kept(net, x)) {
    kinked_ = net.activation().kind == Activation::relu ||
              net.activation().kind == Activation::leaky_relu;
    linear_ = kinked_ || net.activation().kind == Activation::identity;
  }

  // The change of Σ_i Lᵢ when parameter (row k, column j) of layer l moves by delta (k < 0: the
  // bias b_l[j]).
  Change data_loss_change(int l, int64_t k, int64_t j, double delta, Scratch& s) const {
    const int L = net_.num_layers();
    const int64_t n = base_.a[0].rows();
    Change out;
    int64_t width = net_.sizes()[l];
    // Layer l: only column j moves, by a_{l−1}[i, k]·δ (or δ for the bias).
    s.col.resize(static_cast<std::size_t>(n));
    for (int64_t i = 0; i < n; ++i)
      s.col[static_cast<std::size_t>(i)] =
          (k < 0 ? 1.0 : base_.a[static_cast<std::size_t>(l - 1)](i, k)) * delta;
    if (l == L) {
      s.dz.assign(static_cast<std::size_t>(n * width), 0.0);
      for (int64_t i = 0; i < n; ++i)
        s.dz[static_cast<std::size_t>(i * width + j)] = s.col[static_cast<std::size_t>(i)];
    } else {
      // Its activations' change, then layer l+1's pre-activation change, a rank-one update.
      const Matrix<double>& z = base_.z[static_cast<std::size_t>(l)];
      const int64_t next = net_.sizes()[l + 1];
      const ConstView<double> W = net_.W(l + 1);
      s.dz.assign(static_cast<std::size_t>(n * next), 0.0);
      for (int64_t i = 0; i < n; ++i) {
        const double d = change(z(i, j), s.col[static_cast<std::size_t>(i)], out.kink);
        if (d == 0.0) continue;
        double* row = s.dz.data() + i * next;
        for (int64_t v = 0; v < next; ++v) row[v] = d * W(j, v);
      }
      width = next;
      for (int m = l + 1; m < L; ++m) {
        const Matrix<double>& zm = base_.z[static_cast<std::size_t>(m)];
        s.da.resize(s.dz.size());
        for (std::size_t q = 0; q < s.dz.size(); ++q)
          s.da[q] = change(zm[static_cast<int64_t>(q)], s.dz[q], out.kink);
        const int64_t after = net_.sizes()[m + 1];
        const ConstView<double> Wm = net_.W(m + 1);
        s.dz.assign(static_cast<std::size_t>(n * after), 0.0);
        for (int64_t i = 0; i < n; ++i)
          for (int64_t u = 0; u < width; ++u) {
            const double d = s.da[static_cast<std::size_t>(i * width + u)];
            if (d == 0.0) continue;
            double* row = s.dz.data() + i * after;
            for (int64_t v = 0; v < after; ++v) row[v] += d * Wm(u, v);
          }
        width = after;
      }
    }
    // ΔLᵢ = lse(s+Δs) − lse(s) − Δs_y = log1p(Σ_c e_c·expm1(Δs_c − Δs_y) / Σ_c e_c): exact in
    // relative terms, with no subtraction of numbers the size of the loss.
    for (int64_t i = 0; i < n; ++i) {
      const double* ds = s.dz.data() + i * width;
      const int32_t yi = y_[i];
      long double acc = 0;
      for (int64_t c = 0; c < width; ++c)
        if (c != yi) acc += base_.e(i, c) * std::expm1(ds[c] - ds[yi]);
      const double li =
          std::log1p(static_cast<double>(acc / base_.esum[static_cast<std::size_t>(i)]));
      const double wi = w_ ? w_[i] : 1.0;
      out.sum += wi * li;
      out.abs += wi * std::fabs(li);
    }
    return out;
  }

  int64_t batch() const { return base_.a[0].rows(); }

 private:
  // f(z + d) − f(z) for one unit; sets `kink` when the step crosses a relu kink.
  double change(double z, double d, bool& kink) const {
    if (d == 0.0) return 0.0;
    const ActivationFn f = net_.activation();
    const double moved = z + d;
    if (linear_) {
      // Piecewise linear: the change is the slope times d, with no rounding of z + d.
      if (kinked_ && ((moved > 0) != (z > 0))) kink = true;
      const double slope = f.kind == Activation::relu         ? (z > 0 ? 1.0 : 0.0)
                           : f.kind == Activation::leaky_relu ? (z > 0 ? 1.0 : f.alpha)
                                                              : 1.0;
      return slope * d;
    }
    // z + d rounds to `moved`; moved − z is exact (Sterbenz), so the secant over the step actually
    // taken is rescaled to the step asked for.
    const double taken = moved - z;
    if (taken == 0.0) return 0.0;
    return (activation_value(f, moved) - activation_value(f, z)) * (d / taken);
  }

  const Network<double>& net_;
  const int32_t* y_;
  const double* w_;
  Base base_;
  bool kinked_ = false;  // relu, leaky_relu: a kink at 0
  bool linear_ = false;  // piecewise linear (those and identity)
};

double rms(ConstView<double> t) {
  long double s = 0;
  for (int64_t i = 0; i < t.rows * t.cols; ++i)
    s += static_cast<long double>(t.data[i]) * t.data[i];
  return t.rows * t.cols > 0 ? std::sqrt(static_cast<double>(s / (t.rows * t.cols))) : 0.0;
}

struct Verdict {
  double error = 0;
  bool skipped = false;
};

}  // namespace

GradCheckResult compare_gradients(const Network<double>& net, ConstView<double> x, const int32_t* y,
                                  double reg, const double* analytic, double h,
                                  int64_t max_per_tensor, Rng* rng, const double* weights) {
  if (!(h > 0)) fail("gradcheck", "step h is " + std::to_string(h), "a positive relative step");
  const Differ differ(net, x, y, weights);
  double total = static_cast<double>(differ.batch());
  if (weights) total = std::accumulate(weights, weights + differ.batch(), 0.0);
  if (!(total > 0)) fail("gradcheck", "the example weights sum to 0", "a positive total weight");
  const double inv_n = 1.0 / total;
  GradCheckResult r;
  for (int l = 1; l <= net.num_layers(); ++l) {
    for (bool bias : {false, true}) {
      const int64_t off = net.offset(l, bias);
      const int64_t cols = net.sizes()[l];
      const int64_t count = bias ? cols : net.sizes()[l - 1] * cols;
      std::vector<int64_t> idx(static_cast<std::size_t>(count));
      std::iota(idx.begin(), idx.end(), 0);
      if (max_per_tensor > 0 && count > max_per_tensor && rng) {
        rng->shuffle(idx);
        idx.resize(static_cast<std::size_t>(max_per_tensor));
      }
      double scale = rms(bias ? net.b(l) : net.W(l));
      if (!(scale > 0)) scale = rms(net.W(l));
      if (!(scale > 0)) scale = 1.0;
      const double step = h * scale;
      std::vector<Verdict> verdicts(idx.size());
      detail::for_chunks(static_cast<int64_t>(idx.size()), true, 1, [&](int64_t b, int64_t e) {
        Scratch s;
        for (int64_t q = b; q < e; ++q) {
          const int64_t i = idx[static_cast<std::size_t>(q)];
          const int64_t k = bias ? -1 : i / cols, j = i % cols;
          const double theta = net.params()[off + i];
          Verdict& v = verdicts[static_cast<std::size_t>(q)];
          v.skipped = true;
          for (int attempt = 0; attempt < 5 && v.skipped; ++attempt) {
            const double d = step / std::pow(16.0, attempt);
            double loss[4], size = 0;
            bool kink = false;
            const double mult[4] = {1, -1, 2, -2};
            for (int t = 0; t < 4; ++t) {
              const double delta = mult[t] * d;
              const Change c = differ.data_loss_change(l, k, j, delta, s);
              kink = kink || c.kink;
              // reg·((θ+δ)² − θ²) = reg·δ·(2θ + δ), for the weights only.
              const double rg = bias ? 0.0 : reg * delta * (2.0 * theta + delta);
              loss[t] = static_cast<double>(c.sum) * inv_n + rg;
              if (t < 2) size += c.abs * inv_n + std::fabs(rg);
            }
            if (kink) continue;
            const double numeric = (8.0 * (loss[0] - loss[1]) - (loss[2] - loss[3])) / (12.0 * d);
            const double m = size / (2.0 * d);
            const double a = analytic[off + i];
            const double num = std::fabs(a - numeric);
            const double den = std::max(std::fabs(a) + std::fabs(numeric), m);
            v.error = num == 0.0 ? 0.0 : (den > 0 ? num / den : INFINITY);
            v.skipped = false;
          }
        }
      });
      const std::string name = (bias ? "b" : "W") + std::to_string(l);
      double worst = 0.0;
      for (std::size_t q = 0; q < verdicts.size(); ++q) {
        if (verdicts[q].skipped) {
          ++r.skipped_at_kinks;
          continue;
        }
        ++r.checked;
        if (verdicts[q].error > worst) worst = verdicts[q].error;
        if (r.worst_tensor.empty() || verdicts[q].error > r.max_rel_error) {
          r.max_rel_error = verdicts[q].error;
          r.worst_tensor = name;
          r.worst_index = idx[q];
        }
      }
      r.params.emplace_back(name, worst);
    }
  }
  return r;
}

GradCheckResult gradcheck(Network<double>& net, ConstView<double> x, const int32_t* y, double reg,
                          double h, int64_t max_per_tensor, Rng* rng, const double* weights) {
  Workspace<double> ws(false);
  double scale = 0.0;
  if (weights) scale = 1.0 / std::accumulate(weights, weights + x.rows, 0.0);
  forward_backward(net, x, y, reg, ws, nullptr, scale, true, weights);
  return compare_gradients(net, x, y, reg, net.grads(), h, max_per_tensor, rng, weights);
}

}  // namespace fcnet
