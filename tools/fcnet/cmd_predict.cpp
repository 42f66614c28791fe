// fcnet predict: one line per example — a label, or the class probabilities or scores.
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
  int64_t batch = 1000;
  int threads = 0;
};
}  // namespace

Command add_predict(CLI::App& app) {
  auto o = std::make_shared<Options>();
  CLI::App* c = app.add_subcommand("predict", "Predict a label (or probabilities) per example");
  c->add_option("--model", o->model, "Model file (.safetensors)")->required();
  add_data_options(c, o->data, true,
                   "Data: fashion-mnist (its test split), IDX, CSV or NPY; labels not needed");
  c->add_option("--output", o->output, "labels, probs or scores")
      ->check(CLI::IsMember({"labels", "probs", "scores"}))
      ->capture_default_str();
  c->add_option("--out", o->out, "Write to this file (atomically) instead of stdout");
  c->add_option("--batch", o->batch, "Examples per forward pass")->check(kPositive);
  c->add_option("--threads", o->threads, "Threads (default: one per core)")->check(kThreads);
  return {c, [o] {
            set_num_threads(o->threads);
            if (!o->out.empty()) check_writable(o->out);
            Model m = load_model(o->model);
            Dataset d = load_for_model(o->data, m, false);
            check_compatible(m, d);
            const bool labels = o->output == "labels";
            Matrix<double> p = predict(m, d, o->output != "scores", o->batch);
            std::string text;
            text.reserve(static_cast<std::size_t>(d.n) * (labels ? 4 : 12 * p.cols()));
            char buf[40];
            for (int64_t i = 0; i < p.rows(); ++i) {
              if (!d.ids.empty()) text += csv_field(d.ids[static_cast<std::size_t>(i)]) + ",";
              if (labels) {
                int64_t best = 0;
                for (int64_t j = 1; j < p.cols(); ++j)
                  if (p(i, j) > p(i, best)) best = j;
                text += best < static_cast<int64_t>(m.class_names.size())
                            ? csv_field(m.class_names[static_cast<std::size_t>(best)])
                            : std::to_string(best);
              } else {
                for (int64_t j = 0; j < p.cols(); ++j) {
                  std::snprintf(buf, sizeof buf, j ? ",%.6g" : "%.6g", p(i, j));
                  text += buf;
                }
              }
              text += '\n';
            }
            if (o->out.empty())
              std::fwrite(text.data(), 1, text.size(), stdout);
            else
              write_file_atomic(o->out, text);
            return 0;
          }};
}

}  // namespace fcnet::cli
