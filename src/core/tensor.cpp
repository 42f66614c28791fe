#include "fcnet/tensor.hpp"

#include <cstdlib>

namespace fcnet {

namespace {
// Larger requests than this are certainly mistakes (e.g. --hidden 100000000000), not workloads.
constexpr std::size_t kMaxAllocBytes = std::size_t{1} << 40;
}  // namespace

void* aligned_alloc_checked(std::size_t count, std::size_t elem_size, const std::string& what) {
  if (count == 0) count = 1;
  if (count > kMaxAllocBytes / elem_size)
    fail(what,
         "needs " + std::to_string(count) + " elements of " + std::to_string(elem_size) +
             " bytes, which is more memory than this machine can have",
         "a size below 1 TiB");
  std::size_t bytes = count * elem_size;
  bytes = (bytes + kAlign - 1) / kAlign * kAlign;
  void* p = std::aligned_alloc(kAlign, bytes);
  if (p == nullptr)
    fail(what, "could not allocate " + std::to_string(bytes) + " bytes (out of memory)");
  return p;
}

void aligned_free(void* p) noexcept {
  std::free(p);
}

std::string shape_str(int64_t rows, int64_t cols) {
  return std::to_string(rows) + "x" + std::to_string(cols);
}

}  // namespace fcnet
