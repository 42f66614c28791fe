// fcnet_core_link: how fast two cores of this machine hand work to each other, window by window.
// A two-thread training step hands activations and gradients between its threads many times, so
// its speed follows this link; on a virtual machine the link can change from one second to the
// next (the host moves the two virtual CPUs between nearby and distant cores).
//
//   fcnet_core_link [--seconds S] [--cpus A,B]
//
// Two threads pinned to CPUs A and B (default 0 and 1) take turns, in windows of 250 ms:
// first a flag bounced back and forth (round-trip latency), then a 256 KiB buffer that each
// thread updates in place and hands to the other (hand-over bandwidth). Each window prints one
// line: its latency, its bandwidth and the share of CPU time the host took from this machine
// (steal, from /proc/stat), and a summary line ends the run.
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

bool pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

// Steal and total jiffies of all CPUs so far.
std::pair<double, double> steal_and_total() {
  std::ifstream f("/proc/stat");
  std::string cpu;
  f >> cpu;
  double v = 0, total = 0, steal = 0;
  for (int i = 0; i < 8 && f >> v; ++i) {
    total += v;
    if (i == 7) steal = v;
  }
  return {steal, total};
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 5;
  int cpu_a = 0, cpu_b = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string arg = argv[i];
    if (arg == "--seconds") {
      seconds = std::atof(argv[i + 1]);
    } else if (arg == "--cpus") {
      if (std::sscanf(argv[i + 1], "%d,%d", &cpu_a, &cpu_b) != 2) {
        std::fprintf(stderr, "fcnet_core_link: --cpus is '%s', expected A,B\n", argv[i + 1]);
        return 2;
      }
    } else {
      std::fprintf(stderr, "fcnet_core_link: unknown option %s (--seconds S, --cpus A,B)\n",
                   arg.c_str());
      return 2;
    }
  }
  if ((argc - 1) % 2 != 0 || !(seconds > 0)) {
    std::fprintf(stderr, "usage: fcnet_core_link [--seconds S] [--cpus A,B]\n");
    return 2;
  }

  // The partner thread serves both phases: it echoes the flag, then takes its turns on the
  // buffer, until told to stop.
  constexpr std::size_t kFloats = 256 * 1024 / sizeof(float);
  std::vector<float> buf(kFloats, 1.0f);
  std::atomic<long> ping{0}, pong{0}, turn{0};
  std::atomic<int> phase{0};  // 0 latency, 1 bandwidth, 2 stop
  std::atomic<bool> pinned_b{false};
  auto update = [&] {
    for (std::size_t i = 0; i < kFloats; ++i) buf[i] = buf[i] * 0.999f + 1.0f;
  };
  std::thread partner([&] {
    pinned_b = pin(cpu_b);
    long seen = 0;
    for (;;) {
      const int p = phase.load(std::memory_order_acquire);
      if (p == 2) return;
      if (p == 0) {
        const long v = ping.load(std::memory_order_acquire);
        if (v > seen) {
          seen = v;
          pong.store(v, std::memory_order_release);
        }
      } else {
        const long t = turn.load(std::memory_order_acquire);
        if (t % 2 == 1) {
          update();
          turn.store(t + 1, std::memory_order_release);
        }
      }
    }
  });
  if (!pin(cpu_a)) std::fprintf(stderr, "fcnet_core_link: could not pin to CPU %d\n", cpu_a);

  std::vector<double> lat, bw;
  long round = 0;
  const int windows = std::max(1, static_cast<int>(seconds * 4));  // of 250 ms
  std::printf("window  round-trip ns  hand-over GB/s  steal %%\n");
  for (int w = 0; w < windows; ++w) {
    const auto [s0, t0] = steal_and_total();
    phase = 0;
    long trips = 0;
    const auto l0 = Clock::now();
    while (seconds_since(l0) < 0.125)
      for (int k = 0; k < 1000; ++k, ++trips) {
        ping.store(++round, std::memory_order_release);
        while (pong.load(std::memory_order_acquire) < round) {
        }
      }
    const double ns = seconds_since(l0) * 1e9 / static_cast<double>(trips);
    turn = 0;
    phase = 1;
    long handed = 0;
    const auto b0 = Clock::now();
    while (seconds_since(b0) < 0.125) {
      update();
      turn.store(2 * handed + 1, std::memory_order_release);
      while (turn.load(std::memory_order_acquire) != 2 * handed + 2) {
      }
      ++handed;
    }
    const double gbs =
        2.0 * static_cast<double>(handed) * sizeof(float) * kFloats / seconds_since(b0) / 1e9;
    const auto [s1, t1] = steal_and_total();
    const double steal = t1 > t0 ? 100.0 * (s1 - s0) / (t1 - t0) : 0.0;
    std::printf("%6d  %13.0f  %14.1f  %7.1f\n", w + 1, ns, gbs, steal);
    lat.push_back(ns);
    bw.push_back(gbs);
  }
  phase = 2;
  partner.join();
  if (!pinned_b) std::fprintf(stderr, "fcnet_core_link: could not pin to CPU %d\n", cpu_b);
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  std::printf(
      "CPUs %d,%d: round trip min %.0f median %.0f max %.0f ns; hand-over min %.1f "
      "median %.1f max %.1f GB/s\n",
      cpu_a, cpu_b, *std::min_element(lat.begin(), lat.end()), median(lat),
      *std::max_element(lat.begin(), lat.end()), *std::min_element(bw.begin(), bw.end()),
      median(bw), *std::max_element(bw.begin(), bw.end()));
  return 0;
}
