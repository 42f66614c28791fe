// fcnet loss: loss and gradients of a model on a data set, in the model's precision.
#include <memory>

#include "cli.hpp"
#include "fcnet/trainer.hpp"

namespace fcnet::cli {

namespace {
struct Options {
  std::string model;
  DataOptions data;
  double reg = 0.0;
  std::string grads_out;
  bool json = false;
};

template <class T>
LossParts loss_and_grads(Network<T>& net, const Model& m, const Dataset& d, double reg) {
  Matrix<T> x = to_matrix<T>(d, m.transform);
  Workspace<T> ws(!std::is_same_v<T, double>);
  return forward_backward<T>(net, x.view(), d.labels.data(), reg, ws);
}
}  // namespace

Command add_loss(CLI::App& app) {
  auto o = std::make_shared<Options>();
  CLI::App* c =
      app.add_subcommand("loss", "Data loss, regularization loss and gradients of a model");
  c->add_option("--model", o->model, "Model file (.safetensors)")->required();
  add_data_options(c, o->data, true, "Data: NPY, IDX, CSV or fashion-mnist[:train|:test]");
  c->add_option("--reg", o->reg, "L2 strength reg·Σ‖W‖²")->check(kNonNegative);
  c->add_option("--grads-out", o->grads_out,
                "Write the gradient of the total loss for every parameter (safetensors)");
  c->add_flag("--json", o->json, "Print one JSON object on stdout");
  return {
      c, [o] {
        if (!o->grads_out.empty()) check_writable(o->grads_out);
        Model m = load_model(o->model);
        Dataset d = load_for_model(o->data, m, true);
        check_compatible(m, d);
        LossParts lp =
            m.f64 ? loss_and_grads(m.net64, m, d, o->reg) : loss_and_grads(m.net32, m, d, o->reg);
        if (!o->grads_out.empty()) {
          SafeTensors g =
              m.f64 ? gradients_to_safetensors(m.net64) : gradients_to_safetensors(m.net32);
          write_file_atomic(o->grads_out, serialize_safetensors(g));
        }
        if (o->json) {
          print_json({{"data_loss", lp.data_loss}, {"reg_loss", lp.reg_loss}, {"loss", lp.loss}});
        } else {
          std::printf("data loss %.17g\nreg loss  %.17g\nloss      %.17g\n", lp.data_loss,
                      lp.reg_loss, lp.loss);
        }
        return 0;
      }};
}

}  // namespace fcnet::cli
