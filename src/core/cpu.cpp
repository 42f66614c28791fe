#include "fcnet/cpu.hpp"

#include <omp.h>

#include <fstream>

namespace fcnet {

CpuInfo cpu_info() {
  CpuInfo c;
  std::ifstream f("/proc/cpuinfo");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos && colon + 2 <= line.size()) c.name = line.substr(colon + 2);
      break;
    }
  c.threads = omp_get_num_procs();
  __builtin_cpu_init();
  const struct {
    const char* name;
    bool has;
  } sets[] = {{"sse4.2", __builtin_cpu_supports("sse4.2") != 0},
              {"avx", __builtin_cpu_supports("avx") != 0},
              {"fma", __builtin_cpu_supports("fma") != 0},
              {"avx2", __builtin_cpu_supports("avx2") != 0},
              {"avx512f", __builtin_cpu_supports("avx512f") != 0},
              {"avx512bw", __builtin_cpu_supports("avx512bw") != 0},
              {"avx512vl", __builtin_cpu_supports("avx512vl") != 0},
              {"avx512vnni", __builtin_cpu_supports("avx512vnni") != 0},
              {"avx512bf16", __builtin_cpu_supports("avx512bf16") != 0}};
  for (const auto& s : sets)
    if (s.has) c.instruction_sets.emplace_back(s.name);
  return c;
}

}  // namespace fcnet
