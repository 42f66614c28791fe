// libFuzzer entry: FCNET_FUZZ_TARGET (idx, gzip, csv, npy or safetensors) picks the readers. The
// readers take file names, so each input is written to a scratch file first.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "targets.hpp"

#define FCNET_STR2(x) #x
#define FCNET_STR(x) FCNET_STR2(x)

namespace {

fcnet::fuzz::Target target() {
  fcnet::fuzz::Target t{};
  if (!fcnet::fuzz::parse_target(FCNET_STR(FCNET_FUZZ_TARGET), t)) std::abort();
  return t;
}

std::string scratch_path(fcnet::fuzz::Target t) {
  const char* dir = std::getenv("TMPDIR");
  std::string base = dir && *dir ? dir : "/tmp";
  return base + "/fcnet-fuzz-" + std::to_string(::getpid()) + fcnet::fuzz::target_extension(t);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const fcnet::fuzz::Target t = target();
  static const std::string path = scratch_path(t);
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) std::abort();
  if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  fcnet::fuzz::run_file(t, path, nullptr);
  return 0;
}
