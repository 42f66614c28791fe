// ONNX export (include/fcnet/onnx.hpp). The graph repeats fcnet's inference step by step, in the
// model's precision: the table encoding of data/table.cpp (fill, missing indicator, one-hot), the
// input transform folded as prepare_transform folds it (x·mul + add, in double), the layers and
// activations of core/activation.cpp, and the softmax. Message and field numbers are those of
// onnx/onnx.proto.
#include "fcnet/onnx.hpp"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>
#include <type_traits>

#include "fcnet/error.hpp"
#include "fcnet/text.hpp"
#include "io/protobuf.hpp"

namespace fcnet {

namespace {

using json = nlohmann::json;
using proto::Message;

constexpr int64_t kIrVersion = 8;  // IR of ONNX 1.10–1.12: the oldest checker we target reads it
constexpr int64_t kOpset = 17;
constexpr int64_t kMlOpset = 3;  // LabelEncoder-2
constexpr const char* kMl = "ai.onnx.ml";
constexpr int64_t kBatch = -1;  // the symbolic batch dimension "N" in a shape

// TensorProto.DataType
enum Elem : int64_t { kFloat = 1, kInt64 = 7, kString = 8, kDouble = 11 };

// AttributeProto: name 1, f 2, i 3, floats 7, ints 8, strings 9, type 20 (FLOAT 1, INT 2, INTS 7,
// STRINGS 8).
Message attr_int(const std::string& name, int64_t v) {
  return Message().bytes(1, name).varint(20, 2).varint(3, v);
}
Message attr_float(const std::string& name, float v) {
  return Message().bytes(1, name).varint(20, 1).fixed32(2, v);
}
Message attr_ints(const std::string& name, const std::vector<int64_t>& v) {
  Message a;
  a.bytes(1, name).varint(20, 7);
  for (int64_t x : v) a.varint(8, x);
  return a;
}
Message attr_strings(const std::string& name, const std::vector<std::string>& v) {
  Message a;
  a.bytes(1, name).varint(20, 8);
  for (const auto& s : v) a.bytes(9, s);
  return a;
}

// ValueInfoProto (name 1, type 2) of a tensor: TypeProto.tensor_type 1 → Tensor (elem_type 1,
// shape 2) → TensorShapeProto.dim 1 → Dimension (dim_value 1 | dim_param 2).
Message tensor_info(const std::string& name, Elem elem, const std::vector<int64_t>& dims) {
  Message shape;
  for (int64_t d : dims)
    shape.message(1, d == kBatch ? Message().bytes(2, "N") : Message().varint(1, d));
  const Message tensor = Message().varint(1, elem).message(2, shape);
  return Message().bytes(1, name).message(2, Message().message(1, tensor));
}

std::vector<int64_t> iota(int64_t n) {
  std::vector<int64_t> v(static_cast<std::size_t>(n));
  for (int64_t k = 0; k < n; ++k) v[static_cast<std::size_t>(k)] = k;
  return v;
}

// A GraphProto being built: node 1, initializer 5, input 11, output 12. Nodes are added in
// dependency order; every value name is unique (column names come first and keep theirs).
class Graph {
 public:
  explicit Graph(Elem t) : t_(t) {}
  Elem type() const { return t_; }

  // Claims a name for an input or output; fails when it is taken.
  void claim(const std::string& name, const std::string& what) {
    if (name.empty()) fail("ONNX export", what + " has an empty name", "a non-empty column name");
    if (!names_.insert(name).second)
      fail("ONNX export", what + " '" + name + "' has the name of another input or output",
           "feature columns named other than 'probabilities' and 'label'");
  }
  void input(const std::string& name, Elem elem, const std::vector<int64_t>& dims) {
    g_.message(11, tensor_info(name, elem, dims));
  }
  void output(const std::string& name, Elem elem, const std::vector<int64_t>& dims) {
    g_.message(12, tensor_info(name, elem, dims));
  }

  // NodeProto (input 1, output 2, name 3, op_type 4, attribute 5, domain 7) with one output,
  // `out` when given (a claimed name), else a fresh one; returns the output's name.
  std::string node(const std::string& op, const std::vector<std::string>& inputs,
                   const std::vector<Message>& attrs = {}, std::string out = "",
                   const char* domain = "") {
    if (out.empty()) out = fresh(op);
    Message n;
    for (const auto& in : inputs) n.bytes(1, in);
    n.bytes(2, out).bytes(3, out).bytes(4, op);
    for (const auto& a : attrs) n.message(5, a);
    if (*domain) n.bytes(7, domain);
    g_.message(1, n);
    return out;
  }

  // TensorProto (dims 1, data_type 2, name 8, raw_data 9) as an initializer; returns its name.
  std::string initializer(const std::string& hint, Elem elem, const std::vector<int64_t>& dims,
                          const std::string& raw) {
    const std::string name = fresh(hint);
    Message t;
    for (int64_t d : dims) t.varint(1, d);
    t.varint(2, elem).bytes(8, name).bytes(9, raw);
    g_.message(5, t);
    return name;
  }
  // Values in the model's precision (rounded to float for an F32 model), or in `elem`.
  std::string constant(const std::string& hint, const std::vector<double>& v,
                       const std::vector<int64_t>& dims) {
    return constant(hint, v, dims, t_);
  }
  std::string constant(const std::string& hint, const std::vector<double>& v,
                       const std::vector<int64_t>& dims, Elem elem) {
    std::string raw;
    for (double x : v) {
      if (elem == kDouble)
        raw.append(reinterpret_cast<const char*>(&x), 8);
      else {
        const auto f = static_cast<float>(x);
        raw.append(reinterpret_cast<const char*>(&f), 4);
      }
    }
    return initializer(hint, elem, dims, raw);
  }
  std::string constant_i64(const std::string& hint, const std::vector<int64_t>& v) {
    std::string raw(reinterpret_cast<const char*>(v.data()), v.size() * 8);
    return initializer(hint, kInt64, {static_cast<int64_t>(v.size())}, raw);
  }

  Message finish() { return std::move(g_.bytes(2, "fcnet")); }

 private:
  std::string fresh(const std::string& hint) {
    std::string name = hint;
    for (int k = 2; !names_.insert(name).second; ++k) name = hint + "_" + std::to_string(k);
    return name;
  }

  Elem t_;
  Message g_;
  std::set<std::string> names_;
};

// The encoded features [N, D] of a table with categories or missing indicators, one input per
// column, pieces concatenated in the schema's order as encode_columns writes them.
std::string encode_columns(Graph& g, const TableSchema& s, bool& uses_ml) {
  for (const auto& c : s.columns) g.claim(c.name, "column");
  std::vector<std::string> parts;
  for (const auto& c : s.columns) {
    if (c.kind == ColumnSpec::Kind::numeric) {
      g.input(c.name, g.type(), {kBatch, 1});
      const std::string nan = g.node("IsNaN", {c.name});
      parts.push_back(g.node("Where", {nan, g.constant(c.name + ".fill", {c.fill}, {}), c.name}));
      if (c.indicator) parts.push_back(g.node("Cast", {nan}, {attr_int("to", g.type())}));
      continue;
    }
    g.input(c.name, kString, {kBatch, 1});
    if (c.width() == 0) continue;
    // Category k → k; a missing-value marker → the missing category's index when the column has
    // one; anything else → −1, which one-hot encodes as all zeros (an unseen category).
    std::vector<std::string> keys = c.categories;
    std::vector<int64_t> values = iota(static_cast<int64_t>(keys.size()));
    if (c.missing_category)
      for (const auto& na : s.na_values)
        if (std::find(keys.begin(), keys.end(), na) == keys.end()) {
          keys.push_back(na);
          values.push_back(c.width() - 1);
        }
    const std::string index =
        g.node("LabelEncoder", {c.name},
               {attr_strings("keys_strings", keys), attr_ints("values_int64s", values),
                attr_int("default_int64", -1)},
               "", kMl);
    // One-hot: index == k for k = 0 … W−1, as 0/1 in the model's type.
    const std::string hot =
        g.node("Equal", {index, g.constant_i64(c.name + ".codes", iota(c.width()))});
    const std::string part = g.node("Cast", {hot}, {attr_int("to", g.type())});
    parts.push_back(part);
    uses_ml = true;
  }
  if (parts.size() == 1) return parts.front();
  return g.node("Concat", parts, {attr_int("axis", 1)});
}

// erf(x) in double from elementary operators (ONNX Runtime has Erf in float only):
// erf(x) = 2/√π · x · e^(−x²) · Σₙ (2x²)ⁿ / (1·3·…·(2n+1)), a series of positive terms (no
// cancellation), summed by Horner's rule over 100 terms after clipping x to [−6, 6], where erf is
// ±1 to double precision. Within 2e-15 of the C library's erf over a dense sweep of [−6, 6].
std::string erf_double(Graph& g, const std::string& x) {
  constexpr int kTerms = 100;
  const std::string c =
      g.node("Clip", {x, g.constant("erf_lo", {-6.0}, {}), g.constant("erf_hi", {6.0}, {})});
  const std::string a = g.node("Mul", {c, c});
  const std::string one = g.constant("erf_one", {1.0}, {});
  std::string sum = one;
  for (int k = kTerms; k >= 1; --k) {
    const std::string step =
        g.node("Mul", {a, g.constant("erf_c" + std::to_string(k), {1.0 / (k + 0.5)}, {})});
    sum = g.node("Add", {g.node("Mul", {step, sum}), one});
  }
  const std::string gauss = g.node("Exp", {g.node("Neg", {a})});
  const std::string scaled = g.node("Mul", {c, g.constant("two_over_sqrtpi", {M_2_SQRTPI}, {})});
  return g.node("Mul", {g.node("Mul", {scaled, gauss}), sum});
}

template <class T>
std::string activation(Graph& g, ActivationFn f, const std::string& z) {
  constexpr bool f64 = std::is_same_v<T, double>;
  switch (f.kind) {
    case Activation::identity:
      return z;
    case Activation::relu:
      return g.node("Relu", {z});
    case Activation::leaky_relu:
      // The attribute is a float: an F64 model spells the slope out to keep alpha in double.
      if (!f64) return g.node("LeakyRelu", {z}, {attr_float("alpha", static_cast<float>(f.alpha))});
      return g.node("Where", {g.node("Greater", {z, g.constant("zero", {0.0}, {})}), z,
                              g.node("Mul", {z, g.constant("alpha", {f.alpha}, {})})});
    case Activation::tanh:
      return g.node("Tanh", {z});
    case Activation::sigmoid:
      return g.node("Sigmoid", {z});
    case Activation::gelu: {
      // 0.5·z·(1 + erf(z/√2)), the exact form, multiplied in fcnet's order.
      const std::string u = g.node("Mul", {z, g.constant("sqrt1_2", {M_SQRT1_2}, {})});
      const std::string e = f64 ? erf_double(g, u) : g.node("Erf", {u});
      const std::string cdf = g.node("Add", {e, g.constant("one", {1.0}, {})});
      return g.node("Mul", {g.node("Mul", {z, g.constant("half", {0.5}, {})}), cdf});
    }
  }
  return z;
}

template <class T>
std::string build(const Model& m) {
  const Elem t = std::is_same_v<T, double> ? kDouble : kFloat;
  const Network<T>& net = m.net<T>();
  const TableSchema& s = m.schema;
  const int64_t d = m.input_dim(), classes = m.num_classes();
  FCNET_CHECK(s.empty() || s.width() == d, "ONNX export",
              "the columns encode " + std::to_string(s.width()) + " features",
              std::to_string(d) + ", the network's inputs");
  Graph g(t);
  g.claim("probabilities", "output");
  g.claim("label", "output");

  bool per_column = false, uses_ml = false;
  for (const auto& c : s.columns)
    per_column = per_column || c.kind == ColumnSpec::Kind::categorical || c.indicator;
  std::string x = "X";
  if (per_column) {
    x = encode_columns(g, s, uses_ml);
  } else {
    g.claim(x, "input");
    g.input(x, t, {kBatch, d});
    if (!s.empty()) {  // a numeric table: a missing cell (NaN) takes its column's fill
      std::vector<double> fills;
      for (const auto& c : s.columns) fills.push_back(c.fill);
      x = g.node("Where", {g.node("IsNaN", {x}), g.constant("fill", fills, {d}), x});
    }
  }

  const PreparedTransform p = prepare_transform(m.transform, d);
  if (p.kind == PreparedTransform::Kind::scale) {
    x = g.node("Mul", {x, g.constant("input_scale", {p.scale}, {})});
  } else if (p.kind == PreparedTransform::Kind::affine) {
    // In double whatever the model's precision, as fcnet's gather computes it: in float a column
    // far from 0 relative to its spread (epoch seconds) cancels to noise. An F32 model's inputs
    // go to double and the result back to float.
    const bool f64 = t == kDouble;
    if (!f64) x = g.node("Cast", {x}, {attr_int("to", kDouble)});
    x = g.node("Add", {g.node("Mul", {x, g.constant("input_mul", p.mul_d, {d}, kDouble)}),
                       g.constant("input_add", p.add_d, {d}, kDouble)});
    if (!f64) x = g.node("Cast", {x}, {attr_int("to", kFloat)});
  }

  const int layers = net.num_layers();
  for (int l = 1; l <= layers; ++l) {
    const auto fan_in = net.sizes()[static_cast<std::size_t>(l - 1)];
    const auto fan_out = net.sizes()[static_cast<std::size_t>(l)];
    const std::string w =
        g.initializer("W" + std::to_string(l), t, {fan_in, fan_out}, make_tensor<T>(net.W(l)).data);
    const std::string b =
        g.initializer("b" + std::to_string(l), t, {fan_out}, make_tensor<T>(net.b(l), true).data);
    x = g.node("Gemm", {x, w, b});
    if (l < layers) x = activation<T>(g, net.activation(), x);
  }
  g.node("Softmax", {x}, {attr_int("axis", 1)}, "probabilities");
  g.node("ArgMax", {"probabilities"}, {attr_int("axis", 1), attr_int("keepdims", 0)}, "label");
  g.output("probabilities", t, {kBatch, classes});
  g.output("label", kInt64, {kBatch});

  // ModelProto: ir_version 1, producer_name 2, doc_string 6, graph 7, opset_import 8
  // (OperatorSetIdProto: domain 1, version 2), metadata_props 14 (StringStringEntryProto: key 1,
  // value 2).
  Message model;
  model.varint(1, kIrVersion).bytes(2, "fcnet");
  model.bytes(6, "fcnet classifier: outputs 'probabilities' (softmax) and 'label' (class index)");
  model.message(7, g.finish());
  model.message(8, Message().varint(2, kOpset));
  if (uses_ml) model.message(8, Message().bytes(1, kMl).varint(2, kMlOpset));
  json names = json::array();
  for (int64_t k = 0; k < classes; ++k)
    names.push_back(m.class_names.empty() ? std::to_string(k)
                                          : m.class_names[static_cast<std::size_t>(k)]);
  std::vector<std::pair<std::string, std::string>> meta = {
      {"classes", json_text(names)},
      {"activation", activation_name(net.activation().kind)},
      {"precision", t == kDouble ? "f64" : "f32"}};
  if (!s.empty()) meta.emplace_back("features", json_text(s.feature_names()));
  for (const auto& [k, v] : meta) model.message(14, Message().bytes(1, k).bytes(2, v));
  return model.str();
}

}  // namespace

std::string to_onnx(const Model& m) {
  return m.f64 ? build<double>(m) : build<float>(m);
}

void save_onnx(const std::string& path, const Model& m) {
  write_file_atomic(path, to_onnx(m));
}

}  // namespace fcnet
