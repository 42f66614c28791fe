// The training report of a model: gathers what the HTML report (report.hpp) shows from a trained
// Model, its per-epoch history and a labelled evaluation set, and writes the page.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "fcnet/data.hpp"
#include "fcnet/model_io.hpp"
#include "fcnet/report.hpp"
#include "fcnet/trainer.hpp"

namespace fcnet {

// What a report is made from. Only `model` is required.
struct ReportInputs {
  const Model* model = nullptr;     // weights, class names, image shape and training metadata
  std::vector<EpochRecord> epochs;  // per-epoch history (from TrainResult or training_history)
  // Labelled data for the confusion matrix, per-class precision/recall and the misclassified
  // examples (null: none of those). Its examples are shown as images when the data are images.
  const Dataset* eval = nullptr;
  std::string eval_split = "test";  // name of that split on the page: "test", "validation"...
  // An evaluation of `eval` the caller already made (evaluate(model, *eval, …, probs)), used
  // instead of evaluating again; both or neither.
  const EvalResult* eval_result = nullptr;
  const Matrix<double>* eval_probs = nullptr;
  // {H, W} with H·W = D to draw inputs and first-layer weights as images; empty: the model's or
  // the evaluation data's own image shape (IDX), if any.
  std::vector<int64_t> image_shape;
  std::string title;  // empty: "fcnet training report"
  // Lines appended to the summary table (e.g. the model file's path).
  std::vector<std::pair<std::string, std::string>> extra_summary;
};

// Builds the report's data: a summary from the model and its training metadata (data,
// network, hyperparameters, time, final accuracies), the epochs, the first layer's weights, and,
// with `eval`, an evaluation of the model on it. Throws fcnet::Error when the evaluation data do
// not fit the model or image_shape does not multiply to the input width.
ReportData make_report_data(const ReportInputs& in);

// make_report_data, rendered and written to `path` atomically. Returns the evaluation of
// in.eval (n = 0 without one) so callers can print it.
EvalResult write_report(const std::string& path, const ReportInputs& in);

// The per-epoch history a model stores in its training metadata ("history"); empty when the
// model has none. Throws fcnet::Error when the metadata is not valid JSON.
std::vector<EpochRecord> training_history(const Model& model);

// "28,28" → {28, 28}: an image shape as the command line gives it; throws fcnet::Error naming
// `where` unless it is two positive integers.
std::vector<int64_t> parse_image_shape(const std::string& text, const std::string& where);

}  // namespace fcnet
