// fcnet report: the HTML training report of a saved model, evaluated on a data set; and the
// pieces of `fcnet train --report`.
#include <memory>

#include "cli.hpp"
#include "fcnet/training_report.hpp"

namespace fcnet::cli {

namespace {

struct Options {
  std::string model;
  DataOptions data;
  std::string out = "fcnet-report.html";
  std::string image_shape;
  std::string split;
  std::string title;
  int threads = 0;
  bool json = false;
  bool quiet = false;
};

// --image-shape as a usage error when malformed.
std::vector<int64_t> image_shape_option(const std::string& text) {
  if (text.empty()) return {};
  try {
    return parse_image_shape(text, "--image-shape");
  } catch (const Error& e) {
    throw CLI::ValidationError("--image-shape", e.what());
  }
}

// How the page names the evaluated split when --split is not given.
std::string split_name(const Dataset& d, const Model& m) {
  std::string test_data, train_data;
  try {
    const json t = json::parse(m.training_json.empty() ? "{}" : m.training_json);
    if (t.contains("test_data") && t["test_data"].is_string()) test_data = t["test_data"];
    if (t.contains("data") && t["data"].is_string()) train_data = t["data"];
  } catch (const json::exception&) {
  }
  const std::string& s = d.source;
  if (s == test_data || (s.size() > 5 && s.compare(s.size() - 5, 5, ":test") == 0)) return "test";
  if (s == train_data) return "training";
  return s;
}

}  // namespace

void add_train_report_options(CLI::App* app, TrainReportOptions& o) {
  app->add_option("--report", o.path,
                  "Write an HTML training report (curves, confusion matrix, weights) to this file");
  app->add_option("--image-shape", o.image_shape,
                  "H,W: the inputs are H x W images (IDX data are known to be images)");
}

void prepare_train_report(const TrainReportOptions& o, Dataset& train_data) {
  const auto shape = image_shape_option(o.image_shape);
  if (!shape.empty()) {
    if (shape[0] * shape[1] != train_data.d)
      throw CLI::ValidationError("--image-shape",
                                 o.image_shape + " is " + std::to_string(shape[0] * shape[1]) +
                                     " pixels but " + train_data.source + " has " +
                                     std::to_string(train_data.d) + " features per example");
    train_data.image_shape = shape;
  }
  if (!o.path.empty()) check_writable(o.path);
}

std::string write_train_report(const TrainReportOptions& o, const TrainResult& r,
                               const Dataset& train_data, const Dataset* test, bool quiet,
                               const EvalResult* test_eval, const Matrix<double>* test_probs) {
  if (o.path.empty()) return "";
  ReportInputs in;
  in.model = &r.model;
  in.epochs = r.epochs;
  in.image_shape = image_shape_option(o.image_shape);
  Dataset val;
  if (test) {
    in.eval = test;
    in.eval_split = "test";
    in.eval_result = test_eval;
    in.eval_probs = test_probs;
  } else if (!r.val_indices.empty()) {
    val = train_data.subset(r.val_indices);
    in.eval = &val;
    in.eval_split = "validation";
  } else {
    in.eval = &train_data;
    in.eval_split = "training";
  }
  const EvalResult ev = write_report(o.path, in);
  if (!quiet)
    log("report written to %s (%s accuracy %.4f on %lld examples)", o.path.c_str(),
        in.eval_split.c_str(), ev.accuracy, static_cast<long long>(ev.n));
  return o.path;
}

Command add_report(CLI::App& app) {
  auto o = std::make_shared<Options>();
  CLI::App* c = app.add_subcommand(
      "report", "Write the HTML training report of a model, evaluated on a labelled data set");
  c->add_option("--model", o->model, "Model file (.safetensors)")->required();
  add_data_options(c, o->data, true,
                   "Labelled data to evaluate on: fashion-mnist (its test split), IDX, CSV or NPY");
  c->add_option("--out", o->out, "HTML file to write")->capture_default_str();
  c->add_option("--image-shape", o->image_shape,
                "H,W: draw inputs and first-layer weights as H x W images (default: the model's "
                "or the data's own image shape)");
  c->add_option("--split", o->split,
                "Name of the evaluated split on the page (default: test, training or the source)");
  c->add_option("--title", o->title, "Page title");
  c->add_option("--threads", o->threads, "Threads (default: one per core)")->check(kThreads);
  c->add_flag("--json", o->json, "Print one JSON object on stdout");
  c->add_flag("--quiet,-q", o->quiet, "No log output");
  return {c, [o] {
            set_num_threads(o->threads);
            const auto shape = image_shape_option(o->image_shape);
            Model m = load_model(o->model);
            if (!shape.empty() && shape[0] * shape[1] != m.input_dim())
              throw CLI::ValidationError(
                  "--image-shape", o->image_shape + " is " + std::to_string(shape[0] * shape[1]) +
                                       " pixels but the model has " +
                                       std::to_string(m.input_dim()) + " inputs");
            check_writable(o->out);
            Dataset d = load_for_model(o->data, m, true);
            check_compatible(m, d);
            ReportInputs in;
            in.model = &m;
            in.epochs = training_history(m);
            in.eval = &d;
            in.eval_split = o->split.empty() ? split_name(d, m) : o->split;
            in.image_shape = shape;
            in.title = o->title;
            in.extra_summary.emplace_back("Model file", o->model);
            const EvalResult ev = write_report(o->out, in);
            if (!o->quiet) {
              if (in.epochs.empty())
                log("%s stores no training history: the report has no curves", o->model.c_str());
              log("report written to %s (accuracy %.4f, loss %.4f on %lld examples of %s)",
                  o->out.c_str(), ev.accuracy, ev.loss, static_cast<long long>(ev.n),
                  d.source.c_str());
            }
            if (o->json)
              print_json({{"report", o->out},
                          {"examples", ev.n},
                          {"accuracy", ev.accuracy},
                          {"loss", ev.loss},
                          {"split", in.eval_split},
                          {"epochs", in.epochs.size()}});
            return 0;
          }};
}

}  // namespace fcnet::cli
