// fcnet gradcheck: analytic vs numerical gradients of a random network, in double precision.
#include <memory>

#include "cli.hpp"
#include "fcnet/gradcheck.hpp"

namespace fcnet::cli {

namespace {
struct Options {
  std::string layers = "4,10,3";
  std::string activation = "relu";
  double alpha = 0.01;
  double reg = 0.0;
  int64_t batch = 5;
  uint64_t seed = 0;
  bool json = false;
  double tol = 1e-7;
  double step = 3e-3;
  int threads = 0;
  bool weighted = false;
};
}  // namespace

Command add_gradcheck(CLI::App& app) {
  auto o = std::make_shared<Options>();
  CLI::App* c = app.add_subcommand(
      "gradcheck", "Check backprop against numerical gradients on a random network (double)");
  c->add_option("--layers", o->layers, "Layer sizes D,H1,…,C")->capture_default_str();
  c->add_option("--activation", o->activation,
                "Hidden activation: relu, leaky_relu, tanh, sigmoid, gelu, identity")
      ->capture_default_str();
  c->add_option("--leaky-alpha", o->alpha, "leaky_relu's negative slope")
      ->check(kFinite)
      ->capture_default_str();
  c->add_option("--reg", o->reg, "L2 strength reg·Σ‖W‖²")
      ->check(kNonNegative)
      ->capture_default_str();
  c->add_option("--batch", o->batch, "Examples in the random batch")
      ->check(kPositive)
      ->capture_default_str();
  c->add_option("--seed", o->seed, "Random seed")->capture_default_str();
  c->add_option("--tolerance", o->tol,
                std::string("Largest acceptable error per parameter, by the criterion ") +
                    kGradCheckCriterion)
      ->check(kPositive)
      ->capture_default_str();
  c->add_option("--step", o->step,
                "Finite-difference step relative to each tensor's RMS (divided by 16, up to four "
                "times, where it would cross a relu kink)")
      ->check(kPositive)
      ->capture_default_str();
  c->add_option("--threads", o->threads, "Threads (default: one per core)")->check(kThreads);
  c->add_flag("--weighted", o->weighted,
              "Random example weights in [0.1, 3): check the weighted mean loss Σ wᵢ·Lᵢ / Σ wᵢ of "
              "--class-weight and --weight-col");
  c->add_flag("--json", o->json, "Print one JSON object on stdout");
  return {c, [o] {
            set_num_threads(o->threads);
            auto sizes = parse_sizes(o->layers, "--layers", false);
            if (sizes.size() < 2)
              throw CLI::ValidationError("--layers", "needs at least D,C (input and classes)");
            ActivationFn act{
                option_value([&] { return parse_activation(o->activation, "--activation"); }),
                o->alpha};
            Rng rng(o->seed);
            Network<double> net(sizes, act);
            net.init(Init::he, rng);
            for (int l = 1; l <= net.num_layers(); ++l)
              for (int64_t j = 0; j < net.b(l).cols; ++j) net.b(l)(0, j) = 0.1 * rng.normal();
            Matrix<double> x(o->batch, sizes.front(), "input batch");
            for (int64_t i = 0; i < x.size(); ++i) x[i] = rng.normal();
            std::vector<int32_t> y(static_cast<std::size_t>(o->batch));
            for (auto& v : y)
              v = static_cast<int32_t>(rng.below(static_cast<uint64_t>(sizes.back())));
            std::vector<double> w;
            if (o->weighted)
              for (int64_t i = 0; i < o->batch; ++i) w.push_back(0.1 + 2.9 * rng.uniform());
            GradCheckResult r = gradcheck(net, x.view(), y.data(), o->reg, o->step, 0, nullptr,
                                          w.empty() ? nullptr : w.data());
            const bool ok = r.max_rel_error <= o->tol;
            if (o->json) {
              json j;
              j["max_rel_error"] = r.max_rel_error;
              json p = json::object();
              for (auto& [name, e] : r.params) p[name] = e;
              j["params"] = p;
              j["checked"] = r.checked;
              j["skipped_at_kinks"] = r.skipped_at_kinks;
              j["worst"] = {{"tensor", r.worst_tensor}, {"index", r.worst_index}};
              j["criterion"] = kGradCheckCriterion;
              j["tolerance"] = o->tol;
              j["ok"] = ok;
              print_json(j);
            } else {
              for (auto& [name, e] : r.params)
                std::printf("%-4s max relative error %.3e\n", name.c_str(), e);
              std::printf(
                  "overall max relative error %.3e (%s[%lld]) over %lld parameters: %s (tolerance "
                  "%.0e)\n",
                  r.max_rel_error, r.worst_tensor.c_str(), static_cast<long long>(r.worst_index),
                  static_cast<long long>(r.checked), ok ? "ok" : "FAILED", o->tol);
              if (r.skipped_at_kinks > 0)
                std::printf("%lld parameters left out: every step tried crossed a relu kink\n",
                            static_cast<long long>(r.skipped_at_kinks));
            }
            return ok ? 0 : 1;
          }};
}

}  // namespace fcnet::cli
