// fcnet predict: one row per example: its id (when the data have one), the predicted label, the
// class probabilities and/or raw scores; CSV with a header naming the columns, or JSON lines.
#include <memory>
#include <sstream>

#include "cli.hpp"
#include "fcnet/trainer.hpp"

namespace fcnet::cli {

namespace {
struct Options {
  std::string model;
  DataOptions data;
  std::string output = "labels";
  std::string out;
  std::string positive;
  double threshold = -1;
  bool json = false, no_header = false;
  int64_t batch = 1000;
  int threads = 0;
  std::string precision = "f32";
};

std::string number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}
}  // namespace

Command add_predict(CLI::App& app) {
  auto o = std::make_shared<Options>();
  CLI::App* c = app.add_subcommand("predict", "Predict a label (or probabilities) per example");
  c->add_option("--model", o->model, "Model file (.safetensors)")->required();
  add_data_options(c, o->data, true,
                   "Data: fashion-mnist (its test split), IDX, CSV or NPY; labels not needed");
  c->add_option("--output", o->output,
                "What to write per example, comma-separated: labels, probs, scores "
                "(e.g. labels,probs)")
      ->capture_default_str();
  c->add_option("--threshold", o->threshold,
                "Binary tasks: label an example positive when the probability of the positive "
                "class is at least this (default: the most probable class)")
      ->check(CLI::Range(0.0, 1.0));
  c->add_option("--positive-class", o->positive,
                "Binary tasks: the positive class for --threshold (default: the second class)");
  c->add_flag("--json", o->json,
              "One JSON object per line: id, label, probs and/or scores by class name");
  c->add_flag("--no-header", o->no_header, "CSV without the header row: the bare values");
  c->add_option("--out", o->out, "Write to this file (atomically) instead of stdout");
  c->add_option("--batch", o->batch, "Examples per forward pass")->check(kPositive);
  add_inference_precision(c, o->precision);
  c->add_option("--threads", o->threads, "Threads (default: one per core)")->check(kThreads);
  return {
      c, [o] {
        bool labels = false, probs = false, scores = false;
        for (const auto& item : comma_list(o->output)) {
          if (item == "labels")
            labels = true;
          else if (item == "probs")
            probs = true;
          else if (item == "scores")
            scores = true;
          else
            throw CLI::ValidationError("--output", "'" + item + "' is not labels, probs or scores");
        }
        set_num_threads(o->threads);
        if (!o->out.empty()) check_writable(o->out);
        Model m = load_model(o->model);
        const Precision precision = inference_precision(o->precision, m);
        const int64_t classes = m.num_classes();
        if (o->threshold >= 0 && classes != 2)
          throw CLI::ValidationError("--threshold", "needs a model of two classes (this one has " +
                                                        std::to_string(classes) + ")");
        if (!o->positive.empty() && classes != 2)
          throw CLI::ValidationError("--positive-class", "needs a model of two classes");
        const int64_t positive = positive_class(o->positive, m.class_names, classes);
        // The labels are not needed: a label column is skipped, whatever classes it holds.
        Dataset d = load_for_model(o->data, m, false, false);
        check_compatible(m, d);
        const Matrix<double> p = predict(m, d, true, o->batch, precision);
        Matrix<double> z;
        if (scores) z = predict(m, d, false, o->batch, precision);
        std::vector<std::string> names;
        for (int64_t k = 0; k < classes; ++k) names.push_back(class_name(m.class_names, k));
        const bool ids = !d.ids.empty();
        const std::string id_name = m.schema.id.empty() ? std::string("id") : m.schema.id;
        auto label_of = [&](int64_t i) {
          if (o->threshold >= 0) return p(i, positive) >= o->threshold ? positive : 1 - positive;
          int64_t best = 0;
          for (int64_t j = 1; j < classes; ++j)
            if (p(i, j) > p(i, best)) best = j;
          return best;
        };
        std::string text;
        text.reserve(static_cast<std::size_t>(d.n) * (labels ? 8 : 0) +
                     static_cast<std::size_t>(d.n * classes) *
                         ((probs ? 10 : 0) + (scores ? 10 : 0)));
        if (o->json) {
          for (int64_t i = 0; i < d.n; ++i) {
            json j;
            if (ids) j[id_name] = d.ids[static_cast<std::size_t>(i)];
            if (labels) j["label"] = names[static_cast<std::size_t>(label_of(i))];
            if (probs) {
              json q = json::object();
              for (int64_t k = 0; k < classes; ++k) q[names[static_cast<std::size_t>(k)]] = p(i, k);
              j["probs"] = q;
            }
            if (scores) {
              json q = json::object();
              for (int64_t k = 0; k < classes; ++k) q[names[static_cast<std::size_t>(k)]] = z(i, k);
              j["scores"] = q;
            }
            text += json_text(j) + "\n";
          }
        } else {
          std::vector<std::string> header;
          if (ids) header.push_back(id_name);
          if (labels) header.push_back("label");
          for (const auto& n : names)
            if (probs) header.push_back("prob_" + n);
          for (const auto& n : names)
            if (scores) header.push_back("score_" + n);
          if (!o->no_header) {
            for (std::size_t k = 0; k < header.size(); ++k)
              text += (k ? "," : "") + csv_field(header[k]);
            text += '\n';
          }
          for (int64_t i = 0; i < d.n; ++i) {
            std::string line;
            bool first = true;  // an empty first field (an empty id) still takes its comma
            auto add = [&](const std::string& f) {
              line += (first ? "" : ",") + f;
              first = false;
            };
            if (ids) add(csv_field(d.ids[static_cast<std::size_t>(i)]));
            if (labels) add(csv_field(names[static_cast<std::size_t>(label_of(i))]));
            if (probs)
              for (int64_t k = 0; k < classes; ++k) add(number(p(i, k)));
            if (scores)
              for (int64_t k = 0; k < classes; ++k) add(number(z(i, k)));
            text += line + '\n';
          }
        }
        if (o->out.empty())
          std::fwrite(text.data(), 1, text.size(), stdout);
        else
          write_file_atomic(o->out, text);
        return 0;
      }};
}

}  // namespace fcnet::cli
