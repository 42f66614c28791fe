// The seed's worked example with real numbers: computed with Network<double> and the reference
// kernels, then printed as text, HTML tables or JSON.
#include "fcnet/explain.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fcnet/error.hpp"
#include "fcnet/kernels.hpp"
#include "fcnet/network.hpp"
#include "report/text.hpp"

namespace fcnet {

// ------------------------------------------------------------------ NumPy's legacy generator

NumpyLegacyRandom::NumpyLegacyRandom(uint32_t seed) {
  // MT19937 init_genrand, which np.random.seed(int) uses.
  mt_[0] = seed;
  for (uint32_t i = 1; i < 624; ++i) mt_[i] = 1812433253U * (mt_[i - 1] ^ (mt_[i - 1] >> 30)) + i;
  pos_ = 624;
}

uint32_t NumpyLegacyRandom::next32() {
  constexpr uint32_t kUpper = 0x80000000U, kLower = 0x7fffffffU, kMatrix = 0x9908b0dfU;
  if (pos_ >= 624) {
    for (int i = 0; i < 624; ++i) {
      const uint32_t y = (mt_[i] & kUpper) | (mt_[(i + 1) % 624] & kLower);
      mt_[i] = mt_[(i + 397) % 624] ^ (y >> 1) ^ ((y & 1U) ? kMatrix : 0U);
    }
    pos_ = 0;
  }
  uint32_t y = mt_[pos_++];
  y ^= y >> 11;
  y ^= (y << 7) & 0x9d2c5680U;
  y ^= (y << 15) & 0xefc60000U;
  return y ^ (y >> 18);
}

double NumpyLegacyRandom::uniform() {
  const uint32_t a = next32() >> 5, b = next32() >> 6;
  return (a * 67108864.0 + b) / 9007199254740992.0;
}

double NumpyLegacyRandom::randn() {
  if (has_gauss_) {
    has_gauss_ = false;
    return gauss_;
  }
  double x1, x2, r2;
  do {
    x1 = 2.0 * uniform() - 1.0;
    x2 = 2.0 * uniform() - 1.0;
    r2 = x1 * x1 + x2 * x2;
  } while (r2 >= 1.0 || r2 == 0.0);
  const double f = std::sqrt(-2.0 * std::log(r2) / r2);
  gauss_ = f * x1;
  has_gauss_ = true;
  return f * x2;
}

namespace {

constexpr int64_t kN = 5, kD = 4, kH = 10, kC = 3;

Matrix<double> draw(NumpyLegacyRandom& rng, int64_t r, int64_t c, double scale) {
  Matrix<double> m(r, c);
  for (int64_t i = 0; i < m.size(); ++i) m[i] = scale * rng.randn();
  return m;
}

Matrix<double> copy_of(ConstView<double> v) {
  Matrix<double> m(v.rows, v.cols);
  copy<double>(m.view(), v);
  return m;
}

}  // namespace

SeedExample explain_seed_example(uint64_t seed, double h) {
  if (seed >= 0xFFFFFFFFULL)
    fail("--seed", "is " + std::to_string(seed),
         "a seed below 4294967295 (np.random.seed(seed + 1) must be valid)");
  if (!(h > 0) || !std::isfinite(h)) fail("explain", "step h is not positive", "h > 0");
  SeedExample ex;
  ex.seed = seed;
  ex.h = h;
  {
    NumpyLegacyRandom rng(static_cast<uint32_t>(seed));
    ex.W1 = draw(rng, kD, kH, 0.1);
    ex.W2 = draw(rng, kH, kC, 0.1);
  }
  {
    NumpyLegacyRandom rng(static_cast<uint32_t>(seed + 1));
    ex.X = draw(rng, kN, kD, 10.0);
  }
  ex.b1 = Matrix<double>(1, kH);
  ex.b2 = Matrix<double>(1, kC);
  ex.y = {0, 1, 2, 2, 1};

  Network<double> net({kD, kH, kC}, ActivationFn{Activation::relu, 0.01});
  copy<double>(net.W(1), ex.W1.cview());
  copy<double>(net.b(1), ex.b1.cview());
  copy<double>(net.W(2), ex.W2.cview());
  copy<double>(net.b(2), ex.b2.cview());
  Workspace<double> ws(false);  // the reference kernels

  // Forward pass, one step at a time with the reference kernels.
  ex.Z1 = Matrix<double>(kN, kH);
  GemmOp<double> linear;
  linear.bias = net.b(1).data;
  ref::gemm<double>(ex.Z1.view(), ex.X.cview(), net.W(1), linear);
  ex.O1 = Matrix<double>(kN, kH);
  ref::activation_forward<double>(ex.O1.view(), ex.Z1.cview(), net.activation());
  ex.S = copy_of(forward_scores<double>(net, ex.X.cview(), ws));
  ex.U = Matrix<double>(kN, kC);
  for (int64_t i = 0; i < ex.S.size(); ++i) ex.U[i] = std::exp(ex.S[i]);
  ex.O2 = Matrix<double>(kN, kC);
  ex.Li.assign(kN, 0.0);
  const double sum =
      softmax_xent_forward<double>(ex.O2.view(), ex.S.cview(), ex.y.data(), ex.Li.data());
  ex.L = sum / kN;

  // Eq. 1.3 is the fused softmax–cross-entropy backward with scale 1 (no 1/N).
  ex.dLi_dS = ex.S;
  ref::softmax_xent_backward<double>(ex.dLi_dS.view(), ex.y.data(), 1.0, nullptr);

  // The gradient written out as the seed derives it, and the snippet's version.
  ex.dW2_formula = Matrix<double>(kH, kC);
  ex.dW2_snippet = Matrix<double>(kH, kC);
  for (int64_t m = 0; m < kH; ++m)
    for (int64_t n = 0; n < kC; ++n) {
      double s = 0;
      for (int64_t i = 0; i < kN; ++i) s += ex.O1(i, m) * ex.dLi_dS(i, n);
      ex.dW2_formula(m, n) = (1.0 / kN) * s;
      ex.dW2_snippet(m, n) = (-1.0 / kN) * s;
    }

  // The library's gradient.
  const LossParts lp = forward_backward<double>(net, ex.X.cview(), ex.y.data(), 0.0, ws);
  if (std::fabs(lp.loss - ex.L) > 1e-12 * std::max(1.0, ex.L))
    fail("explain",
         "forward_backward's loss " + std::to_string(lp.loss) +
             " differs from the forward pass's " + std::to_string(ex.L),
         "the same loss");
  ex.dW2_library = copy_of(net.dW(2));
  ex.db2_library = copy_of(net.db(2));

  // Central differences of L on every W2 and b2 entry.
  auto numerical = [&](MatrixView<double> p) {
    Matrix<double> g(p.rows, p.cols);
    for (int64_t r = 0; r < p.rows; ++r)
      for (int64_t c = 0; c < p.cols; ++c) {
        const double saved = p(r, c);
        p(r, c) = saved + h;
        const double up = loss_only<double>(net, ex.X.cview(), ex.y.data(), 0.0, ws).loss;
        p(r, c) = saved - h;
        const double down = loss_only<double>(net, ex.X.cview(), ex.y.data(), 0.0, ws).loss;
        p(r, c) = saved;
        g(r, c) = (up - down) / (2 * h);
      }
    return g;
  };
  ex.dW2_numerical = numerical(net.W(2));
  ex.db2_numerical = numerical(net.b(2));
  for (int64_t i = 0; i < ex.dW2_library.size(); ++i) {
    ex.max_abs_diff_numerical =
        std::max(ex.max_abs_diff_numerical, std::fabs(ex.dW2_library[i] - ex.dW2_numerical[i]));
    ex.max_abs_diff_formula =
        std::max(ex.max_abs_diff_formula, std::fabs(ex.dW2_formula[i] - ex.dW2_library[i]));
  }
  for (int64_t i = 0; i < ex.db2_library.size(); ++i)
    ex.max_abs_diff_numerical =
        std::max(ex.max_abs_diff_numerical, std::fabs(ex.db2_library[i] - ex.db2_numerical[i]));
  return ex;
}

// ------------------------------------------------------------------ text

namespace {

using report_detail::format_fixed;  // never "-0.000"
std::string sci(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1e", v);
  return b;
}
// "5x4" (text) or "5×4" (HTML); a row vector shows its length only.
std::string shape(const Matrix<double>& m, const char* times = "x") {
  return m.rows() == 1 ? std::to_string(m.cols())
                       : std::to_string(m.rows()) + times + std::to_string(m.cols());
}

// Named matrix (or row vector) with index labels: rows i=…/m=…, columns j=…/k=….
struct Shown {
  const char* name;
  const Matrix<double>* m;
  const char* row_index;  // "i", "m", "j"; nullptr for a vector
  const char* col_index;
  std::string caption;
};

std::string matrix_text(const Shown& s, int digits) {
  const Matrix<double>& m = *s.m;
  std::vector<std::string> cells(static_cast<std::size_t>(m.size()));
  std::size_t w = 0;
  for (int64_t i = 0; i < m.size(); ++i) {
    cells[static_cast<std::size_t>(i)] = format_fixed(m[i], digits);
    w = std::max(w, cells[static_cast<std::size_t>(i)].size());
  }
  const std::string col = s.col_index;
  w = std::max(w, col.size() + 1 + std::to_string(m.cols() - 1).size());
  std::string t = std::string(s.name) + "  (" + shape(m) + ")";
  if (!s.caption.empty()) t += "  " + s.caption;
  t += "\n";
  const std::string lead = s.row_index ? std::string(s.row_index) + "=" : "";
  const std::size_t label_w = lead.size() + std::to_string(m.rows() - 1).size() + 2;
  t += std::string(label_w, ' ');
  for (int64_t j = 0; j < m.cols(); ++j) {
    const std::string h = col + "=" + std::to_string(j);
    t += "  " + std::string(w - h.size(), ' ') + h;
  }
  t += "\n";
  for (int64_t i = 0; i < m.rows(); ++i) {
    std::string label = s.row_index ? lead + std::to_string(i) : "";
    label.resize(label_w, ' ');
    t += label;
    for (int64_t j = 0; j < m.cols(); ++j) {
      const std::string& c = cells[static_cast<std::size_t>(i * m.cols() + j)];
      t += "  " + std::string(w - c.size(), ' ') + c;
    }
    t += "\n";
  }
  return t + "\n";
}

std::string labels_text(const std::vector<int32_t>& y) {
  std::string s = "[";
  for (std::size_t i = 0; i < y.size(); ++i) s += (i ? ", " : "") + std::to_string(y[i]);
  return s + "]";
}

std::string draws_text(const SeedExample& ex) {
  return "np.random.seed(" + std::to_string(ex.seed) +
         "):  W1 = 0.1*randn(4, 10),  W2 = 0.1*randn(10, 3),  b1 = 0,  b2 = 0\n"
         "  np.random.seed(" +
         std::to_string(ex.seed + 1) + "):  X = 10*randn(5, 4);   labels y = " + labels_text(ex.y);
}

const char* kIntro =
    "The network of the seed (CS231n's two-layer toy net): 5 training examples of 4 features, "
    "one hidden layer of 10 relu units, a softmax output over 3 classes, no regularization. "
    "fcnet computes every number below in double precision with its reference kernels "
    "(Network<double>). Indices start at 0, as in the seed's NumPy snippet.";

// Spaces inside formulas are no-break spaces (U+00A0), so wrap() never splits a formula; the
// text output turns them back into plain spaces.
const char* kSignNote =
    "The seed's snippet computes dL_by_dW2\u00a0=\u00a0(-1.0/5)*np.matmul(O_1.T,\u00a0dL_by_dS): "
    "the same numbers with the opposite sign. That is -dL/dW2, the direction in which gradient "
    "descent moves W2 (W2\u00a0+=\u00a0lr\u00a0*\u00a0dL_by_dW2 lowers the loss), not the "
    "gradient: L\u00a0=\u00a0(1/5)\u00a0*\u00a0sum_i\u00a0L_i brings +1/5, and the numerical "
    "derivative agrees with +1/5. fcnet's forward_backward returns the gradient itself, "
    "dW2\u00a0=\u00a0O1^T\u00a0*\u00a0(O2\u00a0-\u00a0onehot(y))\u00a0/\u00a0N.";

std::string wrap(const std::string& text, std::size_t width, const std::string& indent = "") {
  std::string out, line;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find(' ', start);
    if (end == std::string::npos) end = text.size();
    const std::string word = text.substr(start, end - start);
    if (!line.empty() && line.size() + 1 + word.size() > width) {
      out += indent + line + "\n";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
    start = end + 1;
  }
  if (!line.empty()) out += indent + line + "\n";
  for (auto at = out.find("\u00a0"); at != std::string::npos; at = out.find("\u00a0", at))
    out.replace(at, 2, " ");
  return out;
}

}  // namespace

std::string explain_text(const SeedExample& ex, int digits) {
  std::string t;
  t += "The seed's worked example, computed by fcnet\n";
  t += "============================================\n\n";
  t += wrap(kIntro, 96) + "\n";
  t += "Inputs, drawn as the course's Python code draws them (NumPy's legacy generator):\n  ";
  t += draws_text(ex) + "\n\n";

  t += "1. Forward pass\n---------------\n\n";
  t += matrix_text({"X", &ex.X, "i", "j", "one example per row"}, digits);
  t += "y = " + labels_text(ex.y) + "   correct class of each example\n\n";
  t += matrix_text({"W1", &ex.W1, "j", "h", ""}, digits);
  t += matrix_text({"b1", &ex.b1, nullptr, "h", ""}, digits);
  t += matrix_text({"Z1 = X*W1 + b1", &ex.Z1, "i", "h", ""}, digits);
  t += matrix_text({"O1 = f(Z1) = max(0, Z1)", &ex.O1, "i", "h", ""}, digits);
  t += matrix_text({"W2", &ex.W2, "m", "n", ""}, digits);
  t += matrix_text({"b2", &ex.b2, nullptr, "k", ""}, digits);
  t += matrix_text({"S = O1*W2 + b2", &ex.S, "i", "k", "scores"}, digits);
  t += matrix_text({"U = exp(S)", &ex.U, "i", "k", "un-normalized probabilities"}, digits);
  t += matrix_text(
      {"O2[i,k] = U[i,k] / sum_p U[i,p]", &ex.O2, "i", "k", "softmax; each row sums to 1"}, digits);

  t += "2. Loss\n-------\n\n";
  t += "L_i = -log O2[i, y_i]\n";
  for (int64_t i = 0; i < kN; ++i) {
    const int32_t yi = ex.y[static_cast<std::size_t>(i)];
    t += "  L_" + std::to_string(i) + " = -log O2[" + std::to_string(i) + "," + std::to_string(yi) +
         "] = -log " + format_fixed(ex.O2(i, yi), digits + 2) + " = " +
         format_fixed(ex.Li[static_cast<std::size_t>(i)], digits + 2) + "\n";
  }
  t += "L = (1/5) * sum_i L_i = " + format_fixed(ex.L, 10) + "\n\n";

  t += "3. Backward through the softmax layer\n-------------------------------------\n\n";
  t += "dL_i/dS[i,k] = O2[i,k] - 1 if k = y_i, else O2[i,k]      (eq. 1.3)\n";
  t += matrix_text({"dL_by_dS", &ex.dLi_dS, "i", "k", "row i holds dL_i/dS[i,:]"}, digits);
  t += wrap(
      "Gradient Equation: dS[i,k]/dW2[m,n] = O1[i,m] when k = n and 0 otherwise, so only k = n "
      "survives the sum over k, and with L = (1/5) * sum_i L_i:",
      96);
  t += "  dL/dW2[m,n] = (1/5) * sum_i O1[i,m] * dL_i/dS[i,n],   i.e.  dL/dW2 = (1/5) * O1^T * "
       "dL_by_dS\n\n";
  t += wrap(kSignNote, 96) + "\n";

  char line[256];
  std::snprintf(line, sizeof line, "%-8s %16s %16s %16s %10s\n", "W2[m,n]", "seed snippet",
                "dL/dW2 (fcnet)", "numerical", "|diff|");
  t += line;
  for (int64_t m = 0; m < kH; ++m)
    for (int64_t n = 0; n < kC; ++n) {
      const std::string idx = "[" + std::to_string(m) + "," + std::to_string(n) + "]";
      std::snprintf(line, sizeof line, "%-8s %16s %16s %16s %10s\n", idx.c_str(),
                    format_fixed(ex.dW2_snippet(m, n), 10).c_str(),
                    format_fixed(ex.dW2_library(m, n), 10).c_str(),
                    format_fixed(ex.dW2_numerical(m, n), 10).c_str(),
                    sci(std::fabs(ex.dW2_library(m, n) - ex.dW2_numerical(m, n))).c_str());
      t += line;
    }
  t += "\n";
  t += "dL/db2[n] = (1/5) * sum_i dL_i/dS[i,n]\n";
  std::snprintf(line, sizeof line, "%-8s %16s %16s %10s\n", "b2[n]", "dL/db2 (fcnet)", "numerical",
                "|diff|");
  t += line;
  for (int64_t n = 0; n < kC; ++n) {
    const std::string idx = "[" + std::to_string(n) + "]";
    std::snprintf(line, sizeof line, "%-8s %16s %16s %10s\n", idx.c_str(),
                  format_fixed(ex.db2_library(0, n), 10).c_str(),
                  format_fixed(ex.db2_numerical(0, n), 10).c_str(),
                  sci(std::fabs(ex.db2_library(0, n) - ex.db2_numerical(0, n))).c_str());
    t += line;
  }
  t += "\nChecks\n------\n";
  t += "  max |fcnet's dW2 - (1/5)*O1^T*dL_by_dS (written-out loops)| = " +
       sci(ex.max_abs_diff_formula) + "\n";
  t += "  max |fcnet's gradient - numerical (central differences, h = " + sci(ex.h) +
       ")| = " + sci(ex.max_abs_diff_numerical) + "\n";
  t += "  seed snippet = -1 * fcnet's dW2 in every entry\n";
  return t;
}

// ------------------------------------------------------------------ HTML

namespace {

using report_detail::html_escape;

std::string matrix_html(const Shown& s, int digits, const std::vector<int32_t>* mark_y = nullptr) {
  const Matrix<double>& m = *s.m;
  std::string h = "<figure class=\"matrix\"><figcaption><b>" + html_escape(s.name) +
                  "</b> <span class=\"dim\">" + shape(m, "\u00d7") + "</span>";
  if (!s.caption.empty()) h += " <span class=\"muted\">" + html_escape(s.caption) + "</span>";
  h += "</figcaption><table><thead><tr><th></th>";
  for (int64_t j = 0; j < m.cols(); ++j)
    h += "<th>" + std::string(s.col_index) + "=" + std::to_string(j) + "</th>";
  h += "</tr></thead><tbody>";
  for (int64_t i = 0; i < m.rows(); ++i) {
    h += "<tr><th>" + (s.row_index ? std::string(s.row_index) + "=" + std::to_string(i) : "") +
         "</th>";
    for (int64_t j = 0; j < m.cols(); ++j) {
      const bool mark = mark_y && (*mark_y)[static_cast<std::size_t>(i)] == j;
      const double v = m(i, j);
      h += std::string("<td") +
           (mark    ? " class=\"y\""
            : v < 0 ? " class=\"neg\""
                    : "") +
           ">" + format_fixed(v, digits) + "</td>";
    }
    h += "</tr>";
  }
  return h + "</tbody></table></figure>";
}

constexpr const char* kExplainStyle = R"css(
:root { color-scheme: light; }
body { margin: 0; background: #f3f5f8; color: #1f2933;
  font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Liberation Sans",
    sans-serif; }
main { max-width: 1100px; margin: 0 auto; padding: 24px; }
h1 { font-size: 25px; margin: 0 0 6px; }
h2 { font-size: 18px; margin: 0 0 10px; }
section { background: #fff; border: 1px solid #e4e7eb; border-radius: 12px; padding: 18px 22px;
  margin: 0 0 18px; }
p { max-width: 880px; }
.muted, .dim { color: #616e7c; font-weight: 400; }
code, .eq { font-family: ui-monospace, "DejaVu Sans Mono", "Liberation Mono", monospace;
  font-size: 13.5px; }
.eq { background: #f8fafc; border: 1px solid #e4e7eb; border-radius: 8px; padding: 8px 12px;
  display: inline-block; margin: 4px 0 10px; }
.grid { display: flex; flex-wrap: wrap; gap: 16px 28px; align-items: flex-start; }
figure.matrix { margin: 0 0 6px; }
figcaption { font-size: 14px; margin: 0 0 4px; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; font-size: 13px; }
th { color: #7b8794; font-weight: 500; padding: 2px 8px; text-align: right; }
td { padding: 2px 8px; text-align: right; border-top: 1px solid #eef1f5;
  font-family: ui-monospace, "DejaVu Sans Mono", "Liberation Mono", monospace; }
td.neg { color: #1d4ed8; }
td.y { background: #fef3c7; font-weight: 700; }
table.grad td.diff { color: #15803d; }
table.grad thead th { border-bottom: 2px solid #e4e7eb; color: #3e4c59; font-weight: 600; }
.checks li { margin: 2px 0; }
footer { color: #9aa5b1; font-size: 12.5px; max-width: 1100px; margin: 0 auto;
  padding: 0 24px 24px; }
)css";

}  // namespace

std::string explain_html(const SeedExample& ex, int digits) {
  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
       "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
       "style-src 'unsafe-inline'\">\n<meta name=\"generator\" content=\"fcnet\">\n"
       "<title>The seed's worked example, computed by fcnet</title>\n<style>" +
       std::string(kExplainStyle) + "</style>\n</head>\n<body>\n<main>\n";
  std::string draws_html = html_escape(draws_text(ex));
  for (auto at = draws_html.find('\n'); at != std::string::npos; at = draws_html.find('\n', at))
    draws_html.replace(at, 1, "<br>");
  h += "<h1>The seed's worked example, computed by fcnet</h1>\n<p class=\"muted\">" +
       html_escape(kIntro) +
       "</p>\n<p>Inputs, drawn as the course's Python code draws them "
       "(NumPy's legacy generator):<br><code>" +
       draws_html + "</code></p>\n";

  h += "<section id=\"forward\"><h2>1. Forward pass</h2><div class=\"grid\">";
  h += matrix_html({"X", &ex.X, "i", "j", "one example per row"}, digits);
  h += "<figure class=\"matrix\"><figcaption><b>y</b> <span class=\"muted\">correct class of "
       "each example</span></figcaption><code>" +
       labels_text(ex.y) + "</code></figure>";
  h += "</div><div class=\"grid\">";
  h += matrix_html({"W1", &ex.W1, "j", "h", ""}, digits);
  h += matrix_html({"b1", &ex.b1, nullptr, "h", ""}, digits);
  h += matrix_html({"Z1 = X·W1 + b1", &ex.Z1, "i", "h", ""}, digits);
  h += matrix_html({"O1 = f(Z1) = max(0, Z1)", &ex.O1, "i", "h", ""}, digits);
  h += "</div><div class=\"grid\">";
  h += matrix_html({"W2", &ex.W2, "m", "n", ""}, digits);
  h += matrix_html({"b2", &ex.b2, nullptr, "k", ""}, digits);
  h += matrix_html({"S = O1·W2 + b2", &ex.S, "i", "k", "scores"}, digits);
  h += matrix_html({"U = exp(S)", &ex.U, "i", "k", "un-normalized"}, digits);
  h += matrix_html({"O2[i,k] = U[i,k] / Σ_p U[i,p]", &ex.O2, "i", "k", "softmax"}, digits, &ex.y);
  h += "</div></section>\n";

  h += "<section id=\"loss\"><h2>2. Loss</h2><div class=\"eq\">L<sub>i</sub> = −log "
       "O2[i, y<sub>i</sub>]</div><table><tbody>";
  for (int64_t i = 0; i < kN; ++i) {
    const int32_t yi = ex.y[static_cast<std::size_t>(i)];
    h += "<tr><th>L<sub>" + std::to_string(i) + "</sub></th><td>= −log O2[" + std::to_string(i) +
         "," + std::to_string(yi) + "] = −log " + format_fixed(ex.O2(i, yi), digits + 2) +
         "</td><td>= " + format_fixed(ex.Li[static_cast<std::size_t>(i)], digits + 2) +
         "</td></tr>";
  }
  h += "<tr><th>L</th><td>= (1/5) · Σ<sub>i</sub> L<sub>i</sub></td><td id=\"total-loss\">= " +
       format_fixed(ex.L, 10) + "</td></tr></tbody></table></section>\n";

  h += "<section id=\"backward\"><h2>3. Backward through the softmax layer</h2>";
  h += "<div class=\"eq\">∂L<sub>i</sub>/∂S[i,k] = O2[i,k] − 1 if k = y<sub>i</sub>, else "
       "O2[i,k] &nbsp; (eq. 1.3)</div><div class=\"grid\">";
  h += matrix_html({"dL_by_dS", &ex.dLi_dS, "i", "k", "row i holds ∂L_i/∂S[i,:]"}, digits, &ex.y);
  h += "</div><p>Gradient Equation: ∂S[i,k]/∂W2[m,n] = O1[i,m] when k = n and 0 otherwise, so "
       "only k = n survives the sum over k; with L = (1/5)·Σ<sub>i</sub> L<sub>i</sub>:</p>"
       "<div class=\"eq\">dL/dW2[m,n] = (1/5) · Σ<sub>i</sub> O1[i,m] · ∂L<sub>i</sub>/∂S[i,n]"
       " &nbsp; i.e. &nbsp; dL/dW2 = (1/5) · O1ᵀ · dL_by_dS</div>";
  h += "<p>" + html_escape(kSignNote) + "</p>";
  h += "<table class=\"grad\" id=\"dW2\"><thead><tr><th>W2[m,n]</th><th>seed snippet</th>"
       "<th>dL/dW2 (fcnet)</th><th>numerical</th><th>|fcnet − numerical|</th></tr></thead>"
       "<tbody>";
  for (int64_t m = 0; m < kH; ++m)
    for (int64_t n = 0; n < kC; ++n)
      h += "<tr><th>[" + std::to_string(m) + "," + std::to_string(n) + "]</th><td>" +
           format_fixed(ex.dW2_snippet(m, n), 10) + "</td><td>" +
           format_fixed(ex.dW2_library(m, n), 10) + "</td><td>" +
           format_fixed(ex.dW2_numerical(m, n), 10) + "</td><td class=\"diff\">" +
           sci(std::fabs(ex.dW2_library(m, n) - ex.dW2_numerical(m, n))) + "</td></tr>";
  h += "</tbody></table>";
  h += "<div class=\"eq\">dL/db2[n] = (1/5) · Σ<sub>i</sub> ∂L<sub>i</sub>/∂S[i,n]</div>";
  h += "<table class=\"grad\" id=\"db2\"><thead><tr><th>b2[n]</th><th>dL/db2 (fcnet)</th>"
       "<th>numerical</th><th>|fcnet − numerical|</th></tr></thead><tbody>";
  for (int64_t n = 0; n < kC; ++n)
    h += "<tr><th>[" + std::to_string(n) + "]</th><td>" + format_fixed(ex.db2_library(0, n), 10) +
         "</td><td>" + format_fixed(ex.db2_numerical(0, n), 10) + "</td><td class=\"diff\">" +
         sci(std::fabs(ex.db2_library(0, n) - ex.db2_numerical(0, n))) + "</td></tr>";
  h += "</tbody></table></section>\n";

  h += "<section id=\"checks\"><h2>Checks</h2><ul class=\"checks\">";
  h += "<li>max |fcnet's dW2 − (1/5)·O1ᵀ·dL_by_dS written out in loops| = " +
       sci(ex.max_abs_diff_formula) + "</li>";
  h += "<li>max |fcnet's gradient − numerical (central differences, h = " + sci(ex.h) +
       ")| = " + sci(ex.max_abs_diff_numerical) + "</li>";
  h += "<li>seed snippet = −1 × fcnet's dW2 in every entry</li></ul></section>\n";
  h += "</main>\n<footer>Generated by fcnet explain. This page is self-contained: no scripts, no "
       "network access.</footer>\n</body>\n</html>\n";
  return h;
}

// ------------------------------------------------------------------ JSON

std::string explain_json(const SeedExample& ex) {
  using nlohmann::json;
  auto mat = [](const Matrix<double>& m) {
    json a = json::array();
    for (int64_t i = 0; i < m.rows(); ++i) {
      json r = json::array();
      for (int64_t j = 0; j < m.cols(); ++j) r.push_back(m(i, j));
      a.push_back(r);
    }
    return a;
  };
  auto vec = [](const Matrix<double>& m) {
    json a = json::array();
    for (int64_t i = 0; i < m.size(); ++i) a.push_back(m[i]);
    return a;
  };
  json j;
  j["seed"] = ex.seed;
  j["h"] = ex.h;
  j["X"] = mat(ex.X);
  j["y"] = ex.y;
  j["W1"] = mat(ex.W1);
  j["b1"] = vec(ex.b1);
  j["Z1"] = mat(ex.Z1);
  j["O1"] = mat(ex.O1);
  j["W2"] = mat(ex.W2);
  j["b2"] = vec(ex.b2);
  j["S"] = mat(ex.S);
  j["U"] = mat(ex.U);
  j["O2"] = mat(ex.O2);
  j["L_i"] = ex.Li;
  j["L"] = ex.L;
  j["dL_by_dS"] = mat(ex.dLi_dS);
  j["dW2_snippet"] = mat(ex.dW2_snippet);
  j["dW2_formula"] = mat(ex.dW2_formula);
  j["dW2"] = mat(ex.dW2_library);
  j["dW2_numerical"] = mat(ex.dW2_numerical);
  j["db2"] = vec(ex.db2_library);
  j["db2_numerical"] = vec(ex.db2_numerical);
  j["max_abs_diff_numerical"] = ex.max_abs_diff_numerical;
  j["max_abs_diff_formula"] = ex.max_abs_diff_formula;
  return j.dump(2);
}

}  // namespace fcnet
