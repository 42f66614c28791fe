// What this machine's CPU offers fcnet: its name, the threads a run may use, and the vector
// instruction sets fcnet's kernels and oneDNN can use, as the CPU itself reports them (CPUID).
#pragma once

#include <string>
#include <vector>

namespace fcnet {

struct CpuInfo {
  std::string name;  // the model name, or "" where the system does not say
  int threads = 0;   // hardware threads available to this process
  // Among sse4.2, avx, fma, avx2, avx512f, avx512bw, avx512vl, avx512vnni and avx512bf16 (the
  // names /proc/cpuinfo uses, avx512_vnni and avx512_bf16 written without the underscore), those
  // this CPU has.
  std::vector<std::string> instruction_sets;
};

CpuInfo cpu_info();

}  // namespace fcnet
