// Tensors: a row-major matrix type with owning (Matrix) and non-owning (MatrixView) forms,
// templated on float and double. A vector is a 1×n matrix.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <type_traits>

#include "fcnet/error.hpp"

namespace fcnet {

// Alignment of every owned buffer: one AVX-512 register / cache line.
inline constexpr std::size_t kAlign = 64;

// Non-owning view of a rows×cols row-major block whose rows are `ld` elements apart.
// T may be const-qualified for read-only views.
template <class T>
struct MatrixView {
  T* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t ld = 0;

  MatrixView() = default;
  MatrixView(T* d, int64_t r, int64_t c) : data(d), rows(r), cols(c), ld(c) {}
  MatrixView(T* d, int64_t r, int64_t c, int64_t stride) : data(d), rows(r), cols(c), ld(stride) {}
  // A view of mutable data converts to a view of const data.
  template <class U, class = std::enable_if_t<std::is_same_v<const U, T> && !std::is_same_v<U, T>>>
  MatrixView(const MatrixView<U>& o) : data(o.data), rows(o.rows), cols(o.cols), ld(o.ld) {}

  T& operator()(int64_t i, int64_t j) const { return data[i * ld + j]; }
  T* row(int64_t i) const { return data + i * ld; }
  int64_t size() const { return rows * cols; }
  bool contiguous() const { return ld == cols || rows <= 1; }
  // Rows [begin, begin+count) of this view.
  MatrixView rows_range(int64_t begin, int64_t count) const {
    return MatrixView(data + begin * ld, count, cols, ld);
  }
};

template <class T>
using ConstView = MatrixView<const T>;

// Allocates `count` elements of T aligned to kAlign; throws fcnet::Error naming `what` when the
// size is absurd or memory runs out, so callers never crash on a bad size.
void* aligned_alloc_checked(std::size_t count, std::size_t elem_size, const std::string& what);
void aligned_free(void* p) noexcept;

// Owning, 64-byte aligned, uninitialised-on-request storage for a rows×cols row-major matrix.
template <class T>
class Matrix {
 public:
  Matrix() = default;
  // Zero-filled rows×cols matrix; `what` names it in allocation errors.
  Matrix(int64_t r, int64_t c, const std::string& what = "matrix") { resize(r, c, what); }
  Matrix(const Matrix& o) { *this = o; }
  Matrix(Matrix&& o) noexcept { swap(o); }
  Matrix& operator=(const Matrix& o) {
    if (this != &o) {
      resize(o.rows_, o.cols_);
      if (size() > 0) std::memcpy(data_.get(), o.data_.get(), sizeof(T) * size());
    }
    return *this;
  }
  Matrix& operator=(Matrix&& o) noexcept {
    swap(o);
    return *this;
  }
  void swap(Matrix& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(rows_, o.rows_);
    std::swap(cols_, o.cols_);
    std::swap(capacity_, o.capacity_);
  }

  // Reshapes to r×c, zero-filled. Reuses the allocation when it is large enough, so a training
  // step that resizes to a shape it has seen allocates nothing.
  void resize(int64_t r, int64_t c, const std::string& what = "matrix") {
    if (r < 0 || c < 0) fail(what, "negative shape " + std::to_string(r) + "x" + std::to_string(c));
    const int64_t n = checked_count(r, c, what);
    if (n > capacity_) {
      data_.reset(
          static_cast<T*>(aligned_alloc_checked(static_cast<std::size_t>(n), sizeof(T), what)));
      capacity_ = n;
    }
    rows_ = r;
    cols_ = c;
    if (n > 0)
      std::memset(static_cast<void*>(data_.get()), 0, sizeof(T) * static_cast<std::size_t>(n));
  }
  // Like resize but leaves the contents unspecified (for buffers about to be overwritten).
  void reshape_uninit(int64_t r, int64_t c, const std::string& what = "matrix") {
    const int64_t n = checked_count(r, c, what);
    if (n > capacity_) {
      data_.reset(
          static_cast<T*>(aligned_alloc_checked(static_cast<std::size_t>(n), sizeof(T), what)));
      capacity_ = n;
    }
    rows_ = r;
    cols_ = c;
  }

  T* data() { return data_.get(); }
  const T* data() const { return data_.get(); }
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  int64_t size() const { return rows_ * cols_; }
  T& operator()(int64_t i, int64_t j) { return data_.get()[i * cols_ + j]; }
  const T& operator()(int64_t i, int64_t j) const { return data_.get()[i * cols_ + j]; }
  T& operator[](int64_t i) { return data_.get()[i]; }
  const T& operator[](int64_t i) const { return data_.get()[i]; }

  MatrixView<T> view() { return MatrixView<T>(data_.get(), rows_, cols_); }
  ConstView<T> view() const { return ConstView<T>(data_.get(), rows_, cols_); }
  ConstView<T> cview() const { return view(); }
  operator MatrixView<T>() { return view(); }
  operator ConstView<T>() const { return view(); }

 private:
  static int64_t checked_count(int64_t r, int64_t c, const std::string& what) {
    if (r < 0 || c < 0) fail(what, "negative shape " + std::to_string(r) + "x" + std::to_string(c));
    if (c != 0 && r > INT64_MAX / c / static_cast<int64_t>(sizeof(T)))
      fail(what, "shape " + std::to_string(r) + "x" + std::to_string(c) + " is too large");
    return r * c;
  }
  struct Deleter {
    void operator()(T* p) const noexcept { aligned_free(p); }
  };
  std::unique_ptr<T[], Deleter> data_;
  int64_t rows_ = 0;
  int64_t cols_ = 0;
  int64_t capacity_ = 0;
};

// Copies src into dst (same shape).
template <class T>
void copy(MatrixView<T> dst, ConstView<T> src) {
  for (int64_t i = 0; i < src.rows; ++i)
    std::memcpy(dst.row(i), src.row(i), sizeof(T) * static_cast<std::size_t>(src.cols));
}

// "3x4": a shape for messages.
std::string shape_str(int64_t rows, int64_t cols);

}  // namespace fcnet
