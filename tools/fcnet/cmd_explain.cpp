// fcnet explain: the seed's worked example (CS231n's toy network) computed for real, in the seed's
// notation, with the numerical derivative beside every entry of dL/dW2.
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
};
}  // namespace

Command add_explain(CLI::App& app) {
  auto o = std::make_shared<Options>();
  CLI::App* c = app.add_subcommand(
      "explain",
      "The seed's worked example with real numbers: forward pass, loss, and the softmax layer's "
      "gradient checked against numerical derivatives");
  c->add_option("--seed", o->seed,
                "np.random.seed for W1, W2 (X uses seed + 1); 0 is CS231n's toy problem")
      ->capture_default_str();
  c->add_option("--html", o->html, "Write the example as a self-contained HTML page of tables");
  c->add_option("--digits", o->digits, "Decimals of the printed matrices")
      ->check(CLI::Range(1, 15))
      ->capture_default_str();
  c->add_flag("--json", o->json, "Print every number (full precision) as one JSON object");
  return {c, [o] {
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
