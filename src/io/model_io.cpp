#include "fcnet/model_io.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include "fcnet/text.hpp"
#include "io/crc32c.hpp"

namespace fcnet {

using json = nlohmann::json;

namespace {

std::size_t st_dtype_size(const std::string& d) {
  if (d == "F64" || d == "I64" || d == "U64") return 8;
  if (d == "F32" || d == "I32" || d == "U32") return 4;
  if (d == "F16" || d == "BF16" || d == "I16" || d == "U16") return 2;
  if (d == "U8" || d == "I8" || d == "BOOL") return 1;
  return 0;
}

template <class T>
T load_le(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));  // the format is little-endian, as is every supported host
  return v;
}

std::string format_double(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// Up to 6 significant digits, for messages.
std::string short_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string shape_text(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (std::size_t i = 0; i < s.size(); ++i) r += (i ? "," : "") + std::to_string(s[i]);
  return r + "]";
}

}  // namespace

int64_t StTensor::numel() const {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

std::vector<double> StTensor::to_double(const std::string& where) const {
  const int64_t n = numel();
  std::vector<double> out(static_cast<std::size_t>(n));
  const char* p = data.data();
  for (int64_t i = 0; i < n; ++i) {
    if (dtype == "F64")
      out[i] = load_le<double>(p + 8 * i);
    else if (dtype == "F32")
      out[i] = load_le<float>(p + 4 * i);
    else if (dtype == "I64")
      out[i] = static_cast<double>(load_le<int64_t>(p + 8 * i));
    else if (dtype == "I32")
      out[i] = load_le<int32_t>(p + 4 * i);
    else if (dtype == "U8")
      out[i] = static_cast<unsigned char>(p[i]);
    else
      fail(where, "tensor has dtype " + dtype, "F32, F64, I32, I64 or U8");
  }
  return out;
}

namespace {

std::string hex32(uint32_t v) {
  char b[9];
  std::snprintf(b, sizeof b, "%08x", v);
  return b;
}

// metadata "checksums": {"W1": "<crc32c hex>", …} for every tensor, written by
// serialize_safetensors; a file without the key (written before fcnet stored checksums, or by
// another program) is read unchecked.
void verify_checksums(const SafeTensors& st, const std::string& where) {
  auto it = st.metadata.find(kChecksumsKey);
  if (it == st.metadata.end()) return;
  json sums;
  try {
    sums = json::parse(it->second);
  } catch (const json::exception&) {
    fail(where, "metadata checksums is not JSON", "a JSON object of CRC-32C values per tensor");
  }
  if (!sums.is_object())
    fail(where, "metadata checksums is not a JSON object", "CRC-32C values per tensor");
  for (const auto& [name, t] : st.tensors) {
    auto s = sums.find(name);
    if (s == sums.end() || !s->is_string())
      fail(where + ": tensor '" + name + "'", "has no checksum in the metadata",
           "a checksum for every tensor (the file was changed after it was written)");
    const std::string got = hex32(io_detail::crc32c(t.data.data(), t.data.size()));
    if (s->get<std::string>() != got)
      fail(where + ": tensor '" + name + "'",
           "does not match its checksum (stored CRC-32C " + s->get<std::string>() +
               ", the data gives " + got + ")",
           "an undamaged file (it was changed after it was written)");
  }
  for (auto s = sums.begin(); s != sums.end(); ++s)
    if (!st.tensors.count(s.key()))
      fail(where, "metadata checksums names tensor '" + s.key() + "', which the file lacks",
           "every tensor that was written");
}

}  // namespace

bool has_checksums(const SafeTensors& st) {
  return st.metadata.count(kChecksumsKey) > 0;
}

SafeTensors parse_safetensors(const std::string& bytes, const std::string& where) {
  if (bytes.size() < 8)
    fail(where, "file is " + std::to_string(bytes.size()) + " bytes long",
         "a safetensors file (8-byte header length, JSON header, data)");
  const uint64_t hlen = load_le<uint64_t>(bytes.data());
  if (hlen > bytes.size() - 8)
    fail(where,
         "header length " + std::to_string(hlen) + " exceeds the file size " +
             std::to_string(bytes.size()),
         "a header length of at most " + std::to_string(bytes.size() - 8));
  const std::string_view header(bytes.data() + 8, hlen);
  const uint64_t data_size = bytes.size() - 8 - hlen;
  json h;
  try {
    h = json::parse(header);
  } catch (const json::exception& e) {
    fail(where, std::string("header is not valid JSON (") + e.what() + ")",
         "a JSON object describing the tensors");
  }
  if (!h.is_object()) fail(where, "header is not a JSON object", "a JSON object");
  SafeTensors st;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (auto it = h.begin(); it != h.end(); ++it) {
    const std::string& name = it.key();
    const std::string tw = where + ": tensor '" + name + "'";
    if (name == "__metadata__") {
      if (!it->is_object()) fail(where, "__metadata__ is not an object", "a map of strings");
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (!m->is_string())
          fail(where, "metadata '" + m.key() + "' is not a string", "string values");
        st.metadata[m.key()] = m->get<std::string>();
      }
      continue;
    }
    const json& t = *it;
    if (!t.is_object() || !t.contains("dtype") || !t.contains("shape") ||
        !t.contains("data_offsets"))
      fail(tw, "entry lacks dtype, shape or data_offsets", "{dtype, shape, data_offsets}");
    if (!t["dtype"].is_string()) fail(tw, "dtype is not a string", "a dtype name such as F32");
    StTensor tensor;
    tensor.dtype = t["dtype"].get<std::string>();
    const std::size_t es = st_dtype_size(tensor.dtype);
    if (es == 0) fail(tw, "has unknown dtype '" + tensor.dtype + "'", "F32, F64, I32, I64 or U8");
    if (!t["shape"].is_array()) fail(tw, "shape is not a list", "a list of sizes");
    uint64_t numel = 1;
    for (const auto& d : t["shape"]) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0)
        fail(tw, "shape has an entry that is not a non-negative integer", "sizes >= 0");
      const uint64_t v = d.get<uint64_t>();
      if (v != 0 && numel > (uint64_t{1} << 59) / v)
        fail(tw, "shape " + t["shape"].dump() + " is too large", "a shape that fits in the file");
      numel *= v;
      tensor.shape.push_back(static_cast<int64_t>(v));
    }
    const json& off = t["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
        !off[1].is_number_unsigned())
      fail(tw, "data_offsets is not a pair of non-negative integers", "[begin, end]");
    const uint64_t b = off[0].get<uint64_t>(), e = off[1].get<uint64_t>();
    if (b > e)
      fail(tw,
           "data_offsets [" + std::to_string(b) + ", " + std::to_string(e) +
               "] end before they begin",
           "[begin, end] with begin <= end");
    if (e > data_size)
      fail(tw,
           "data_offsets [" + std::to_string(b) + ", " + std::to_string(e) +
               "] lie outside the data section of " + std::to_string(data_size) + " bytes",
           "offsets within the file");
    if (e - b != numel * es)
      fail(tw,
           "holds " + std::to_string(e - b) + " bytes but shape " + shape_text(tensor.shape) +
               " of " + tensor.dtype + " needs " + std::to_string(numel * es),
           "byte range matching the shape");
    ranges.emplace_back(b, e);
    tensor.data.assign(bytes.data() + 8 + hlen + b, e - b);
    st.tensors.emplace(name, std::move(tensor));
  }
  // Empty ranges hold nothing; among the others each must start where the ones before it end.
  std::erase_if(ranges, [](const auto& r) { return r.first == r.second; });
  std::sort(ranges.begin(), ranges.end());
  uint64_t end = 0;
  for (const auto& [b, e] : ranges) {
    if (b < end)
      fail(where, "two tensors' data ranges overlap at byte " + std::to_string(b),
           "non-overlapping tensors");
    end = e;
  }
  if (end < data_size)
    fail(where,
         std::to_string(data_size - end) +
             " bytes follow the last tensor's data (the file has "
             "been appended to or damaged)",
         "the data section to end with the last tensor");
  verify_checksums(st, where);
  return st;
}

SafeTensors read_safetensors(const std::string& path) {
  return parse_safetensors(read_file(path), path);
}

std::string serialize_safetensors(const SafeTensors& st) {
  json h = json::object();
  // 8-byte tensors first keeps every tensor aligned to its element size.
  std::vector<const std::pair<const std::string, StTensor>*> order;
  for (const auto& kv : st.tensors) order.push_back(&kv);
  std::stable_sort(order.begin(), order.end(), [](auto* a, auto* b) {
    return st_dtype_size(a->second.dtype) > st_dtype_size(b->second.dtype);
  });
  uint64_t off = 0;
  std::string data;
  json sums = json::object();
  for (auto* kv : order) {
    sums[kv->first] = hex32(io_detail::crc32c(kv->second.data.data(), kv->second.data.size()));
    const StTensor& t = kv->second;
    h[kv->first] = {
        {"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {off, off + t.data.size()}}};
    off += t.data.size();
    data += t.data;
  }
  json md = st.metadata;
  md[kChecksumsKey] = json_text(sums);
  h["__metadata__"] = md;
  std::string hs = json_text(h);
  while (hs.size() % 8 != 0) hs.push_back(' ');
  std::string out(8, '\0');
  const uint64_t n = hs.size();
  std::memcpy(out.data(), &n, 8);
  out += hs;
  out += data;
  return out;
}

template <class T>
StTensor make_tensor(ConstView<T> m, bool as_vector) {
  StTensor t;
  t.dtype = std::is_same_v<T, double> ? "F64" : "F32";
  t.shape = as_vector ? std::vector<int64_t>{m.cols} : std::vector<int64_t>{m.rows, m.cols};
  t.data.resize(static_cast<std::size_t>(m.size()) * sizeof(T));
  char* p = t.data.data();
  for (int64_t i = 0; i < m.rows; ++i) {
    std::memcpy(p, m.row(i), sizeof(T) * static_cast<std::size_t>(m.cols));
    p += sizeof(T) * static_cast<std::size_t>(m.cols);
  }
  return t;
}
template StTensor make_tensor<float>(ConstView<float>, bool);
template StTensor make_tensor<double>(ConstView<double>, bool);

namespace {

template <class T>
void fill_params(Network<T>& net, const SafeTensors& st) {
  for (int l = 1; l <= net.num_layers(); ++l) {
    for (bool bias : {false, true}) {
      const StTensor& t = st.tensors.at((bias ? "b" : "W") + std::to_string(l));
      MatrixView<T> v = bias ? net.b(l) : net.W(l);
      const char* p = t.data.data();
      for (int64_t i = 0; i < v.rows; ++i)
        for (int64_t j = 0; j < v.cols; ++j, p += sizeof(T)) v(i, j) = load_le<T>(p);
    }
  }
}

template <class T>
void add_params(SafeTensors& st, const Network<T>& net, const std::string& prefix, bool grads) {
  for (int l = 1; l <= net.num_layers(); ++l) {
    st.tensors[prefix + "W" + std::to_string(l)] = make_tensor<T>(grads ? net.dW(l) : net.W(l));
    st.tensors[prefix + "b" + std::to_string(l)] =
        make_tensor<T>(grads ? net.db(l) : net.b(l), true);
  }
}

double parse_number(const std::string& s, const std::string& where, const std::string& what) {
  try {
    std::size_t pos = 0;
    const double v = std::stod(s, &pos);
    if (pos == s.size() && std::isfinite(v)) return v;
  } catch (const std::exception&) {
  }
  fail(where, "metadata " + what + " is '" + s + "'", "a finite number");
}

}  // namespace

Model model_from_safetensors(const SafeTensors& st, const std::string& where) {
  Model m;
  const auto& md = st.metadata;
  if (auto it = md.find("format"); it != md.end() && it->second != "fcnet")
    fail(where, "metadata format is '" + it->second + "'", "\"fcnet\"");
  if (auto it = md.find("format_version"); it != md.end() && it->second != "1")
    fail(where, "format_version is '" + it->second + "'", "\"1\" (this fcnet's model format)");
  int L = 0;
  while (st.tensors.count("W" + std::to_string(L + 1))) ++L;
  if (L == 0) fail(where, "has no tensor W1", "tensors W1…WL and b1…bL");
  std::string dtype;
  std::vector<int64_t> sizes;
  for (int l = 1; l <= L; ++l) {
    const std::string wn = "W" + std::to_string(l), bn = "b" + std::to_string(l);
    auto bit = st.tensors.find(bn);
    if (bit == st.tensors.end()) fail(where, "has " + wn + " but no " + bn, "a bias per layer");
    const StTensor& w = st.tensors.at(wn);
    const StTensor& b = bit->second;
    if (w.dtype != "F32" && w.dtype != "F64")
      fail(where + ": tensor '" + wn + "'", "has dtype " + w.dtype, "F32 or F64");
    if (dtype.empty()) dtype = w.dtype;
    if (w.dtype != dtype || b.dtype != dtype)
      fail(where + ": tensor '" + (w.dtype != dtype ? wn : bn) + "'",
           "has dtype " + (w.dtype != dtype ? w.dtype : b.dtype), "all parameters " + dtype);
    if (w.shape.size() != 2 || w.shape[0] <= 0 || w.shape[1] <= 0)
      fail(where + ": tensor '" + wn + "'", "has shape " + shape_text(w.shape),
           "[fan_in, fan_out] with both positive");
    if (l == 1) sizes.push_back(w.shape[0]);
    if (w.shape[0] != sizes.back())
      fail(where + ": tensor '" + wn + "'", "has shape " + shape_text(w.shape),
           "fan_in " + std::to_string(sizes.back()) + " to chain with the previous layer");
    sizes.push_back(w.shape[1]);
    if (b.shape != std::vector<int64_t>{w.shape[1]})
      fail(where + ": tensor '" + bn + "'", "has shape " + shape_text(b.shape),
           "[" + std::to_string(w.shape[1]) + "] to match " + wn);
  }
  // A checkpoint is a model file plus state.* tensors (fcnet/checkpoint.hpp); as a model, its
  // current weights are used.
  const bool checkpoint = md.count("checkpoint") > 0;
  for (const auto& kv : st.tensors) {
    const std::string& n = kv.first;
    bool known = n == "input_mean" || n == "input_std" || (checkpoint && n.rfind("state.", 0) == 0);
    for (int l = 1; l <= L && !known; ++l)
      known = n == "W" + std::to_string(l) || n == "b" + std::to_string(l);
    if (!known)
      fail(where, "has unexpected tensor '" + n + "'",
           "only W1…W" + std::to_string(L) + ", b1…b" + std::to_string(L) +
               ", input_mean, input_std");
  }
  ActivationFn act;
  if (auto it = md.find("activation"); it != md.end())
    act.kind = parse_activation(it->second, where + ": metadata activation");
  if (auto it = md.find("leaky_relu_alpha"); it != md.end())
    act.alpha = parse_number(it->second, where, "leaky_relu_alpha");
  m.f64 = dtype == "F64";
  if (m.f64) {
    m.net64 = Network<double>(sizes, act);
    fill_params(m.net64, st);
  } else {
    m.net32 = Network<float>(sizes, act);
    fill_params(m.net32, st);
  }
  for (int l = 1; l <= L; ++l)
    for (const char* p : {"W", "b"}) {
      const std::string n = p + std::to_string(l);
      const auto v = st.tensors.at(n).to_double(where);
      for (std::size_t i = 0; i < v.size(); ++i)
        if (!std::isfinite(v[i]))
          fail(where + ": tensor '" + n + "'",
               "has a non-finite value at index " + std::to_string(i), "finite weights");
    }
  const int64_t d = sizes.front();
  if (auto it = md.find("input_scale"); it != md.end())
    m.transform.scale = parse_number(it->second, where, "input_scale");
  for (const char* name : {"input_mean", "input_std"}) {
    auto it = st.tensors.find(name);
    if (it == st.tensors.end()) continue;
    if (it->second.shape != std::vector<int64_t>{d})
      fail(where + ": tensor '" + name + "'", "has shape " + shape_text(it->second.shape),
           "[" + std::to_string(d) + "] (the input width)");
    auto v = it->second.to_double(where);
    for (double x : v)
      if (!std::isfinite(x) || (std::string(name) == "input_std" && x <= 0))
        fail(where + ": tensor '" + name + "'", "has a value " + short_number(x),
             std::string(name) == "input_std" ? "positive finite values" : "finite values");
    (std::string(name) == "input_mean" ? m.transform.mean : m.transform.std) = std::move(v);
  }
  if (auto it = md.find("classes"); it != md.end()) {
    json c;
    try {
      c = json::parse(it->second);
    } catch (const json::exception&) {
      fail(where, "metadata classes is not JSON", "a JSON list of class names");
    }
    if (!c.is_array() || static_cast<int64_t>(c.size()) != sizes.back())
      fail(where, "metadata classes does not list " + std::to_string(sizes.back()) + " names",
           "one name per output class");
    for (const auto& n : c) {
      if (!n.is_string()) fail(where, "metadata classes holds a non-string", "class names");
      m.class_names.push_back(n.get<std::string>());
    }
  }
  if (auto it = md.find("image_shape"); it != md.end()) {
    json c;
    try {
      c = json::parse(it->second);
    } catch (const json::exception&) {
    }
    const bool ok = c.is_array() && c.size() == 2 && c[0].is_number_integer() &&
                    c[1].is_number_integer() && c[0].get<int64_t>() > 0 &&
                    c[1].get<int64_t>() > 0 && c[0].get<int64_t>() <= d &&
                    c[1].get<int64_t>() <= d && c[0].get<int64_t>() * c[1].get<int64_t>() == d;
    if (!ok)
      fail(where, "metadata image_shape is '" + it->second.substr(0, 40) + "'",
           "[H, W] with H·W = " + std::to_string(d) + " (the input width)");
    m.image_shape = {c[0].get<int64_t>(), c[1].get<int64_t>()};
  }
  if (auto it = md.find("training"); it != md.end()) m.training_json = it->second;
  if (auto it = md.find("columns"); it != md.end()) {
    m.schema = schema_from_json(it->second, where + ": metadata columns");
    if (m.schema.width() != d)
      fail(where, "metadata columns encode " + std::to_string(m.schema.width()) + " features",
           std::to_string(d) + " (the input width)");
  }
  return m;
}

std::string class_name(const std::vector<std::string>& names, int64_t k) {
  return k < static_cast<int64_t>(names.size()) ? names[static_cast<std::size_t>(k)]
                                                : std::to_string(k);
}

Model load_model(const std::string& path) {
  return model_from_safetensors(read_safetensors(path), path);
}

std::string schema_to_json(const TableSchema& t) {
  json cols = json::array();
  for (const auto& c : t.columns) {
    json j = {{"name", c.name}};
    if (c.kind == ColumnSpec::Kind::numeric) {
      j["kind"] = "numeric";
      j["fill"] = c.fill;
      j["indicator"] = c.indicator;
    } else {
      j["kind"] = "categorical";
      j["categories"] = c.categories;
      j["missing_category"] = c.missing_category;
    }
    cols.push_back(std::move(j));
  }
  return json_text(json{{"columns", cols},
                        {"label", t.label},
                        {"id", t.id},
                        {"header", t.header},
                        {"file_columns", t.file_columns},
                        {"na_values", t.na_values},
                        {"decimal", std::string(1, t.decimal)}});
}

TableSchema schema_from_json(const std::string& text, const std::string& where) {
  TableSchema t;
  try {
    const json j = json::parse(text);
    for (const auto& c : j.at("columns")) {
      ColumnSpec spec;
      spec.name = c.at("name").get<std::string>();
      const std::string kind = c.at("kind").get<std::string>();
      if (kind == "numeric") {
        spec.fill = c.at("fill").get<double>();
        spec.indicator = c.at("indicator").get<bool>();
        if (!std::isfinite(spec.fill))
          fail(where, "column '" + spec.name + "' fill is not finite", "a number");
      } else if (kind == "categorical") {
        spec.kind = ColumnSpec::Kind::categorical;
        spec.categories = c.at("categories").get<std::vector<std::string>>();
        spec.missing_category = c.at("missing_category").get<bool>();
      } else {
        fail(where, "column '" + spec.name + "' has kind '" + kind + "'", "numeric or categorical");
      }
      t.columns.push_back(std::move(spec));
    }
    t.label = j.at("label").get<std::string>();
    t.id = j.at("id").get<std::string>();
    t.header = j.at("header").get<bool>();
    t.file_columns = j.at("file_columns").get<int64_t>();
    t.na_values = j.at("na_values").get<std::vector<std::string>>();
    const std::string dec = j.at("decimal").get<std::string>();
    if (dec != "." && dec != ",") fail(where, "decimal is '" + dec + "'", "'.' or ','");
    t.decimal = dec[0];
  } catch (const json::exception& e) {
    fail(where, std::string("is not a valid column description (") + e.what() + ")",
         "the JSON fcnet writes (docs/format.md)");
  }
  if (t.columns.empty()) fail(where, "lists no columns", "at least one feature column");
  return t;
}

SafeTensors model_to_safetensors(const Model& m) {
  SafeTensors st;
  if (m.f64)
    add_params(st, m.net64, "", false);
  else
    add_params(st, m.net32, "", false);
  auto& md = st.metadata;
  md["format"] = "fcnet";
  md["format_version"] = "1";
  const ActivationFn act = m.activation();
  md["activation"] = activation_name(act.kind);
  md["leaky_relu_alpha"] = format_double(act.alpha);
  md["input_scale"] = format_double(m.transform.scale);
  // The transform is stored in float64 whatever the weights' precision, so it round-trips exactly.
  auto vec = [&](const std::vector<double>& v) {
    Matrix<double> t(1, static_cast<int64_t>(v.size()));
    for (std::size_t i = 0; i < v.size(); ++i) t[static_cast<int64_t>(i)] = v[i];
    return make_tensor<double>(t.view(), true);
  };
  if (!m.transform.mean.empty()) st.tensors["input_mean"] = vec(m.transform.mean);
  if (!m.transform.std.empty()) st.tensors["input_std"] = vec(m.transform.std);
  if (!m.class_names.empty()) md["classes"] = json_text(json(m.class_names));
  if (!m.image_shape.empty()) md["image_shape"] = json_text(json(m.image_shape));
  if (!m.training_json.empty()) md["training"] = m.training_json;
  if (!m.schema.empty()) md["columns"] = schema_to_json(m.schema);
  return st;
}

void save_model(const std::string& path, const Model& m) {
  write_file_atomic(path, serialize_safetensors(model_to_safetensors(m)));
}

template <class T>
SafeTensors gradients_to_safetensors(const Network<T>& net) {
  SafeTensors st;
  add_params(st, net, "", true);
  return st;
}
template SafeTensors gradients_to_safetensors<float>(const Network<float>&);
template SafeTensors gradients_to_safetensors<double>(const Network<double>&);

}  // namespace fcnet
