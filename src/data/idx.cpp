// IDX (the MNIST family's format): a 4-byte magic 00 00 <type> <ndim>, ndim big-endian uint32
// dimensions, then the elements, big-endian, row-major.
#include <bit>
#include <cstring>

#include "data/formats.hpp"
#include "fcnet/error.hpp"

namespace fcnet::data_detail {

static_assert(std::endian::native == std::endian::little,
              "the loaders assume a little-endian host");

namespace {

constexpr int kMaxDims = 16;

struct IdxHeader {
  uint8_t type = 0;
  std::vector<uint64_t> dims;
  uint64_t header_bytes = 0;
};

const char* idx_type_name(uint8_t t) {
  switch (t) {
    case 0x08:
      return "uint8";
    case 0x09:
      return "int8";
    case 0x0B:
      return "int16";
    case 0x0C:
      return "int32";
    case 0x0D:
      return "float32";
    case 0x0E:
      return "float64";
    default:
      return nullptr;
  }
}

std::size_t idx_type_size(uint8_t t) {
  switch (t) {
    case 0x08:
    case 0x09:
      return 1;
    case 0x0B:
      return 2;
    case 0x0C:
    case 0x0D:
      return 4;
    default:
      return 8;
  }
}

std::string hex_bytes(const uint8_t* b, int n) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < n; ++i) {
    if (i > 0) s += ' ';
    s += digits[b[i] >> 4];
    s += digits[b[i] & 15];
  }
  return s;
}

std::string dims_str(const std::vector<uint64_t>& dims) {
  std::string s;
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (i) s += 'x';
    s += std::to_string(dims[i]);
  }
  return s;
}

IdxHeader read_header(InputFile& in) {
  const std::string& path = in.path();
  uint8_t magic[4] = {};
  const std::size_t got = in.read(magic, 4);
  if (got < 4) fail(path, "file is too short for an IDX header", "at least 4 bytes of magic");
  IdxHeader h;
  h.type = magic[2];
  if (magic[0] != 0 || magic[1] != 0 || idx_type_name(h.type) == nullptr || magic[3] == 0 ||
      magic[3] > kMaxDims)
    fail(path, "bad IDX magic " + hex_bytes(magic, 4),
         "00 00 <type 08/09/0b/0c/0d/0e> <dimension count 1-16>, e.g. 00 00 08 03 for images");
  const int ndim = magic[3];
  uint8_t raw[4 * kMaxDims];
  in.read_exact(raw, static_cast<std::size_t>(4 * ndim), "the IDX dimension list");
  for (int i = 0; i < ndim; ++i) {
    uint32_t v = 0;
    std::memcpy(&v, raw + 4 * i, 4);
    h.dims.push_back(__builtin_bswap32(v));
  }
  h.header_bytes = 4 + 4 * static_cast<uint64_t>(ndim);
  return h;
}

// Element count times element size, or a clear error when the header's sizes overflow or exceed
// what the file can hold (checked before anything is allocated).
uint64_t payload_bytes(InputFile& in, const IdxHeader& h) {
  uint64_t count = 1;
  for (uint64_t d : h.dims)
    if (__builtin_mul_overflow(count, d, &count))
      fail(in.path(), "IDX dimensions " + dims_str(h.dims) + " overflow 64 bits",
           "dimensions whose product fits the file");
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(count, static_cast<uint64_t>(idx_type_size(h.type)), &bytes))
    fail(in.path(), "IDX dimensions " + dims_str(h.dims) + " overflow 64 bits",
         "dimensions whose product fits the file");
  if (in.compressed() && bytes > in.max_content_size())
    fail(in.path(),
         "IDX header declares " + dims_str(h.dims) + " " + idx_type_name(h.type) +
             " elements, more than the file can hold (" + std::to_string(in.disk_size()) +
             " bytes on disk)",
         "dimensions matching the data");
  if (!in.compressed() && h.header_bytes + bytes != in.disk_size()) {
    const uint64_t have = in.disk_size() - h.header_bytes;
    fail(in.path(),
         std::string(have < bytes ? "truncated: " : "trailing bytes: ") + "IDX header declares " +
             dims_str(h.dims) + " " + idx_type_name(h.type) + " elements (" +
             std::to_string(bytes) + " bytes) but the file holds " + std::to_string(have) +
             " data bytes",
         "a file of exactly " + std::to_string(h.header_bytes + bytes) + " bytes");
  }
  return bytes;
}

void check_no_trailing(InputFile& in) {
  if (!in.at_end())
    fail(in.path(),
         "trailing bytes: data continues after the " + std::to_string(in.offset()) +
             " bytes the IDX header declares",
         "the data to end where the header says");
}

template <class U>
void swap_in_place(uint8_t* p, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    U v;
    std::memcpy(&v, p + i * sizeof(U), sizeof(U));
    if constexpr (sizeof(U) == 2) v = __builtin_bswap16(v);
    if constexpr (sizeof(U) == 4) v = __builtin_bswap32(v);
    if constexpr (sizeof(U) == 8) v = __builtin_bswap64(v);
    std::memcpy(p + i * sizeof(U), &v, sizeof(U));
  }
}

}  // namespace

Dataset load_idx(InputFile& in) {
  const std::string& path = in.path();
  IdxHeader h = read_header(in);
  if (h.dims.size() == 1)
    fail(path, "IDX file is 1-D (" + std::to_string(h.dims[0]) + " labels?)",
         "examples as N×rows×cols or N×D; pass a label file with --labels");
  if (h.type != 0x08 && h.type != 0x0D && h.type != 0x0E)
    fail(path, std::string("IDX features of type ") + idx_type_name(h.type),
         "uint8 (08), float32 (0d) or float64 (0e)");
  const uint64_t bytes = payload_bytes(in, h);
  uint64_t d = 1;
  for (std::size_t i = 1; i < h.dims.size(); ++i) d *= h.dims[i];
  if (h.dims[0] == 0 || d == 0)
    fail(path, "IDX file holds no data (dimensions " + dims_str(h.dims) + ")",
         "at least one example of at least one feature");
  if (h.dims[0] > static_cast<uint64_t>(INT32_MAX) || d > static_cast<uint64_t>(INT32_MAX))
    fail(path, "IDX dimensions " + dims_str(h.dims) + " are too large",
         "at most 2^31-1 examples and features");

  Dataset ds;
  ds.n = static_cast<int64_t>(h.dims[0]);
  ds.d = static_cast<int64_t>(d);
  ds.dtype = h.type == 0x08 ? DType::u8 : h.type == 0x0D ? DType::f32 : DType::f64;
  if (h.dims.size() == 3)
    ds.image_shape = {static_cast<int64_t>(h.dims[1]), static_cast<int64_t>(h.dims[2])};
  in.read_exact_into(ds.bytes, bytes, "the IDX data (" + dims_str(h.dims) + ")");
  check_no_trailing(in);
  const std::size_t count = static_cast<std::size_t>(ds.n * ds.d);
  if (ds.dtype == DType::f32) swap_in_place<uint32_t>(ds.bytes.data(), count);
  if (ds.dtype == DType::f64) swap_in_place<uint64_t>(ds.bytes.data(), count);
  return ds;
}

LabelFile load_idx_labels(InputFile& in) {
  const std::string& path = in.path();
  IdxHeader h = read_header(in);
  if (h.dims.size() != 1 && !(h.dims.size() == 2 && h.dims[1] == 1))
    fail(path, "IDX label file has dimensions " + dims_str(h.dims), "a 1-D list of labels");
  if (h.type != 0x08 && h.type != 0x09 && h.type != 0x0B && h.type != 0x0C)
    fail(path, std::string("IDX labels of type ") + idx_type_name(h.type),
         "integers: uint8 (08), int8 (09), int16 (0b) or int32 (0c)");
  const uint64_t bytes = payload_bytes(in, h);
  const uint64_t n = h.dims[0];
  if (n > static_cast<uint64_t>(INT32_MAX))
    fail(path, "IDX label count " + std::to_string(n) + " is too large", "at most 2^31-1 labels");
  std::vector<uint8_t> raw;
  in.read_exact_into(raw, bytes, "the IDX labels");
  check_no_trailing(in);
  LabelFile lf;
  lf.labels.resize(n);
  for (uint64_t i = 0; i < n; ++i) {
    int64_t v = 0;
    switch (h.type) {
      case 0x08:
        v = raw[i];
        break;
      case 0x09:
        v = static_cast<int8_t>(raw[i]);
        break;
      case 0x0B: {
        uint16_t u;
        std::memcpy(&u, raw.data() + 2 * i, 2);
        v = static_cast<int16_t>(__builtin_bswap16(u));
        break;
      }
      default: {
        uint32_t u;
        std::memcpy(&u, raw.data() + 4 * i, 4);
        v = static_cast<int32_t>(__builtin_bswap32(u));
      }
    }
    if (v < 0)
      fail(path, "label " + std::to_string(v) + " at index " + std::to_string(i),
           "class indices >= 0");
    lf.labels[i] = static_cast<int32_t>(v);
  }
  return lf;
}

}  // namespace fcnet::data_detail
