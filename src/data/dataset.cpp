// Dataset basics and load_dataset: picks the loader from the file's content and attaches labels.
#include <algorithm>
#include <bit>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "core/parallel.hpp"
#include "data/formats.hpp"
#include "data/table_cells.hpp"
#include "fcnet/data.hpp"
#include "fcnet/error.hpp"

namespace fcnet {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::u8:
      return "uint8";
    case DType::f32:
      return "float32";
    case DType::f64:
      return "float64";
  }
  return "unknown";
}

std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::u8:
      return 1;
    case DType::f32:
      return 4;
    case DType::f64:
      return 8;
  }
  return 1;
}

int64_t Dataset::num_classes() const {
  if (!class_names.empty()) return static_cast<int64_t>(class_names.size());
  if (labels.empty()) return 0;
  return static_cast<int64_t>(*std::max_element(labels.begin(), labels.end())) + 1;
}

Dataset Dataset::subset(const std::vector<int64_t>& idx) const {
  Dataset out;
  out.n = static_cast<int64_t>(idx.size());
  out.d = d;
  out.dtype = dtype;
  out.class_names = class_names;
  out.image_shape = image_shape;
  out.source = source;
  out.schema = schema;  // a slice of a table is encoded as the table was
  if (!ids.empty()) out.ids.resize(idx.size());
  if (!weights.empty()) out.weights.resize(idx.size());
  const std::size_t row = static_cast<std::size_t>(d) * dtype_size(dtype);
  out.bytes.resize(row * idx.size());
  if (has_labels()) out.labels.resize(idx.size());
  for (std::size_t k = 0; k < idx.size(); ++k) {
    const int64_t i = idx[k];
    if (i < 0 || i >= n)
      fail(source, "subset index " + std::to_string(i) + " is out of range",
           "an index in 0.." + std::to_string(n - 1));
    if (row > 0) std::memcpy(out.bytes.data() + k * row, row_bytes(i), row);
    if (has_labels()) out.labels[k] = labels[static_cast<std::size_t>(i)];
    if (!ids.empty()) out.ids[k] = ids[static_cast<std::size_t>(i)];
    if (!weights.empty()) out.weights[k] = weights[static_cast<std::size_t>(i)];
  }
  return out;
}

namespace {

// A 64-bit hash of a row's values, each as the bits of a double (so that the same numbers stored
// as uint8, float32 or float64 hash alike): xxHash64's rounds (four lanes, then the tail, then its
// avalanche), several GB/s, so that ordering a data set costs a fraction of one epoch over it.
constexpr uint64_t kP1 = 0x9E3779B185EBCA87ULL, kP2 = 0xC2B2AE3D27D4EB4FULL,
                   kP3 = 0x165667B19E3779F9ULL, kP4 = 0x85EBCA77C2B2AE63ULL;

template <class T>
uint64_t value_bits(T v) {
  const double x = static_cast<double>(v);
  return std::bit_cast<uint64_t>(x == 0 ? 0.0 : x);  // -0 and 0 are the same number
}

uint64_t hash_round(uint64_t acc, uint64_t in) {
  return std::rotl(acc + in * kP2, 31) * kP1;
}

template <class T>
uint64_t hash_values(const T* p, std::size_t n) {
  uint64_t a = kP1 + kP2, b = kP2, c = 0, d = 0 - kP1;
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    a = hash_round(a, value_bits(p[i]));
    b = hash_round(b, value_bits(p[i + 1]));
    c = hash_round(c, value_bits(p[i + 2]));
    d = hash_round(d, value_bits(p[i + 3]));
  }
  uint64_t h = std::rotl(a, 1) + std::rotl(b, 7) + std::rotl(c, 12) + std::rotl(d, 18) + n;
  for (; i < n; ++i) h = std::rotl(h ^ hash_round(0, value_bits(p[i])), 27) * kP1 + kP4;
  h ^= h >> 33;
  h *= kP2;
  h ^= h >> 29;
  h *= kP3;
  h ^= h >> 32;
  return h;
}

// Rows i and j compared by their values' double bits, first difference first.
template <class T>
int compare_values(const T* x, const T* y, std::size_t n) {
  for (std::size_t k = 0; k < n; ++k) {
    const uint64_t a = value_bits(x[k]), b = value_bits(y[k]);
    if (a != b) return a < b ? -1 : 1;
  }
  return 0;
}

template <class T>
void sort_rows(std::vector<int64_t>& idx, const T* rows, std::size_t d, const int32_t* labels,
               const double* weights) {
  struct Key {
    uint64_t hash;
    int64_t row;
  };
  std::vector<Key> keys(idx.size());
  // The hashes are independent of the thread count: one row each, on whichever thread.
  const auto n = static_cast<int64_t>(idx.size());
  detail::for_chunks(n, n * static_cast<int64_t>(d) >= (1 << 20), 1, [&](int64_t b, int64_t e) {
    for (auto k = static_cast<std::size_t>(b); k < static_cast<std::size_t>(e); ++k)
      keys[k] = {hash_values(rows + static_cast<std::size_t>(idx[k]) * d, d), idx[k]};
  });
  std::sort(keys.begin(), keys.end(), [&](const Key& x, const Key& y) {
    if (x.hash != y.hash) return x.hash < y.hash;
    const auto i = static_cast<std::size_t>(x.row), j = static_cast<std::size_t>(y.row);
    if (labels != nullptr && labels[i] != labels[j]) return labels[i] < labels[j];
    if (weights != nullptr && weights[i] != weights[j]) return weights[i] < weights[j];
    return compare_values(rows + i * d, rows + j * d, d) < 0;
  });
  for (std::size_t k = 0; k < idx.size(); ++k) idx[k] = keys[k].row;
}

}  // namespace

void sort_rows_canonically(std::vector<int64_t>& idx, const uint8_t* rows, DType dtype, int64_t d,
                           const int32_t* labels, const double* weights) {
  const auto n = static_cast<std::size_t>(d);
  switch (dtype) {
    case DType::u8:
      return sort_rows(idx, rows, n, labels, weights);
    case DType::f32:
      return sort_rows(idx, reinterpret_cast<const float*>(rows), n, labels, weights);
    case DType::f64:
      return sort_rows(idx, reinterpret_cast<const double*>(rows), n, labels, weights);
  }
}

std::string fashion_mnist_dir() {
  const char* env = std::getenv("FCNET_FASHION_MNIST_DIR");
  if (env != nullptr && *env != '\0') return env;
  return "/usr/share/datasets/fashion-mnist";
}

const std::vector<std::string>& fashion_mnist_classes() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser",   "Pullover", "Dress",
                                                 "Coat",        "Sandal",    "Shirt",    "Sneaker",
                                                 "Bag",         "Ankle boot"};
  return names;
}

namespace data_detail {

std::string number_text(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string join_list(const std::vector<std::string>& items, std::size_t limit) {
  std::string s;
  for (std::size_t i = 0; i < items.size() && i < limit; ++i) {
    if (i) s += ", ";
    // A name that holds the separator, a quote or edge spaces is quoted, so the list reads back.
    const std::string& t = items[i];
    const bool plain = t.find_first_of(",'\"") == std::string::npos && !t.empty() &&
                       t.front() != ' ' && t.back() != ' ';
    s += plain ? t : quote(t);
  }
  if (items.size() > limit) s += ", ... (" + std::to_string(items.size()) + " in all)";
  return s;
}

namespace {

bool known_idx_type(uint8_t t) {
  return t == 0x08 || t == 0x09 || t == 0x0B || t == 0x0C || t == 0x0D || t == 0x0E;
}

// File name without a trailing ".gz", lower-cased (the MNIST files have no dot extension:
// "train-images-idx3-ubyte").
std::string lower_name(const std::string& path) {
  std::string name = std::filesystem::path(path).filename().string();
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (name.size() > 3 && name.ends_with(".gz")) name.resize(name.size() - 3);
  return name;
}

}  // namespace

Format sniff_format(InputFile& in, const std::string& path) {
  const std::string_view head = in.peek(8);
  if (head.empty()) fail(path, "empty file", "IDX, NPY or CSV data");
  // The NPY magic, whole or cut short (its first byte is never text).
  if (std::string_view("\x93NUMPY").substr(0, std::min<std::size_t>(6, head.size())) ==
      head.substr(0, 6))
    return Format::npy;
  if (head.size() >= 4 && head[0] == 0 && head[1] == 0 &&
      known_idx_type(static_cast<uint8_t>(head[2])) && head[3] >= 1 && head[3] <= 16)
    return Format::idx;
  const std::string_view text = in.peek(4096);
  if (text.find('\0') == std::string_view::npos) return Format::csv;
  // Binary content that matches no magic: let the extension pick the parser that explains it.
  const std::string name = lower_name(path);
  if (name.ends_with(".npy")) return Format::npy;
  if (name.ends_with(".idx") || name.ends_with("ubyte") || name.find("-idx") != std::string::npos)
    return Format::idx;
  if (name.ends_with(".csv") || name.ends_with(".txt")) return Format::csv;
  return Format::unknown;
}

namespace {
// IDX and NPY labels are class indices, so the largest one sets the number of outputs. One stray
// value (10000000 among 0 and 1) would build a network of ten million classes: a largest index
// past 1,000 that is more than ten times the number of distinct labels present is refused.
LabelFile checked_indices(LabelFile lf, const std::string& path) {
  if (lf.labels.empty() || !lf.class_names.empty()) return lf;
  std::vector<int32_t> v = lf.labels;
  std::sort(v.begin(), v.end());
  const int64_t distinct = std::unique(v.begin(), v.end()) - v.begin();
  const int64_t classes = static_cast<int64_t>(v[static_cast<std::size_t>(distinct - 1)]) + 1;
  if (classes > 1000 && classes > 10 * distinct)
    fail(path,
         "holds " + std::to_string(distinct) + " distinct labels but the largest is " +
             std::to_string(classes - 1) + ", which would make " + std::to_string(classes) +
             " classes",
         "class indices 0…C−1 with most classes present (a stray value, or labels that are not "
         "indices?)");
  return lf;
}
}  // namespace

LabelFile load_label_file(const std::string& path, const LoadOptions& opt) {
  InputFile in(path);
  switch (sniff_format(in, path)) {
    case Format::idx:
      return checked_indices(load_idx_labels(in), path);
    case Format::npy:
      return checked_indices(load_npy_labels(in), path);
    case Format::csv:
      return load_csv_labels(in, opt);
    case Format::unknown:
      break;
  }
  fail(path, "unrecognized label file format",
       "a 1-D IDX file (00 00 08 01 ...), a 1-D NPY array or a one-column CSV");
}

namespace {

// "--labels train-labels-idx1-ubyte.gz" when such a sibling of an images file exists.
std::string labels_hint(const std::string& path) {
  const std::string hint = "a label file given with --labels";
  std::string guess = path;
  const auto pos = guess.rfind("images-idx3");
  if (pos == std::string::npos) return hint;
  guess.replace(pos, 11, "labels-idx1");
  std::error_code ec;
  if (std::filesystem::exists(guess, ec)) return hint + " (here probably " + guess + ")";
  return hint;
}

void attach_labels(Dataset& ds, const std::string& where, const LoadOptions& opt) {
  if (opt.labels_path.empty()) {
    if (opt.require_labels) fail(where, "the file holds no labels", labels_hint(where));
    return;
  }
  LabelFile lf = load_label_file(opt.labels_path, opt);
  if (static_cast<int64_t>(lf.labels.size()) != ds.n)
    fail(opt.labels_path,
         "holds " + std::to_string(lf.labels.size()) + " labels but " + where + " holds " +
             std::to_string(ds.n) + " examples",
         "one label per example");
  ds.labels = std::move(lf.labels);
  ds.class_names = std::move(lf.class_names);
}

Dataset load_fashion_mnist(const std::string& src, const LoadOptions& opt) {
  std::string split = opt.default_split;
  if (src.size() > 13) split = src.substr(14);
  if (split != "train" && split != "test")
    fail(src, "unknown Fashion-MNIST split '" + split + "'",
         "fashion-mnist, fashion-mnist:train or fashion-mnist:test");
  const std::string dir = fashion_mnist_dir();
  const std::string prefix = split == "train" ? "train" : "t10k";
  auto find = [&](const std::string& name) {
    std::error_code ec;
    const std::string gz = dir + "/" + name + ".gz";
    if (std::filesystem::exists(gz, ec)) return gz;
    const std::string raw = dir + "/" + name;
    if (std::filesystem::exists(raw, ec)) return raw;
    fail(gz, "Fashion-MNIST file not found",
         "the Debian package dataset-fashion-mnist installed, or FCNET_FASHION_MNIST_DIR naming a "
         "folder with the four *-ubyte.gz files");
  };
  const std::string images = find(prefix + "-images-idx3-ubyte");
  const std::string labels = find(prefix + "-labels-idx1-ubyte");
  Dataset ds;
  {
    InputFile in(images);
    ds = load_idx(in);
  }
  InputFile lin(labels);
  LabelFile lf = load_idx_labels(lin);
  if (static_cast<int64_t>(lf.labels.size()) != ds.n)
    fail(labels,
         "holds " + std::to_string(lf.labels.size()) + " labels but " + images + " holds " +
             std::to_string(ds.n) + " images",
         "one label per image");
  ds.labels = std::move(lf.labels);
  const int64_t classes = static_cast<int64_t>(fashion_mnist_classes().size());
  for (std::size_t i = 0; i < ds.labels.size(); ++i)
    if (ds.labels[i] >= classes)
      fail(labels, "label " + std::to_string(ds.labels[i]) + " at index " + std::to_string(i),
           "Fashion-MNIST classes 0..9");
  ds.class_names = fashion_mnist_classes();
  return ds;
}

}  // namespace
}  // namespace data_detail

Dataset load_dataset(const std::string& src, const LoadOptions& opt) {
  using namespace data_detail;
  Dataset ds;
  if (src == "fashion-mnist" || src.rfind("fashion-mnist:", 0) == 0) {
    ds = load_fashion_mnist(src, opt);
  } else {
    InputFile in(src);
    switch (sniff_format(in, src)) {
      case Format::idx:
        ds = load_idx(in);
        attach_labels(ds, src, opt);
        break;
      case Format::npy:
        ds = load_npy(in);
        attach_labels(ds, src, opt);
        break;
      case Format::csv:
        ds = load_csv(in, opt);
        if (!opt.labels_path.empty()) attach_labels(ds, src, opt);
        break;
      case Format::unknown: {
        const std::string_view head = in.peek(4);
        std::string hex;
        for (char c : head) {
          static const char* digits = "0123456789abcdef";
          if (!hex.empty()) hex += ' ';
          hex += digits[static_cast<uint8_t>(c) >> 4];
          hex += digits[static_cast<uint8_t>(c) & 15];
        }
        fail(src, "unrecognized binary format (first bytes " + hex + ")",
             "IDX (00 00 08 03 ...), NPY (\\x93NUMPY ...) or CSV text, optionally gzip-compressed");
      }
    }
  }
  if (!opt.weight_col.empty() && ds.weights.empty())
    fail(src, "is not a CSV file with columns, so it has no column '" + opt.weight_col + "'",
         "--weight-col with CSV data");
  if (!opt.known_classes.empty() && ds.has_labels()) {
    const int64_t k = static_cast<int64_t>(opt.known_classes.size());
    const auto top = *std::max_element(ds.labels.begin(), ds.labels.end());
    if (top >= k)
      fail(src,
           "label " + std::to_string(top) + " but the model has " + std::to_string(k) + " classes",
           "labels below " + std::to_string(k));
    if (ds.class_names.empty()) ds.class_names = opt.known_classes;
  }
  ds.source = src;
  return ds;
}

}  // namespace fcnet
