// Ranks as threads of one process for the data-parallel tests: a Collective that sums in rank
// order, and a helper that runs a function on k of them.
#pragma once

#include <algorithm>
#include <barrier>
#include <cstring>
#include <exception>
#include <thread>
#include <type_traits>
#include <vector>

#include "fcnet/collective.hpp"

namespace fcnet::test {

// The ranks' meeting point: each publishes its buffer, then every rank reads all of them.
struct Group {
  explicit Group(int k) : size(k), bar(k), ptr(static_cast<std::size_t>(k)) {}
  int size;
  std::barrier<> bar;
  std::vector<const void*> ptr;
};

class ThreadCollective final : public Collective {
 public:
  ThreadCollective(Group& g, int r) : g_(g), r_(r) {}
  int rank() const override { return r_; }
  int size() const override { return g_.size; }
  void sum(float* v, int64_t n) override { reduce(v, n, false); }
  void sum(double* v, int64_t n) override { reduce(v, n, false); }
  void max(double* v, int64_t n) override { reduce(v, n, true); }
  void broadcast(void* data, int64_t bytes, int root) override {
    ++calls;
    g_.ptr[static_cast<std::size_t>(r_)] = data;
    g_.bar.arrive_and_wait();
    if (r_ != root && bytes > 0)
      std::memcpy(data, g_.ptr[static_cast<std::size_t>(root)], static_cast<std::size_t>(bytes));
    g_.bar.arrive_and_wait();  // the root's buffer is read by every rank before it may change
  }
  int64_t calls = 0;
  // Added to the first element of every float sum this rank receives: a collective whose sums
  // differ between ranks, as a faulty MPI library's might.
  float skew = 0.0f;

 private:
  template <class T>
  void reduce(T* v, int64_t n, bool take_max) {
    ++calls;
    g_.ptr[static_cast<std::size_t>(r_)] = v;
    g_.bar.arrive_and_wait();
    std::vector<T> out(static_cast<std::size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      T acc = static_cast<const T*>(g_.ptr[0])[i];
      for (int q = 1; q < g_.size; ++q) {
        const T x = static_cast<const T*>(g_.ptr[static_cast<std::size_t>(q)])[i];
        acc = take_max ? std::max(acc, x) : acc + x;
      }
      out[static_cast<std::size_t>(i)] = acc;
    }
    g_.bar.arrive_and_wait();  // every rank has read every input before any is overwritten
    if constexpr (std::is_same_v<T, float>)
      if (n > 0) out[0] += skew;
    std::copy(out.begin(), out.end(), v);
  }
  Group& g_;
  int r_;
};

// Runs f(comm) on k thread-ranks and rethrows the first rank's failure.
template <class F>
void on_ranks(int k, F f) {
  Group g(k);
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(k));
  std::vector<std::thread> threads;
  for (int r = 0; r < k; ++r)
    threads.emplace_back([&, r] {
      try {
        ThreadCollective comm(g, r);
        f(comm);
      } catch (...) {
        errors[static_cast<std::size_t>(r)] = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace fcnet::test
