// fcnet eval: the classification metrics of a model on a labelled data set (metrics.hpp), with
// scikit-learn's definitions, as text or JSON.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>

#include "cli.hpp"
#include "fcnet/kernels.hpp"
#include "fcnet/trainer.hpp"

namespace fcnet::cli {

namespace {
struct Options {
  std::string model;
  DataOptions data;
  int64_t batch = 1000;
  int threads = 0;
  std::string precision = "f32";
  bool json = false;
  std::string positive;
};

std::string figure(double v) {
  if (!std::isfinite(v)) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

void print_metrics(const Metrics& m, double loss, const std::vector<std::string>& names,
                   int64_t positive) {
  std::printf("examples           %lld\n", static_cast<long long>(m.n));
  std::printf("accuracy           %s\n", figure(m.accuracy).c_str());
  std::printf("balanced accuracy  %s\n", figure(m.balanced_accuracy).c_str());
  std::printf("loss               %s (cross-entropy)\n", figure(loss).c_str());
  const std::string about =
      m.classes == 2 ? " (class " + class_name(names, positive) + ")" : " (one-vs-rest, macro)";
  std::printf("ROC-AUC            %s%s\n", figure(m.roc_auc).c_str(), about.c_str());
  std::printf("average precision  %s%s\n", figure(m.average_precision).c_str(), about.c_str());
  if (m.classes > 5) std::printf("top-5 accuracy     %s\n", figure(m.top5_accuracy).c_str());
  if (m.classes == 2)
    std::printf("best F1            %s at threshold %s on p(%s)\n", figure(m.best_f1).c_str(),
                figure(m.best_f1_threshold).c_str(), class_name(names, positive).c_str());
  std::size_t w = 12;
  for (int64_t k = 0; k < m.classes; ++k) w = std::max(w, class_name(names, k).size());
  const int wi = static_cast<int>(w);
  std::printf("\n%-*s %9s %9s %9s %8s\n", wi, "class", "precision", "recall", "f1", "support");
  auto row = [&](const std::string& name, const ClassMetrics& c) {
    std::printf("%-*s %9.4f %9.4f %9.4f %8lld\n", wi, name.c_str(), c.precision, c.recall, c.f1,
                static_cast<long long>(c.support));
  };
  for (int64_t k = 0; k < m.classes; ++k)
    row(class_name(names, k), m.per_class[static_cast<std::size_t>(k)]);
  row("macro avg", m.macro);
  row("weighted avg", m.weighted);
  std::printf("\nconfusion matrix (rows: true class, columns: predicted)\n%-*s", wi, "");
  std::size_t cw = 6;
  for (int64_t k = 0; k < m.classes; ++k) cw = std::max(cw, class_name(names, k).size() + 1);
  const int cwi = static_cast<int>(cw);
  for (int64_t k = 0; k < m.classes; ++k) std::printf("%*s", cwi, class_name(names, k).c_str());
  std::printf("\n");
  for (int64_t k = 0; k < m.classes; ++k) {
    std::printf("%-*s", wi, class_name(names, k).c_str());
    for (int64_t p = 0; p < m.classes; ++p)
      std::printf("%*lld", cwi, static_cast<long long>(m.confusion[k * m.classes + p]));
    std::printf("\n");
  }
}
}  // namespace

Command add_eval(CLI::App& app) {
  auto o = std::make_shared<Options>();
  CLI::App* c = app.add_subcommand("eval", "Evaluate a model on labelled data");
  c->add_option("--model", o->model, "Model file (.safetensors)")->required();
  add_data_options(c, o->data, true, "Data: fashion-mnist (its test split), IDX, CSV or NPY");
  c->add_option("--batch", o->batch, "Examples per forward pass")->check(kPositive);
  c->add_option("--threads", o->threads, "Threads (default: one per core)")->check(kThreads);
  add_inference_precision(c, o->precision);
  c->add_flag("--json", o->json, "Print one JSON object on stdout");
  c->add_option("--positive-class", o->positive,
                "Binary tasks: the class whose probability ROC-AUC, average precision and the "
                "best-F1 threshold are about (default: the second class)");
  return {c, [o] {
            set_num_threads(o->threads);
            Model m = load_model(o->model);
            const Precision precision = inference_precision(o->precision, m);
            Dataset d = load_for_model(o->data, m, true);
            check_compatible(m, d);
            const auto& names = m.class_names.empty() ? d.class_names : m.class_names;
            const int64_t positive = positive_class(o->positive, names, m.num_classes());
            // The GEMM library's one-time start is set-up, not evaluation.
            if (!m.f64) warm_up_gemm();
            const auto t0 = std::chrono::steady_clock::now();
            Matrix<double> probs;
            const EvalResult r = evaluate(m, d, o->batch, &probs, precision);
            const double secs =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            const Metrics mt = classification_metrics(probs.cview(), d.labels.data(), positive);
            if (o->json) {
              json j = metrics_json(mt, names, positive);
              j["loss"] = r.loss;  // the model's own cross-entropy, as training reports it
              j["log_loss"] = mt.loss;
              json unseen = json::object();
              for (const auto& [column, count] : d.unseen) unseen[column] = count;
              j["unseen_categories"] = unseen;
              j["seconds"] = secs;
              j["examples_per_second"] = r.n / std::max(1e-9, secs);
              print_json(j);
              return 0;
            }
            print_metrics(mt, r.loss, names, positive);
            log("evaluated %lld examples in %.3fs (%.0f examples/s)", static_cast<long long>(r.n),
                secs, r.n / std::max(1e-9, secs));
            return 0;
          }};
}

}  // namespace fcnet::cli
