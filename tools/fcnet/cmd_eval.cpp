// fcnet eval: loss, accuracy, per-class accuracy and confusion matrix of a model on a data set.
#include <chrono>
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
  bool json = false;
};
}  // namespace

Command add_eval(CLI::App& app) {
  auto o = std::make_shared<Options>();
  CLI::App* c = app.add_subcommand("eval", "Evaluate a model on labelled data");
  c->add_option("--model", o->model, "Model file (.safetensors)")->required();
  add_data_options(c, o->data, true, "Data: fashion-mnist (its test split), IDX, CSV or NPY");
  c->add_option("--batch", o->batch, "Examples per forward pass")->check(kPositive);
  c->add_option("--threads", o->threads, "Threads (default: one per core)")->check(kThreads);
  c->add_flag("--json", o->json, "Print one JSON object on stdout");
  return {c, [o] {
            set_num_threads(o->threads);
            Model m = load_model(o->model);
            Dataset d = load_for_model(o->data, m, true);
            check_compatible(m, d);
            // The GEMM library's one-time start is set-up, not evaluation.
            if (!m.f64) warm_up_gemm();
            const auto t0 = std::chrono::steady_clock::now();
            EvalResult r = evaluate(m, d, o->batch);
            const double secs =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            const auto& names = m.class_names.empty() ? d.class_names : m.class_names;
            if (o->json) {
              json j = eval_json(r, names);
              json unseen = json::object();
              for (const auto& [column, count] : d.unseen) unseen[column] = count;
              j["unseen_categories"] = unseen;
              j["seconds"] = secs;
              j["examples_per_second"] = r.n / std::max(1e-9, secs);
              print_json(j);
              return 0;
            }
            std::printf("examples  %lld\naccuracy  %.4f\nloss      %.4f\n\n",
                        static_cast<long long>(r.n), r.accuracy, r.loss);
            std::printf("%-16s %9s %8s\n", "class", "accuracy", "support");
            for (int64_t k = 0; k < r.classes; ++k) {
              int64_t support = 0;
              for (int64_t p = 0; p < r.classes; ++p) support += r.confusion[k * r.classes + p];
              const std::string name =
                  k < static_cast<int64_t>(names.size()) ? names[k] : std::to_string(k);
              std::printf("%-16s %9.4f %8lld\n", name.c_str(), r.per_class_accuracy[k],
                          static_cast<long long>(support));
            }
            std::printf("\nconfusion matrix (rows: true class, columns: predicted)\n");
            for (int64_t k = 0; k < r.classes; ++k) {
              for (int64_t p = 0; p < r.classes; ++p)
                std::printf("%6lld", static_cast<long long>(r.confusion[k * r.classes + p]));
              std::printf("\n");
            }
            log("evaluated %lld examples in %.3fs (%.0f examples/s)", static_cast<long long>(r.n),
                secs, r.n / std::max(1e-9, secs));
            return 0;
          }};
}

}  // namespace fcnet::cli
