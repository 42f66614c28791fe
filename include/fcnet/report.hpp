// Training report: a plain description of one training run (ReportData) and the renderer that
// turns it into one self-contained HTML page. The page needs nothing but a browser opened on the
// file: charts are inline SVG, images are PNG data: URIs, styling is inline CSS with system fonts,
// and there is no script and no reference to any other file or host.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace fcnet {

// Value of a number that was not measured (no validation set, no timing...). The report draws
// gaps for it and prints "—".
inline constexpr double kReportMissing = std::numeric_limits<double>::quiet_NaN();

// What happened in one epoch. Every value may be NaN when it was not measured.
struct ReportEpoch {
  int64_t epoch = 0;                       // 1-based epoch number (the x axis of every chart)
  double train_loss = kReportMissing;      // mean training loss over the epoch
  double train_accuracy = kReportMissing;  // fraction in 0..1
  double val_loss = kReportMissing;        // loss on the validation split, NaN without one
  double val_accuracy = kReportMissing;    // fraction in 0..1, NaN without a validation split
  double lr = kReportMissing;              // learning rate used in the epoch
  double seconds = kReportMissing;         // wall time of the epoch
  std::vector<double> weight_norms;  // per layer l = 1..L: ‖W_l‖_F at the end of the epoch
  // per layer l = 1..L: ‖dW_l‖_F of the data loss at the epoch's last optimizer step (one
  // minibatch), as the trainer records it
  std::vector<double> grad_norms;
};

// One misclassified example of the split the confusion matrix was computed on.
struct ReportExample {
  int64_t index = -1;      // row of the example in its data set, -1 when unknown
  int32_t true_label = 0;  // class index 0..C-1
  int32_t predicted_label = 0;
  double confidence = kReportMissing;  // softmax probability of the predicted class, 0..1
  std::vector<float> pixels;  // H×W row-major values in 0..1 (black..white) when the data are
                              // images (ReportData::image_shape), else empty
};

// Everything the report shows. Empty parts are skipped with a note on the page.
struct ReportData {
  std::string title = "fcnet training report";
  // Free-form key/value lines shown in order at the top: data, network, hyperparameters, time,
  // final accuracies... Values may hold '\n' for line breaks.
  std::vector<std::pair<std::string, std::string>> summary;
  std::vector<ReportEpoch> epochs;  // in training order
  // Optional names of the layers of weight_norms/grad_norms; empty means "W1".."WL".
  std::vector<std::string> layer_names;

  // Class names for labels 0..C-1; empty (labels shown as numbers) or C entries.
  std::vector<std::string> class_names;
  // C×C counts of the split named by confusion_split: confusion[t][p] = examples of true class t
  // predicted as p. Empty when no labelled evaluation was run.
  std::vector<std::vector<int64_t>> confusion;
  std::string confusion_split = "validation";

  // First linear layer W1 as stored (D×H1, row-major: first_layer_weights[d * H1 + h]); empty to
  // skip. With image_shape {H, W} (H·W = D) each unit's D weights are drawn as an H×W image.
  std::vector<float> first_layer_weights;
  int64_t first_layer_inputs = 0;    // D
  int64_t first_layer_units = 0;     // H1
  std::vector<int64_t> image_shape;  // {H, W} for image data, else empty

  // Misclassified examples to show; the report draws at most kReportMaxExamples of them.
  std::vector<ReportExample> misclassified;

  // Tabular models on labelled data (empty otherwise): ROC and precision-recall curves (the
  // positive class for two classes, one-vs-rest for up to 10), the reliability of the predicted
  // class's probability, and permutation importance of each column (accuracy lost when that
  // column's values are shuffled across the examples).
  struct Curve {
    std::string label;
    std::vector<double> x, y;
    double area = 0;  // ROC-AUC or average precision
  };
  std::vector<Curve> roc, pr;
  Curve calibration;  // x: mean confidence per bin of 0.1, y: accuracy in that bin
  std::vector<int64_t> calibration_counts;
  std::vector<std::pair<std::string, double>> importance;  // by column, largest first
};

// Most first-layer units and misclassified examples drawn.
inline constexpr int64_t kReportMaxUnits = 64;
inline constexpr int64_t kReportMaxExamples = 48;

// Renders the report as one self-contained HTML document (UTF-8). Every string from `data` is
// HTML-escaped. The output depends only on `data` (no clock, no locale, no randomness).
// Throws fcnet::Error when the parts disagree: a non-square confusion matrix, class_names of a
// size other than C, first_layer_weights not D×H1, an image_shape whose H·W is not D, or an
// example whose pixels are not H×W.
std::string render_report_html(const ReportData& data);

}  // namespace fcnet
