// Classification metrics from predicted probabilities and true labels, with scikit-learn's
// definitions (sklearn.metrics), so the figures fcnet prints are the ones a user would compute.
#pragma once

#include <cstdint>
#include <vector>

#include "fcnet/tensor.hpp"

namespace fcnet {

struct ClassMetrics {
  double precision = 0;  // of the examples predicted as this class, the share that are (0 if none)
  double recall = 0;     // of the examples of this class, the share predicted so (0 if none)
  double f1 = 0;         // harmonic mean of the two (0 when both are 0)
  int64_t support = 0;   // examples of this class
};

struct Metrics {
  int64_t n = 0, classes = 0;
  double accuracy = 0;
  double balanced_accuracy = 0;  // mean recall over the classes present
  double loss = 0;  // mean −log p[y], p clipped to [eps, 1−eps] as scikit-learn's log_loss
  std::vector<int64_t> confusion;  // classes×classes, row = true class, column = predicted
  std::vector<ClassMetrics> per_class;
  ClassMetrics macro, weighted;  // plain and support-weighted means over all classes (support: n)
  // Binary: of the positive class's probability; more classes: the macro mean of one-vs-rest,
  // ROC-AUC over the classes that have both positives and negatives, average precision over all
  // (a class without positives counts 0, as scikit-learn's). NaN where undefined.
  double roc_auc = 0;
  double average_precision = 0;
  // More than 5 classes: the share of examples whose class is among the 5 most probable.
  double top5_accuracy = 0;
  // Binary: the threshold on the positive class's probability that maximises F1 (predict
  // positive when p >= threshold), and that F1. NaN for more classes.
  double best_f1_threshold = 0, best_f1 = 0;
};

// probs: N×C probabilities; labels: N class indices in 0..C−1; positive: the positive class of a
// binary task (ignored for more classes).
Metrics classification_metrics(ConstView<double> probs, const int32_t* labels,
                               int64_t positive = 1);

// Mean recall over the classes present (with support) of a classes×classes confusion matrix
// (rows true, columns predicted); NaN when no class is present.
double balanced_accuracy(const std::vector<int64_t>& confusion, int64_t classes);

// Area under the ROC curve of `scores` for the examples flagged `positive` (ties count one half,
// as the trapezoidal rule over distinct thresholds); NaN when one side is empty.
double roc_auc(const std::vector<double>& scores, const std::vector<char>& positive);
// Average precision: Σ (Rₖ − Rₖ₋₁)·Pₖ over the distinct score thresholds, highest first
// (scikit-learn's average_precision_score, no interpolation); NaN without positives.
double average_precision(const std::vector<double>& scores, const std::vector<char>& positive);

// The curves for plots: points (x, y) from the highest threshold to the lowest. ROC: (false
// positive rate, true positive rate), starting at (0, 0); precision-recall: (recall, precision),
// starting at (0, 1).
std::vector<std::pair<double, double>> roc_curve(const std::vector<double>& scores,
                                                 const std::vector<char>& positive);
std::vector<std::pair<double, double>> pr_curve(const std::vector<double>& scores,
                                                const std::vector<char>& positive);

}  // namespace fcnet
