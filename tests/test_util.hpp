// Shared helpers for the test suites: random matrices, fixtures, temp folders, running the CLI.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "fcnet/model_io.hpp"
#include "fcnet/network.hpp"
#include "fcnet/random.hpp"

namespace fcnet::test {

template <class T>
Matrix<T> random_matrix(int64_t r, int64_t c, Rng& rng, double scale = 1.0) {
  Matrix<T> m(r, c);
  for (int64_t i = 0; i < m.size(); ++i) m[i] = static_cast<T>(scale * rng.normal());
  return m;
}

inline std::vector<int32_t> random_labels(int64_t n, int64_t classes, Rng& rng) {
  std::vector<int32_t> y(static_cast<std::size_t>(n));
  for (auto& v : y) v = static_cast<int32_t>(rng.below(static_cast<uint64_t>(classes)));
  return y;
}

// Random network with He-scaled weights and small non-zero biases.
template <class T>
Network<T> random_network(std::vector<int64_t> sizes, ActivationFn act, Rng& rng) {
  Network<T> net(std::move(sizes), act);
  net.init(Init::he, rng);
  for (int l = 1; l <= net.num_layers(); ++l)
    for (int64_t j = 0; j < net.b(l).cols; ++j) net.b(l)(0, j) = static_cast<T>(0.1 * rng.normal());
  return net;
}

inline std::string fixture_path(const std::string& name) {
  return std::string(FCNET_SOURCE_DIR) + "/tests/reference/fixtures/" + name;
}

// A network fixture written by tests/reference/make_fixtures.py.
struct NetFixture {
  SafeTensors st;
  Model model;
  Matrix<double> x;
  std::vector<int32_t> y;
  double reg = 0;
  double meta(const std::string& k) const { return std::stod(st.metadata.at(k)); }
  std::vector<double> tensor(const std::string& k) const { return st.tensors.at(k).to_double(k); }
};

inline NetFixture load_net_fixture(const std::string& name) {
  NetFixture f;
  f.st = read_safetensors(fixture_path(name));
  SafeTensors params;
  for (const auto& [k, v] : f.st.tensors)
    if ((k[0] == 'W' || k[0] == 'b') && k.size() > 1 && std::isdigit(k[1])) params.tensors[k] = v;
  params.metadata["activation"] = f.st.metadata.at("activation");
  params.metadata["leaky_relu_alpha"] = f.st.metadata.at("leaky_relu_alpha");
  f.model = model_from_safetensors(params, name);
  const StTensor& xt = f.st.tensors.at("x");
  f.x = Matrix<double>(xt.shape[0], xt.shape[1]);
  auto xv = xt.to_double("x");
  for (std::size_t i = 0; i < xv.size(); ++i) f.x[static_cast<int64_t>(i)] = xv[i];
  for (double v : f.st.tensors.at("y").to_double("y")) f.y.push_back(static_cast<int32_t>(v));
  f.reg = f.meta("reg");
  return f;
}

// NPY as numpy writes it: magic, version, little-endian header length, dict padded with spaces
// and a final newline so that the data starts on a 64-byte boundary.
inline std::string npy_file(const std::string& descr, const std::string& shape,
                            const std::string& payload, int version = 1,
                            const std::string& fortran = "False") {
  std::string dict =
      "{'descr': '" + descr + "', 'fortran_order': " + fortran + ", 'shape': " + shape + ", }";
  const std::size_t pre = version == 1 ? 10 : 12;
  while ((pre + dict.size() + 1) % 64 != 0) dict += ' ';
  dict += '\n';
  std::string s = "\x93NUMPY";
  s += static_cast<char>(version);
  s += '\0';
  const auto len = static_cast<uint32_t>(dict.size());
  s += static_cast<char>(len & 0xFF);
  s += static_cast<char>((len >> 8) & 0xFF);
  if (version != 1) {
    s += static_cast<char>((len >> 16) & 0xFF);
    s += static_cast<char>((len >> 24) & 0xFF);
  }
  return s + dict + payload;
}

inline std::filesystem::path temp_dir(const std::string& tag) {
  auto base = std::filesystem::temp_directory_path() /
              ("fcnet-test-" + tag + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(base);
  std::filesystem::create_directories(base);
  return base;
}

struct CmdResult {
  int code = -1;
  std::string out;
  std::string err;
};

// The CLI under test: the one built beside the tests, or $FCNET_TEST_CLI where the test binary was
// moved to another machine (bench/gpu_check.sh runs a packed build).
inline std::string cli_path() {
  const char* moved = std::getenv("FCNET_TEST_CLI");
  return moved != nullptr && *moved != '\0' ? std::string(moved) : std::string(FCNET_CLI);
}

// Runs the fcnet CLI with `args` (a shell-quoted string), capturing stdout and stderr; `env` is
// prefixed to the command line ("NAME=value ...").
inline CmdResult run_cli(const std::string& args, const std::filesystem::path& dir,
                         const std::string& env = "") {
  const auto out = dir / "stdout.txt", err = dir / "stderr.txt";
  const std::string cmd = env + (env.empty() ? "" : " ") + cli_path() + " " + args + " >" +
                          out.string() + " 2>" + err.string() + " </dev/null";
  const int status = std::system(cmd.c_str());
  CmdResult r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_file(out.string());
  r.err = read_file(err.string());
  return r;
}

#ifdef FCNET_FAULT_SHIM
// The environment that loads tests/fault_shim.cpp into the CLI with the given fault settings.
inline std::string with_fault(const std::string& settings) {
  std::string env = "LD_PRELOAD=" FCNET_FAULT_SHIM " " + settings;
#if defined(__SANITIZE_ADDRESS__)
  // The sanitizer's runtime wants to be first; the shim only forwards to it.
  const char* asan = std::getenv("ASAN_OPTIONS");
  env += " ASAN_OPTIONS=" + std::string(asan != nullptr && *asan != '\0' ? asan : "") +
         (asan != nullptr && *asan != '\0' ? ":" : "") + "verify_asan_link_order=0";
#endif
  return env;
}
#endif

}  // namespace fcnet::test
