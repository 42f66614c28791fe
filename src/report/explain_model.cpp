// fcnet explain --model: one example of a data set walked through a trained network with its real
// numbers, in the seed's notation (explain.hpp).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <numeric>

#include "fcnet/activation.hpp"
#include "fcnet/error.hpp"
#include "fcnet/explain.hpp"
#include "fcnet/text.hpp"

namespace fcnet {

namespace {

// Scores S and every layer's Z and O of one transformed input row x (the network in double).
struct Pass {
  std::vector<std::vector<double>> Z, O;  // O[0] = x; Z[l], O[l] for l = 1..L (O[L] = S)
};

Pass run(const Network<double>& net, const std::vector<double>& x) {
  const int L = net.num_layers();
  Pass p;
  p.Z.resize(static_cast<std::size_t>(L + 1));
  p.O.resize(static_cast<std::size_t>(L + 1));
  p.O[0] = x;
  for (int l = 1; l <= L; ++l) {
    const ConstView<double> W = net.W(l), b = net.b(l);
    std::vector<double> z(static_cast<std::size_t>(W.cols));
    for (int64_t j = 0; j < W.cols; ++j) {
      double s = b(0, j);
      for (int64_t i = 0; i < W.rows; ++i) s += p.O[static_cast<std::size_t>(l - 1)][i] * W(i, j);
      z[static_cast<std::size_t>(j)] = s;
    }
    std::vector<double> o = z;
    if (l < L)
      for (double& v : o) v = activation_value(net.activation(), v);
    p.Z[static_cast<std::size_t>(l)] = std::move(z);
    p.O[static_cast<std::size_t>(l)] = std::move(o);
  }
  return p;
}

std::vector<double> softmax(const std::vector<double>& s) {
  const double mx = *std::max_element(s.begin(), s.end());
  std::vector<double> e(s.size());
  double sum = 0;
  for (std::size_t j = 0; j < s.size(); ++j) sum += e[j] = std::exp(s[j] - mx);
  for (double& v : e) v /= sum;
  return e;
}

double log_prob(const Pass& p, int64_t k) {
  const auto& s = p.O.back();
  const double mx = *std::max_element(s.begin(), s.end());
  double sum = 0;
  for (double v : s) sum += std::exp(v - mx);
  return s[static_cast<std::size_t>(k)] - mx - std::log(sum);
}

std::string num(double v, int digits) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

// A vector in one line, or for more than `show` entries a summary and its largest entries.
std::string vec(const std::vector<double>& v, int digits, std::size_t show = 12) {
  std::string out = "[";
  if (v.size() <= show) {
    for (std::size_t j = 0; j < v.size(); ++j) out += (j ? ", " : "") + num(v[j], digits);
    return out + "]";
  }
  double lo = INFINITY, hi = -INFINITY, sum = 0;
  int64_t zeros = 0;
  for (double x : v) lo = std::min(lo, x), hi = std::max(hi, x), sum += x, zeros += x == 0;
  std::vector<std::size_t> idx(v.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::partial_sort(idx.begin(), idx.begin() + 6, idx.end(), [&](std::size_t a, std::size_t b) {
    return std::fabs(v[a]) > std::fabs(v[b]);
  });
  out = std::to_string(v.size()) + " values: min " + num(lo, digits) + ", max " + num(hi, digits) +
        ", mean " + num(sum / static_cast<double>(v.size()), digits) + ", " +
        std::to_string(zeros) + " zero; largest |value| at";
  for (std::size_t k = 0; k < 6; ++k)
    out += " [" + std::to_string(idx[k]) + "] " + num(v[idx[k]], digits);
  return out;
}

}  // namespace

ModelExplanation explain_model_example(const Model& model, const Dataset& data, int64_t row,
                                       double h) {
  if (row < 0 || row >= data.n)
    fail(data.source, "has no row " + std::to_string(row),
         "a row index from 0 to " + std::to_string(data.n - 1));
  if (data.d != model.input_dim())
    fail(data.source, "has " + std::to_string(data.d) + " features per example",
         std::to_string(model.input_dim()) + " (the model's input width)");
  ModelExplanation e;
  e.row = row;
  const Network<double> net = model.f64 ? model.net64 : model.net32.cast<double>();
  e.activation = net.activation();
  const Matrix<double> raw = to_matrix<double>(data.subset({row}), InputTransform{});
  const Matrix<double> x = to_matrix<double>(data.subset({row}), model.transform);
  e.raw.assign(raw.data(), raw.data() + raw.size());
  e.x.assign(x.data(), x.data() + x.size());
  e.names = model.schema.empty() ? std::vector<std::string>{} : model.schema.feature_names();
  const auto& image = model.image_shape.size() == 2 ? model.image_shape : data.image_shape;
  if (e.names.empty())
    for (int64_t j = 0; j < data.d; ++j)
      e.names.push_back(image.size() == 2 && image[0] * image[1] == data.d
                            ? "pixel(" + std::to_string(j / image[1]) + "," +
                                  std::to_string(j % image[1]) + ")"
                            : "x" + std::to_string(j));
  for (int64_t k = 0; k < model.num_classes(); ++k)
    e.classes.push_back(k < static_cast<int64_t>(model.class_names.size())
                            ? model.class_names[static_cast<std::size_t>(k)]
                            : std::to_string(k));
  const Pass p = run(net, e.x);
  const int L = net.num_layers();
  for (int l = 1; l < L; ++l) {
    e.Z.push_back(p.Z[static_cast<std::size_t>(l)]);
    e.O.push_back(p.O[static_cast<std::size_t>(l)]);
  }
  e.S = p.O.back();
  e.P = softmax(e.S);
  e.predicted = std::max_element(e.P.begin(), e.P.end()) - e.P.begin();
  e.label = data.has_labels() ? data.labels[static_cast<std::size_t>(row)] : -1;
  if (e.label >= 0) {
    e.Li = -std::log(e.P[static_cast<std::size_t>(e.label)]);
    // Eq. 1.3: ∂L_i/∂S_k = O2_k − 1[k = y_i]; dL_i/dW_L = O_{L−1}ᵀ·∂L_i/∂S, dL_i/db_L = ∂L_i/∂S.
    e.dLi_dS = e.P;
    e.dLi_dS[static_cast<std::size_t>(e.label)] -= 1.0;
    const auto& prev = p.O[static_cast<std::size_t>(L - 1)];
    e.dWL.assign(prev.size() * e.S.size(), 0.0);
    for (std::size_t i = 0; i < prev.size(); ++i)
      for (std::size_t k = 0; k < e.S.size(); ++k)
        e.dWL[i * e.S.size() + k] = prev[i] * e.dLi_dS[k];
  }
  // The input gradient of log p(predicted), backpropagated layer by layer: d = onehot − P at S.
  std::vector<double> d(e.S.size());
  for (std::size_t k = 0; k < d.size(); ++k)
    d[k] = (static_cast<int64_t>(k) == e.predicted ? 1.0 : 0.0) - e.P[k];
  for (int l = L; l >= 1; --l) {
    const ConstView<double> W = net.W(l);
    std::vector<double> up(static_cast<std::size_t>(W.rows), 0.0);
    for (int64_t i = 0; i < W.rows; ++i)
      for (int64_t j = 0; j < W.cols; ++j) up[static_cast<std::size_t>(i)] += d[j] * W(i, j);
    if (l > 1)
      for (int64_t i = 0; i < W.rows; ++i)
        up[static_cast<std::size_t>(i)] *=
            activation_grad_z(net.activation(), p.Z[static_cast<std::size_t>(l - 1)][i]);
    d = std::move(up);
  }
  e.grad_x = d;
  e.attribution.resize(d.size());
  for (std::size_t j = 0; j < d.size(); ++j) e.attribution[j] = d[j] * e.x[j];
  // Central differences of log p(predicted) in each input. A step whose stencil moves a hidden
  // unit across relu's kink is divided by 16 (up to four times); an input whose stencil still
  // crosses one is left out and counted.
  const bool kinked =
      net.activation().kind == Activation::relu || net.activation().kind == Activation::leaky_relu;
  auto crosses = [&](const Pass& q) {
    if (!kinked) return false;
    for (int l = 1; l < L; ++l)
      for (std::size_t u = 0; u < q.Z[static_cast<std::size_t>(l)].size(); ++u)
        if ((q.Z[static_cast<std::size_t>(l)][u] > 0) != (p.Z[static_cast<std::size_t>(l)][u] > 0))
          return true;
    return false;
  };
  std::vector<double> xp = e.x;
  for (std::size_t j = 0; j < xp.size(); ++j) {
    const double keep = xp[j];
    bool done = false;
    for (int attempt = 0; attempt < 5 && !done; ++attempt) {
      const double step = h / std::pow(16.0, attempt);
      xp[j] = keep + step;
      const Pass up = run(net, xp);
      xp[j] = keep - step;
      const Pass down = run(net, xp);
      xp[j] = keep;
      if (crosses(up) || crosses(down)) continue;
      const double a = log_prob(up, e.predicted), b = log_prob(down, e.predicted);
      const double numeric = (a - b) / (2 * step);
      e.max_abs_diff = std::max(e.max_abs_diff, std::fabs(numeric - d[j]));
      e.max_grad = std::max(e.max_grad, std::fabs(d[j]));
      done = true;
    }
    if (!done) ++e.skipped_at_kinks;
  }
  e.h = h;
  return e;
}

std::string explain_model_text(const ModelExplanation& e, int digits) {
  std::string t;
  auto line = [&](const std::string& s) { t += s + "\n"; };
  line("Example " + std::to_string(e.row) +
       " through the network (the seed's notation; layer l: "
       "Z_l = O_{l-1}·W_l + b_l, O_l = f(Z_l), O_0 = the transformed input)");
  line("");
  line("input (raw -> after the model's transform):");
  for (std::size_t j = 0; j < e.x.size() && j < 24; ++j)
    line("  " + e.names[j] + " = " + num(e.raw[j], digits) + " -> " + num(e.x[j], digits));
  if (e.x.size() > 24) line("  ... (" + std::to_string(e.x.size()) + " features in all)");
  for (std::size_t l = 0; l < e.Z.size(); ++l) {
    line("Z" + std::to_string(l + 1) + " = " + vec(e.Z[l], digits));
    line("O" + std::to_string(l + 1) + " = " + std::string(activation_name(e.activation.kind)) +
         "(Z" + std::to_string(l + 1) + ") = " + vec(e.O[l], digits));
  }
  line("S (scores) = " + vec(e.S, digits));
  std::string probs;
  for (std::size_t k = 0; k < e.P.size(); ++k)
    probs += (k ? ", " : "") + e.classes[k] + " " + num(e.P[k], digits);
  line("softmax(S) = " + probs);
  line("predicted: " + e.classes[static_cast<std::size_t>(e.predicted)]);
  if (e.label >= 0) {
    line("label: " + e.classes[static_cast<std::size_t>(e.label)] +
         "; L_i = -log softmax(S)[y_i] = " + num(e.Li, digits));
    line("dL_i/dS = softmax(S) - onehot(y_i) (eq. 1.3) = " + vec(e.dLi_dS, digits));
    line("dL_i/dW" + std::to_string(e.Z.size() + 1) + " = O" + std::to_string(e.Z.size()) +
         "^T · dL_i/dS = " + vec(e.dWL, digits) + "; dL_i/db = dL_i/dS");
  }
  line("");
  line("attribution of each input to log p(" + e.classes[static_cast<std::size_t>(e.predicted)] +
       "): gradient x input, largest first");
  std::vector<std::size_t> idx(e.attribution.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) {
    return std::fabs(e.attribution[a]) > std::fabs(e.attribution[b]);
  });
  for (std::size_t k = 0; k < idx.size() && k < 15; ++k)
    line("  " + e.names[idx[k]] + ": " + num(e.attribution[idx[k]], digits) + " (gradient " +
         num(e.grad_x[idx[k]], digits) + ")");
  line("");
  line("check: the input gradient against central differences (h = " + num(e.h, 2) +
       ") of log p on this example: max |difference| " + num(e.max_abs_diff, 3) +
       " (largest |gradient| " + num(e.max_grad, 3) + ")" +
       (e.skipped_at_kinks > 0 ? "; " + std::to_string(e.skipped_at_kinks) +
                                     " inputs left out: every step crossed a relu kink"
                               : std::string()));
  return t;
}

std::string explain_model_json(const ModelExplanation& e) {
  using nlohmann::json;
  json j;
  j["row"] = e.row;
  j["features"] = e.names;
  j["classes"] = e.classes;
  j["raw"] = e.raw;
  j["x"] = e.x;
  j["Z"] = e.Z;
  j["O"] = e.O;
  j["S"] = e.S;
  j["softmax"] = e.P;
  j["predicted"] = e.classes[static_cast<std::size_t>(e.predicted)];
  if (e.label >= 0) {
    j["label"] = e.classes[static_cast<std::size_t>(e.label)];
    j["L_i"] = e.Li;
    j["dLi_dS"] = e.dLi_dS;
    j["dLi_dW_last"] = e.dWL;
  }
  j["grad_x"] = e.grad_x;
  j["attribution"] = e.attribution;
  j["check"] = {{"h", e.h},
                {"max_abs_diff", e.max_abs_diff},
                {"max_abs_grad", e.max_grad},
                {"skipped_at_kinks", e.skipped_at_kinks}};
  return json_text(j);
}

}  // namespace fcnet
