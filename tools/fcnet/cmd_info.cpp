// fcnet info: what a model file holds; --devices lists the CPU (its instruction sets) and the CUDA
// devices, or why there are none.
#include <memory>

#include "cli.hpp"
#include "fcnet/cpu.hpp"
#include "fcnet/cuda.hpp"
#include "fcnet/trainer.hpp"

namespace fcnet::cli {

namespace {
struct Options {
  std::string model;
  bool json = false;
  bool devices = false;
};
}  // namespace

Command add_info(CLI::App& app) {
  auto o = std::make_shared<Options>();
  CLI::App* c = app.add_subcommand("info", "Describe a model file");
  c->add_option("--model", o->model, "Model file (.safetensors); optional with --devices");
  c->add_flag("--devices", o->devices,
              "List the CPU with its vector instruction sets, and the CUDA devices (a build with "
              "FCNET_CUDA) or why there are none");
  c->add_flag("--json", o->json, "Print one JSON object on stdout");
  return {
      c, [o] {
        if (o->model.empty() && !o->devices)
          throw CLI::ValidationError("--model", "is required (or --devices)");
        // With --json and both, one object: the model's fields, "cpu" and "cuda_devices" (or
        // "cuda_unavailable": why not).
        json devices = json::object();
        if (o->devices) {
          const CpuInfo cpu = cpu_info();
          std::string sets;
          for (const auto& s : cpu.instruction_sets) sets += (sets.empty() ? "" : " ") + s;
          devices["cpu"] = {{"name", cpu.name},
                            {"threads", cpu.threads},
                            {"instruction_sets", cpu.instruction_sets}};
          std::string cuda;
          try {
            cuda = cuda_devices_info();
            devices["cuda_devices"] = cuda;
          } catch (const Error& e) {
            cuda = std::string(e.what()) + "\n";
            devices["cuda_unavailable"] = e.what();
          }
          if (!o->json)
            std::printf("cpu: %s (%d threads); instruction sets: %s\n%s",
                        cpu.name.empty() ? "unknown" : cpu.name.c_str(), cpu.threads,
                        sets.empty() ? "none of fcnet's" : sets.c_str(), cuda.c_str());
        }
        if (o->model.empty()) {
          if (o->json) print_json(devices);
          return 0;
        }
        const SafeTensors st = read_safetensors(o->model);
        Model m = model_from_safetensors(st, o->model);
        const char* checksums = has_checksums(st)
                                    ? "CRC-32C per tensor, all verified"
                                    : "none (written before fcnet stored checksums, or by "
                                      "another program): damage cannot be detected";
        std::string arch;
        for (auto s : m.sizes()) arch += (arch.empty() ? "" : "-") + std::to_string(s);
        const auto act = m.activation();
        std::string transform = "none";
        if (!m.transform.identity()) {
          char b[64];
          std::snprintf(b, sizeof b, "x * %.6g", m.transform.scale);
          transform = b;
          if (!m.transform.mean.empty()) transform = "(" + transform + " - input_mean)";
          if (!m.transform.std.empty()) transform += " / input_std";
        }
        json training = json::object();
        if (!m.training_json.empty()) {
          try {
            training = json::parse(m.training_json);
          } catch (const json::exception&) {
            training = m.training_json;
          }
        }
        if (o->json) {
          json j = {{"architecture", m.sizes()},        {"activation", activation_name(act.kind)},
                    {"parameters", m.num_params()},     {"precision", m.f64 ? "f64" : "f32"},
                    {"input_scale", m.transform.scale}, {"standardized", !m.transform.mean.empty()},
                    {"classes", m.class_names},         {"training", training},
                    {"checksums", has_checksums(st)}};
          if (!m.schema.empty()) j["columns"] = json::parse(schema_to_json(m.schema));
          j.update(devices);
          print_json(j);
          return 0;
        }
        std::printf("model        %s\n", o->model.c_str());
        std::printf("architecture %s (%d linear layers)\n", arch.c_str(),
                    static_cast<int>(m.sizes().size()) - 1);
        std::printf("activation   %s", activation_name(act.kind));
        if (act.kind == Activation::leaky_relu) std::printf(" (alpha %g)", act.alpha);
        std::printf(" on hidden layers; softmax output\n");
        std::printf("parameters   %lld (%s)\n", static_cast<long long>(m.num_params()),
                    m.f64 ? "float64" : "float32");
        std::printf("input        %s\n", transform.c_str());
        std::printf("checksums    %s\n", checksums);
        if (!m.schema.empty()) {
          std::printf("columns      %zu feature columns -> %lld features%s%s\n",
                      m.schema.columns.size(), static_cast<long long>(m.schema.width()),
                      m.schema.label.empty() ? "" : ("; label '" + m.schema.label + "'").c_str(),
                      m.schema.id.empty() ? "" : ("; id '" + m.schema.id + "'").c_str());
          for (const auto& col : m.schema.columns)
            std::printf("  %-20s %s\n", col.name.c_str(), col.describe().c_str());
        }
        if (!m.class_names.empty()) {
          // As a CSV row (RFC 4180 quoting), so names holding commas, quotes or spaces read back.
          std::string row;
          for (const auto& n : m.class_names) row += (row.empty() ? "" : ",") + csv_field(n);
          std::printf("classes      %s\n", row.c_str());
        }
        if (training.is_object() && !training.empty()) {
          // The per-epoch history is for reports; the text summary names its length only.
          json brief = training;
          if (brief.contains("history") && brief["history"].is_array()) {
            const auto n = brief["history"].size();
            brief.erase("history");
            brief["history"] = std::to_string(n) + " epochs";
          }
          std::printf("training    ");
          for (auto it = brief.begin(); it != brief.end(); ++it)
            std::printf(" %s=%s", it.key().c_str(),
                        it->is_string() ? it->get<std::string>().c_str() : it->dump().c_str());
          std::printf("\n");
        }
        return 0;
      }};
}

}  // namespace fcnet::cli
