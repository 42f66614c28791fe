// fcnet export: a model in another format, for runtimes that do not read fcnet's files.
#include <memory>

#include "cli.hpp"
#include "fcnet/onnx.hpp"

namespace fcnet::cli {

namespace {
struct Options {
  std::string model;
  std::string format = "onnx";
  std::string out;
};
}  // namespace

Command add_export(CLI::App& app) {
  auto o = std::make_shared<Options>();
  CLI::App* c = app.add_subcommand(
      "export", "Write a model as an ONNX graph computing what predict --output probs computes");
  c->add_option("--model", o->model, "Model file (.safetensors)")->required();
  c->add_option("--format", o->format, "Format to write: onnx")->capture_default_str();
  c->add_option("--out", o->out, "File to write (atomically)")->required();
  return {c, [o] {
            if (o->format != "onnx")
              throw CLI::ValidationError(
                  "--format", "'" + o->format + "' is not a known format, expected onnx");
            check_writable(o->out);
            const Model m = load_model(o->model);
            std::string bytes;
            try {
              bytes = to_onnx(m);
            } catch (const Error& e) {
              fail(o->model, e.what());
            }
            write_file_atomic(o->out, bytes);
            log("fcnet: wrote %s (ONNX, %zu bytes)", o->out.c_str(), bytes.size());
            return 0;
          }};
}

}  // namespace fcnet::cli
