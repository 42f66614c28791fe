// fcnet explain: CS231n's two-layer toy network worked through with real numbers, in the seed's
// notation, with the numerical derivative beside every entry of dL/dW2; with --model, one example
// of a data set walked through a trained network the same way.
#include <memory>

#include "cli.hpp"
#include "fcnet/explain.hpp"

namespace fcnet::cli {

namespace {
struct Options {
  uint64_t seed = 0;
  std::string html;
  int digits = 6;
  bool json = false;
  std::string model;
  DataOptions data;
  int64_t row = 0;
};
}  // namespace

Command add_explain(CLI::App& app) {
  auto o = std::make_shared<Options>();
  CLI::App* c = app.add_subcommand(
      "explain",
      "CS231n's two-layer toy network, worked through with real numbers: forward pass, loss, "
      "and the softmax layer's gradient checked against numerical derivatives; with --model, "
      "one example of --data through a trained network");
  c->add_option("--seed", o->seed,
                "np.random.seed for W1, W2 (X uses seed + 1); 0 is CS231n's toy problem")
      ->capture_default_str();
  c->add_option("--html", o->html, "Write the example as a self-contained HTML page of tables");
  c->add_option("--digits", o->digits, "Decimals of the printed matrices")
      ->check(CLI::Range(1, 15))
      ->capture_default_str();
  c->add_flag("--json", o->json, "Print every number (full precision) as one JSON object");
  c->add_option("--model", o->model,
                "Walk one example through this model: its layers, softmax, loss, eq. 1.3's "
                "gradient and each input's attribution, checked by finite differences");
  add_data_options(c, o->data, false,
                   "With --model: the data holding the example (labels optional)");
  c->add_option("--row", o->row, "With --model: the example, a 0-based row of --data")
      ->check(kNonNegative)
      ->capture_default_str();
  return {
      c, [o, c] {
        if (o->model.empty() && (c->count("--data") > 0 || c->count("--row") > 0))
          throw CLI::ValidationError(c->count("--data") > 0 ? "--data" : "--row",
                                     "needs --model: one example of the data is walked through "
                                     "the model");
        if (!o->model.empty()) {
          const Model m = load_model(o->model);
          const Dataset d = load_for_model(o->data, m, false);
          const ModelExplanation e = explain_model_example(m, d, o->row);
          std::fputs(
              (o->json ? explain_model_json(e) + "\n" : explain_model_text(e, o->digits)).c_str(),
              stdout);
          return 0;
        }
        if (!o->html.empty()) check_writable(o->html);
        const SeedExample ex = explain_seed_example(o->seed);
        if (!o->html.empty()) {
          write_file_atomic(o->html, explain_html(ex, o->digits));
          log("wrote %s", o->html.c_str());
        }
        if (o->json)
          std::fputs((explain_json(ex) + "\n").c_str(), stdout);
        else if (o->html.empty())
          std::fputs(explain_text(ex, o->digits).c_str(), stdout);
        return 0;
      }};
}

}  // namespace fcnet::cli
