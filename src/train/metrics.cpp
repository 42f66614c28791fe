// Classification metrics with scikit-learn's definitions (metrics.hpp).
#include "fcnet/metrics.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <numeric>

#include "fcnet/error.hpp"

namespace fcnet {

namespace {

// One point per distinct score, highest first: true and false positives at or above it.
struct Step {
  double threshold;
  int64_t tp, fp;
};

std::vector<Step> steps(const std::vector<double>& scores, const std::vector<char>& positive) {
  std::vector<std::size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
  std::vector<Step> out;
  int64_t tp = 0, fp = 0;
  for (std::size_t k = 0; k < order.size(); ++k) {
    (positive[order[k]] ? tp : fp)++;
    if (k + 1 == order.size() || scores[order[k + 1]] != scores[order[k]])
      out.push_back({scores[order[k]], tp, fp});
  }
  return out;
}

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace

std::vector<std::pair<double, double>> roc_curve(const std::vector<double>& scores,
                                                 const std::vector<char>& positive) {
  const auto st = steps(scores, positive);
  const int64_t p = st.empty() ? 0 : st.back().tp, n = st.empty() ? 0 : st.back().fp;
  std::vector<std::pair<double, double>> out{{0.0, 0.0}};
  if (p == 0 || n == 0) return out;
  for (const auto& s : st)
    out.emplace_back(static_cast<double>(s.fp) / static_cast<double>(n),
                     static_cast<double>(s.tp) / static_cast<double>(p));
  return out;
}

std::vector<std::pair<double, double>> pr_curve(const std::vector<double>& scores,
                                                const std::vector<char>& positive) {
  const auto st = steps(scores, positive);
  const int64_t p = st.empty() ? 0 : st.back().tp;
  std::vector<std::pair<double, double>> out{{0.0, 1.0}};
  if (p == 0) return out;
  for (const auto& s : st)
    out.emplace_back(static_cast<double>(s.tp) / static_cast<double>(p),
                     static_cast<double>(s.tp) / static_cast<double>(s.tp + s.fp));
  return out;
}

double balanced_accuracy(const std::vector<int64_t>& confusion, int64_t classes) {
  double sum = 0;
  int64_t present = 0;
  for (int64_t k = 0; k < classes; ++k) {
    int64_t support = 0;
    for (int64_t j = 0; j < classes; ++j)
      support += confusion[static_cast<std::size_t>(k * classes + j)];
    if (support == 0) continue;
    ++present;
    sum += static_cast<double>(confusion[static_cast<std::size_t>(k * classes + k)]) /
           static_cast<double>(support);
  }
  return present > 0 ? sum / static_cast<double>(present) : kNaN;
}

double roc_auc(const std::vector<double>& scores, const std::vector<char>& positive) {
  const auto c = roc_curve(scores, positive);
  if (c.size() < 2) return kNaN;
  double area = 0;
  for (std::size_t k = 1; k < c.size(); ++k)
    area += (c[k].first - c[k - 1].first) * (c[k].second + c[k - 1].second) / 2;
  return area;
}

double average_precision(const std::vector<double>& scores, const std::vector<char>& positive) {
  const auto c = pr_curve(scores, positive);
  if (c.size() < 2) return kNaN;
  double ap = 0;
  for (std::size_t k = 1; k < c.size(); ++k) ap += (c[k].first - c[k - 1].first) * c[k].second;
  return ap;
}

Metrics classification_metrics(ConstView<double> probs, const int32_t* labels, int64_t positive) {
  Metrics m;
  const int64_t n = probs.rows, c = probs.cols;
  m.n = n;
  m.classes = c;
  m.confusion.assign(static_cast<std::size_t>(c * c), 0);
  if (c < 1) fail("metrics", "no classes", "at least one class");
  double loss = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int32_t y = labels[i];
    if (y < 0 || y >= c)
      fail("metrics", "label " + std::to_string(y) + " of example " + std::to_string(i),
           "a class index below " + std::to_string(c));
    const double* row = probs.row(i);
    const int64_t pred = std::max_element(row, row + c) - row;
    m.confusion[static_cast<std::size_t>(y * c + pred)]++;
    // scikit-learn's log_loss: clip to [eps, 1 − eps], renormalise the row.
    double sum = 0;
    for (int64_t j = 0; j < c; ++j) sum += std::clamp(row[j], DBL_EPSILON, 1 - DBL_EPSILON);
    loss -= std::log(std::clamp(row[y], DBL_EPSILON, 1 - DBL_EPSILON) / sum);
  }
  m.loss = n > 0 ? loss / static_cast<double>(n) : kNaN;

  int64_t correct = 0;
  m.per_class.resize(static_cast<std::size_t>(c));
  for (int64_t k = 0; k < c; ++k) {
    int64_t support = 0, predicted = 0;
    for (int64_t j = 0; j < c; ++j) {
      support += m.confusion[static_cast<std::size_t>(k * c + j)];
      predicted += m.confusion[static_cast<std::size_t>(j * c + k)];
    }
    const int64_t tp = m.confusion[static_cast<std::size_t>(k * c + k)];
    correct += tp;
    ClassMetrics& r = m.per_class[static_cast<std::size_t>(k)];
    r.support = support;
    r.precision = predicted > 0 ? static_cast<double>(tp) / static_cast<double>(predicted) : 0.0;
    r.recall = support > 0 ? static_cast<double>(tp) / static_cast<double>(support) : 0.0;
    r.f1 = r.precision + r.recall > 0 ? 2 * r.precision * r.recall / (r.precision + r.recall) : 0;
    const double w = n > 0 ? static_cast<double>(support) / static_cast<double>(n) : 0.0;
    m.macro.precision += r.precision / static_cast<double>(c);
    m.macro.recall += r.recall / static_cast<double>(c);
    m.macro.f1 += r.f1 / static_cast<double>(c);
    m.weighted.precision += r.precision * w;
    m.weighted.recall += r.recall * w;
    m.weighted.f1 += r.f1 * w;
  }
  m.macro.support = m.weighted.support = n;
  m.accuracy = n > 0 ? static_cast<double>(correct) / static_cast<double>(n) : kNaN;
  m.balanced_accuracy = balanced_accuracy(m.confusion, c);

  // Ranking metrics: one-vs-rest per class.
  std::vector<double> score(static_cast<std::size_t>(n));
  std::vector<char> pos(static_cast<std::size_t>(n));
  auto one_vs_rest = [&](int64_t k) {
    for (int64_t i = 0; i < n; ++i) {
      score[static_cast<std::size_t>(i)] = probs(i, k);
      pos[static_cast<std::size_t>(i)] = labels[i] == k;
    }
  };
  m.best_f1_threshold = m.best_f1 = kNaN;
  if (c == 2) {
    if (positive < 0 || positive > 1) fail("metrics", "positive class out of range", "0 or 1");
    one_vs_rest(positive);
    m.roc_auc = roc_auc(score, pos);
    m.average_precision = average_precision(score, pos);
    // The threshold of the highest F1 (the lowest such threshold on ties, as an argmax over
    // scikit-learn's precision_recall_curve), thresholds down to the first of full recall.
    const auto st = steps(score, pos);
    const int64_t p = st.empty() ? 0 : st.back().tp;
    if (p > 0) {
      double best = -1;
      for (const auto& s : st) {
        const double f1 =
            2.0 * static_cast<double>(s.tp) / static_cast<double>(2 * s.tp + s.fp + (p - s.tp));
        if (f1 >= best) {
          best = f1;
          m.best_f1_threshold = s.threshold;
        }
        if (s.tp == p) break;
      }
      m.best_f1 = best;
    }
  } else {
    double auc = 0, ap = 0;
    int64_t k_auc = 0, k_ap = 0;
    for (int64_t k = 0; k < c; ++k) {
      one_vs_rest(k);
      if (const double a = roc_auc(score, pos); std::isfinite(a)) auc += a, ++k_auc;
      // As scikit-learn's macro average precision, a class without positives counts 0.
      if (const double a = average_precision(score, pos); std::isfinite(a)) ap += a;
      ++k_ap;
    }
    m.roc_auc = k_auc > 0 ? auc / static_cast<double>(k_auc) : kNaN;
    m.average_precision = k_ap > 0 ? ap / static_cast<double>(k_ap) : kNaN;
  }
  m.top5_accuracy = kNaN;
  if (c > 5 && n > 0) {
    int64_t hits = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double* row = probs.row(i);
      const double own = row[labels[i]];
      int64_t above = 0;  // classes more probable than the true one
      for (int64_t j = 0; j < c; ++j) above += row[j] > own;
      hits += above < 5;
    }
    m.top5_accuracy = static_cast<double>(hits) / static_cast<double>(n);
  }
  return m;
}

}  // namespace fcnet
