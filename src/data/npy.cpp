// NPY (NumPy's .npy): "\x93NUMPY", version major/minor, a little-endian header length (2 bytes in
// version 1, 4 in versions 2 and 3), a Python dict literal {'descr': '<f4', 'fortran_order': False,
// 'shape': (N, D), }, then the raw elements.
#include <cmath>
#include <cstring>

#include "data/formats.hpp"
#include "fcnet/error.hpp"

namespace fcnet::data_detail {

namespace {

constexpr uint64_t kMaxHeader = uint64_t{1} << 20;

struct NpyHeader {
  char byte_order = '<';
  char kind = 0;  // 'f', 'i', 'u', ...
  std::size_t item = 0;
  std::string descr;
  bool fortran = false;
  std::vector<uint64_t> shape;
  uint64_t header_bytes = 0;  // magic + version + length + dict
};

std::string shape_text(const std::vector<uint64_t>& s) {
  std::string t = "(";
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i) t += ", ";
    t += std::to_string(s[i]);
  }
  if (s.size() == 1) t += ",";
  return t + ")";
}

// Just enough of Python's literal syntax for the header dict.
class DictParser {
 public:
  DictParser(std::string_view text, const std::string& path) : s_(text), path_(path) {}

  NpyHeader parse() {
    NpyHeader h;
    bool have_descr = false, have_fortran = false, have_shape = false;
    expect('{');
    for (;;) {
      skip_ws();
      if (peek() == '}') break;
      const std::string key = string_lit();
      expect(':');
      skip_ws();
      if (key == "descr") {
        if (peek() == '[')
          bad("structured dtype (a list of fields) in 'descr'", "a plain dtype such as '<f4'");
        h.descr = string_lit();
        have_descr = true;
      } else if (key == "fortran_order") {
        h.fortran = bool_lit();
        have_fortran = true;
      } else if (key == "shape") {
        h.shape = tuple_lit();
        have_shape = true;
      } else {
        skip_value();
      }
      skip_ws();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      skip_ws();
      if (peek() != '}')
        bad("malformed header dict near offset " + std::to_string(pos_), "',' or '}'");
    }
    if (!have_descr || !have_fortran || !have_shape)
      bad("header dict lacks " + std::string(!have_descr     ? "'descr'"
                                             : !have_fortran ? "'fortran_order'"
                                                             : "'shape'"),
          "keys 'descr', 'fortran_order' and 'shape'");
    return h;
  }

 private:
  [[noreturn]] void bad(const std::string& what, const std::string& expected) {
    fail(path_, "bad NPY header: " + what, expected);
  }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skip_ws() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
      ++pos_;
  }
  void expect(char c) {
    skip_ws();
    if (peek() != c)
      bad(std::string("found '") + (peek() ? std::string(1, peek()) : "end of header") +
              "' at offset " + std::to_string(pos_),
          std::string("'") + c + "'");
    ++pos_;
  }
  std::string string_lit() {
    skip_ws();
    const char q = peek();
    if (q != '\'' && q != '"')
      bad("expected a quoted string at offset " + std::to_string(pos_), "a Python dict literal");
    ++pos_;
    std::string out;
    while (pos_ < s_.size() && s_[pos_] != q) {
      if (s_[pos_] == '\\' && pos_ + 1 < s_.size()) ++pos_;
      out += s_[pos_++];
    }
    if (pos_ >= s_.size()) bad("unterminated string", "a Python dict literal");
    ++pos_;
    return out;
  }
  bool bool_lit() {
    if (s_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (s_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    bad("'fortran_order' is not True or False", "True or False");
  }
  std::vector<uint64_t> tuple_lit() {
    std::vector<uint64_t> out;
    expect('(');
    for (;;) {
      skip_ws();
      if (peek() == ')') break;
      if (peek() < '0' || peek() > '9')
        bad("'shape' holds a non-integer at offset " + std::to_string(pos_),
            "a tuple of non-negative integers");
      uint64_t v = 0;
      while (peek() >= '0' && peek() <= '9') {
        if (__builtin_mul_overflow(v, uint64_t{10}, &v) ||
            __builtin_add_overflow(v, static_cast<uint64_t>(peek() - '0'), &v))
          bad("'shape' dimension overflows 64 bits", "dimensions that fit the file");
        ++pos_;
      }
      if (peek() == 'L') ++pos_;
      out.push_back(v);
      skip_ws();
      if (peek() == ',')
        ++pos_;
      else if (peek() != ')')
        bad("malformed 'shape' tuple", "(N, D) or (N,)");
    }
    ++pos_;
    return out;
  }
  void skip_value() {
    int depth = 0;
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (c == '\'' || c == '"') {
        string_lit();
        continue;
      }
      if (c == '(' || c == '[' || c == '{') ++depth;
      if (c == ')' || c == ']' || c == '}') {
        if (depth == 0) return;
        --depth;
      }
      if (c == ',' && depth == 0) return;
      ++pos_;
    }
  }

  std::string_view s_;
  std::size_t pos_ = 0;
  const std::string& path_;
};

NpyHeader read_header(InputFile& in) {
  const std::string& path = in.path();
  uint8_t pre[10] = {};
  const std::size_t got = in.read(pre, 8);
  if (got < 8 || std::memcmp(pre, "\x93NUMPY", 6) != 0)
    fail(path, "bad NPY magic", "a file starting with \\x93NUMPY");
  const int major = pre[6];
  uint64_t hlen = 0;
  uint64_t pre_bytes = 0;
  if (major == 1) {
    in.read_exact(pre + 8, 2, "the NPY header length");
    hlen = static_cast<uint64_t>(pre[8]) | static_cast<uint64_t>(pre[9]) << 8;
    pre_bytes = 10;
  } else if (major == 2 || major == 3) {
    uint8_t l[4];
    in.read_exact(l, 4, "the NPY header length");
    hlen = static_cast<uint64_t>(l[0]) | static_cast<uint64_t>(l[1]) << 8 |
           static_cast<uint64_t>(l[2]) << 16 | static_cast<uint64_t>(l[3]) << 24;
    pre_bytes = 12;
  } else {
    fail(path, "unsupported NPY version " + std::to_string(major) + "." + std::to_string(pre[7]),
         "version 1, 2 or 3");
  }
  if (hlen > kMaxHeader)
    fail(path, "NPY header length " + std::to_string(hlen) + " is absurd", "a header below 1 MiB");
  std::string text(hlen, '\0');
  in.read_exact(text.data(), hlen, "the NPY header");
  NpyHeader h = DictParser(text, path).parse();
  h.header_bytes = pre_bytes + hlen;
  const std::string& d = h.descr;
  if (d.size() < 3 || (d[0] != '<' && d[0] != '>' && d[0] != '|' && d[0] != '='))
    fail(path, "NPY dtype '" + d + "' is not supported",
         "a numeric dtype such as '<f4', '<f8', '|u1'");
  h.byte_order = d[0];
  h.kind = d[1];
  std::size_t item = 0;
  for (std::size_t i = 2; i < d.size(); ++i) {
    if (d[i] < '0' || d[i] > '9' || item > 64)
      fail(path, "NPY dtype '" + d + "' is not supported",
           "a numeric dtype such as '<f4', '<f8', '|u1'");
    item = item * 10 + static_cast<std::size_t>(d[i] - '0');
  }
  h.item = item;
  if (h.byte_order == '>' && item > 1)
    fail(path, "NPY data is big-endian ('" + d + "')",
         "little-endian data (save with arr.astype(arr.dtype.newbyteorder('<')))");
  if (h.fortran)
    fail(path, "NPY array is in Fortran (column-major) order",
         "C order (save np.ascontiguousarray(arr))");
  return h;
}

uint64_t payload_bytes(InputFile& in, const NpyHeader& h) {
  uint64_t count = 1;
  bool overflow = false;
  for (uint64_t s : h.shape) overflow |= __builtin_mul_overflow(count, s, &count);
  uint64_t bytes = 0;
  overflow |= __builtin_mul_overflow(count, static_cast<uint64_t>(h.item), &bytes);
  if (overflow)
    fail(in.path(), "NPY shape " + shape_text(h.shape) + " overflows 64 bits",
         "a shape that fits the file");
  if (!in.compressed()) {
    const uint64_t have = in.disk_size() - h.header_bytes;
    if (have != bytes)
      fail(in.path(),
           std::string(have < bytes ? "truncated: " : "trailing bytes: ") + "NPY shape " +
               shape_text(h.shape) + " of '" + h.descr + "' needs " + std::to_string(bytes) +
               " data bytes but the file holds " + std::to_string(have),
           "a file of exactly " + std::to_string(h.header_bytes + bytes) + " bytes");
  } else if (bytes > in.max_content_size()) {
    fail(in.path(), "NPY shape " + shape_text(h.shape) + " needs more data than the file can hold",
         "a shape matching the data");
  }
  return bytes;
}

void read_payload(InputFile& in, const NpyHeader& h, std::vector<uint8_t>& dst, uint64_t bytes) {
  in.read_exact_into(dst, bytes, "the NPY data of shape " + shape_text(h.shape));
  if (!in.at_end())
    fail(in.path(), "trailing bytes after the NPY data of shape " + shape_text(h.shape),
         "the data to end where the shape says");
}

}  // namespace

Dataset load_npy(InputFile& in) {
  const std::string& path = in.path();
  NpyHeader h = read_header(in);
  if (h.shape.size() != 2)
    fail(path, "NPY array has shape " + shape_text(h.shape),
         "a 2-D array N×D of features (reshape(-1, 1) for a single feature)");
  DType t;
  if (h.kind == 'f' && h.item == 4)
    t = DType::f32;
  else if (h.kind == 'f' && h.item == 8)
    t = DType::f64;
  else if (h.kind == 'u' && h.item == 1)
    t = DType::u8;
  else
    fail(path, "NPY features of dtype '" + h.descr + "'",
         "float32 ('<f4'), float64 ('<f8') or uint8 ('|u1')");
  const uint64_t bytes = payload_bytes(in, h);
  if (h.shape[0] == 0 || h.shape[1] == 0)
    fail(path, "NPY array of shape " + shape_text(h.shape) + " holds no data",
         "at least one example of at least one feature");
  if (h.shape[0] > static_cast<uint64_t>(INT32_MAX) ||
      h.shape[1] > static_cast<uint64_t>(INT32_MAX))
    fail(path, "NPY shape " + shape_text(h.shape) + " is too large",
         "at most 2^31-1 rows and columns");
  Dataset ds;
  ds.n = static_cast<int64_t>(h.shape[0]);
  ds.d = static_cast<int64_t>(h.shape[1]);
  ds.dtype = t;
  read_payload(in, h, ds.bytes, bytes);
  // An array has no missing-value marker: a NaN or an infinity is refused where it stands.
  auto check_finite = [&](const auto* v) {
    for (int64_t i = 0; i < ds.n * ds.d; ++i)
      if (!std::isfinite(v[i]))
        fail(path,
             "holds " + std::string(std::isnan(v[i]) ? "NaN" : "an infinity") + " at row " +
                 std::to_string(i / ds.d) + ", column " + std::to_string(i % ds.d) +
                 " (counted from 0)",
             "finite numbers (fill or drop the gaps first)");
  };
  if (t == DType::f32) check_finite(reinterpret_cast<const float*>(ds.bytes.data()));
  if (t == DType::f64) check_finite(reinterpret_cast<const double*>(ds.bytes.data()));
  return ds;
}

LabelFile load_npy_labels(InputFile& in) {
  const std::string& path = in.path();
  NpyHeader h = read_header(in);
  if (!(h.shape.size() == 1 || (h.shape.size() == 2 && h.shape[1] == 1)))
    fail(path, "NPY labels have shape " + shape_text(h.shape), "a 1-D array (N,) of class indices");
  const bool is_int = (h.kind == 'i' || h.kind == 'u') &&
                      (h.item == 1 || h.item == 2 || h.item == 4 || h.item == 8);
  const bool is_float = h.kind == 'f' && (h.item == 4 || h.item == 8);
  if (!is_int && !is_float)
    fail(path, "NPY labels of dtype '" + h.descr + "'", "integers such as '<i8', '<i4' or '|u1'");
  const uint64_t bytes = payload_bytes(in, h);
  const uint64_t n = h.shape[0];
  if (n > static_cast<uint64_t>(INT32_MAX))
    fail(path, "NPY label count " + std::to_string(n) + " is too large", "at most 2^31-1 labels");
  std::vector<uint8_t> raw;
  read_payload(in, h, raw, bytes);
  LabelFile lf;
  lf.labels.resize(n);
  for (uint64_t i = 0; i < n; ++i) {
    const uint8_t* p = raw.data() + i * h.item;
    double v = 0;
    auto load = [&](auto tag) {
      decltype(tag) x;
      std::memcpy(&x, p, sizeof x);
      v = static_cast<double>(x);
    };
    if (h.kind == 'i') {
      if (h.item == 1)
        load(int8_t{});
      else if (h.item == 2)
        load(int16_t{});
      else if (h.item == 4)
        load(int32_t{});
      else
        load(int64_t{});
    } else if (h.kind == 'u') {
      if (h.item == 1)
        load(uint8_t{});
      else if (h.item == 2)
        load(uint16_t{});
      else if (h.item == 4)
        load(uint32_t{});
      else
        load(uint64_t{});
    } else if (h.item == 4) {
      load(float{});
    } else {
      load(double{});
    }
    if (!(v >= 0) || v > INT32_MAX || v != std::floor(v))
      fail(path, "label " + number_text(v) + " at index " + std::to_string(i),
           "whole-number class indices >= 0");
    lf.labels[i] = static_cast<int32_t>(v);
  }
  return lf;
}

}  // namespace fcnet::data_detail
