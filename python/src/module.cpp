// fcnet._fcnet: the compiled half of the Python package, a thin layer over the library.
//
// Inputs arrive as NumPy arrays that the pure-Python half has already checked for rank and kind
// and made C-contiguous in a compute or storage type, so here they are read in place (no copy)
// through MatrixView. Every computation runs with the GIL released; fcnet::Error becomes
// fcnet.Error, a subclass of both ValueError and RuntimeError, carrying the library's message.
//
// Shape key: N examples, D features, C classes, L layers; parameters are listed W1, b1, …, WL, bL.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <numeric>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "fcnet/checkpoint.hpp"
#include "fcnet/cpu.hpp"
#include "fcnet/model_io.hpp"
#include "fcnet/mpi.hpp"
#include "fcnet/network.hpp"
#include "fcnet/onnx.hpp"
#include "fcnet/step_engine.hpp"
#include "fcnet/train_options.hpp"
#include "fcnet/trainer.hpp"

namespace py = pybind11;

namespace fcnet::python {

namespace {

// C-contiguous array of T; forcecast converts other dtypes (the Python layer normally has).
template <class T>
using Array = py::array_t<T, py::array::c_style | py::array::forcecast>;

PyObject* g_error = nullptr;  // fcnet.Error, created at import and kept for the process

// "(3, 4)": a NumPy shape for messages.
std::string shape_text(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) {
    if (i) s += ", ";
    s += std::to_string(a.shape(i));
  }
  s += a.ndim() == 1 ? ",)" : ")";
  return s;
}

// Runs fcnet's parallel work on n threads for the length of one call, from the calling thread
// (n <= 0 leaves the current setting alone). Small problems run faster on one thread: hand-offs
// between threads cost more than they save, and far more when the cores are shared.
class ThreadScope {
 public:
  explicit ThreadScope(int n) : saved_(num_threads()), active_(n > 0) {
    if (active_) set_num_threads(n);
  }
  ~ThreadScope() {
    if (active_) set_num_threads(saved_);
  }
  ThreadScope(const ThreadScope&) = delete;
  ThreadScope& operator=(const ThreadScope&) = delete;

 private:
  int saved_;
  bool active_;
};

// Throws naming the first non-finite entry of a rows×cols block.
template <class T>
void check_finite(const T* p, int64_t rows, int64_t cols, int64_t row0, const std::string& where) {
  if constexpr (std::is_floating_point_v<T>) {
    const int64_t n = rows * cols;
    for (int64_t i = 0; i < n; ++i)
      if (!std::isfinite(p[i]))
        fail(where,
             "has a non-finite value (" +
                 std::string(std::isnan(p[i]) ? "NaN" : (p[i] > 0 ? "inf" : "-inf")) + ") at row " +
                 std::to_string(row0 + i / cols) + ", column " + std::to_string(i % cols),
             "finite numbers");
  }
}

template <class T>
ConstView<T> matrix_view(const Array<T>& a, const std::string& where) {
  if (a.ndim() != 2) fail(where, "has shape " + shape_text(a), "a 2-D array (examples × features)");
  return ConstView<T>(a.data(), a.shape(0), a.shape(1));
}

const int32_t* label_ptr(const Array<int32_t>& y, int64_t n, const std::string& where) {
  if (y.ndim() != 1 || y.shape(0) != n)
    fail(where, "has shape " + shape_text(y),
         "(" + std::to_string(n) + ",), one label per example");
  return y.data();
}

// Stored element type of a NumPy array the Python layer prepared (uint8, float32 or float64).
DType dtype_of(const py::array& a, const std::string& where) {
  const py::dtype t = a.dtype();
  if (t.kind() == 'u' && t.itemsize() == 1) return DType::u8;
  if (t.kind() == 'f' && t.itemsize() == 4) return DType::f32;
  if (t.kind() == 'f' && t.itemsize() == 8) return DType::f64;
  fail(where, "has dtype " + std::string(py::str(py::object(t))), "uint8, float32 or float64");
}

// Copies NumPy arrays W1, b1, …, WL, bL into net after checking their shapes and values;
// b_l may be (fan_out,) or (1, fan_out).
template <class T>
void fill_params(Network<T>& net, const std::vector<Array<T>>& ps) {
  const int L = net.num_layers();
  if (static_cast<int>(ps.size()) != 2 * L)
    fail("params", "has " + std::to_string(ps.size()) + " arrays",
         std::to_string(2 * L) + " (W1, b1, …, W" + std::to_string(L) + ", b" + std::to_string(L) +
             ")");
  for (int l = 1; l <= L; ++l) {
    const int64_t fi = net.sizes()[l - 1], fo = net.sizes()[l];
    const Array<T>& w = ps[2 * (l - 1)];
    const Array<T>& b = ps[2 * (l - 1) + 1];
    const std::string wn = "params['W" + std::to_string(l) + "']";
    const std::string bn = "params['b" + std::to_string(l) + "']";
    if (w.ndim() != 2 || w.shape(0) != fi || w.shape(1) != fo)
      fail(wn, "has shape " + shape_text(w),
           "(" + std::to_string(fi) + ", " + std::to_string(fo) + ")");
    const bool bias_ok = (b.ndim() == 1 && b.shape(0) == fo) ||
                         (b.ndim() == 2 && b.shape(0) == 1 && b.shape(1) == fo);
    if (!bias_ok) fail(bn, "has shape " + shape_text(b), "(" + std::to_string(fo) + ",)");
    check_finite(w.data(), fi, fo, 0, wn);
    check_finite(b.data(), 1, fo, 0, bn);
    std::memcpy(net.W(l).data, w.data(), sizeof(T) * static_cast<std::size_t>(fi * fo));
    std::memcpy(net.b(l).data, b.data(), sizeof(T) * static_cast<std::size_t>(fo));
  }
}

// ---------------------------------------------------------------------------------------------
// Net: a network whose parameters are handed in from NumPy on each call (the CS231n classes keep
// their parameters as plain arrays), with a workspace reused across calls.

template <class T>
class Net {
 public:
  Net(std::vector<int64_t> sizes, const std::string& activation, double alpha)
      : net_(std::move(sizes), ActivationFn{parse_activation(activation, "activation"), alpha}),
        ws_(true) {}

  std::vector<int64_t> sizes() const { return net_.sizes(); }
  std::string activation() const { return activation_name(net_.activation().kind); }

  // Copies W1, b1, …, WL, bL in; b_l may be (fan_out,) or (1, fan_out).
  void set_params(const std::vector<Array<T>>& ps) { fill_params(net_, ps); }

  // N×C scores of x.
  py::array_t<T> scores(const Array<T>& x, int threads) {
    const ConstView<T> xv = matrix_view(x, "X");
    py::array_t<T> out({xv.rows, net_.num_classes()});
    T* dst = out.mutable_data();
    {
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mu_);
      ThreadScope scope(threads);
      check_finite(xv.data, xv.rows, xv.cols, 0, "X");
      ConstView<T> s = forward_scores(net_, xv, ws_);
      std::memcpy(dst, s.data, sizeof(T) * static_cast<std::size_t>(s.size()));
    }
    return out;
  }

  // Loss (total, data part, reg part) and, when want_grads, the gradients in parameter order.
  // dropout is the drop probability of hidden units, drawn from a generator seeded with seed.
  py::tuple loss(const Array<T>& x, const Array<int32_t>& y, double reg, double dropout,
                 uint64_t seed, bool want_grads, int threads) {
    const ConstView<T> xv = matrix_view(x, "X");
    const int32_t* yp = label_ptr(y, xv.rows, "y");
    if (!(reg >= 0) || !std::isfinite(reg))
      fail("reg", "is " + std::to_string(reg), "a finite, non-negative strength");
    if (!(dropout >= 0 && dropout < 1))
      fail("dropout", "drop probability is " + std::to_string(dropout), "a value in [0, 1)");
    const int L = net_.num_layers();
    std::vector<py::array_t<T>> grads;
    std::vector<T*> dst;
    if (want_grads)
      for (int l = 1; l <= L; ++l) {
        grads.emplace_back(std::vector<py::ssize_t>{net_.sizes()[l - 1], net_.sizes()[l]});
        grads.emplace_back(std::vector<py::ssize_t>{net_.sizes()[l]});
        dst.push_back(grads[grads.size() - 2].mutable_data());
        dst.push_back(grads.back().mutable_data());
      }
    LossParts lp;
    {
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mu_);
      ThreadScope scope(threads);
      check_finite(xv.data, xv.rows, xv.cols, 0, "X");
      if (want_grads) {
        Rng rng(seed);
        Dropout drop{dropout, &rng};
        lp = forward_backward<T>(net_, xv, yp, reg, ws_, dropout > 0 ? &drop : nullptr);
        for (int l = 1; l <= L; ++l) {
          std::memcpy(dst[2 * (l - 1)], net_.dW(l).data,
                      sizeof(T) * static_cast<std::size_t>(net_.dW(l).size()));
          std::memcpy(dst[2 * (l - 1) + 1], net_.db(l).data,
                      sizeof(T) * static_cast<std::size_t>(net_.db(l).size()));
        }
      } else {
        lp = loss_only<T>(net_, xv, yp, reg, ws_);
      }
    }
    py::object g = py::none();
    if (want_grads) g = py::cast(grads);
    return py::make_tuple(lp.loss, lp.data_loss, lp.reg_loss, g);
  }

 private:
  Network<T> net_;
  Workspace<T> ws_;
  std::mutex mu_;  // one call at a time may use the workspace
};

template <class T>
void bind_net(py::module_& m, const char* name) {
  py::class_<Net<T>>(m, name)
      .def(py::init<std::vector<int64_t>, const std::string&, double>(), py::arg("sizes"),
           py::arg("activation") = "relu", py::arg("alpha") = 0.01)
      .def_property_readonly("sizes", &Net<T>::sizes)
      .def_property_readonly("activation", &Net<T>::activation)
      .def("set_params", &Net<T>::set_params, py::arg("params"),
           "Copies W1, b1, …, WL, bL into the network.")
      .def("scores", &Net<T>::scores, py::arg("X"), py::arg("threads") = 0, "N×C scores of X.")
      .def("loss", &Net<T>::loss, py::arg("X"), py::arg("y"), py::arg("reg") = 0.0,
           py::arg("dropout") = 0.0, py::arg("seed") = 0, py::arg("grads") = true,
           py::arg("threads") = 0,
           "(loss, data_loss, reg_loss, [dW1, db1, …] or None); loss = data + reg·Σ‖W‖².");
}

// ---------------------------------------------------------------------------------------------
// Model: a trained network with its input transform, as in the model file.

// X (N×D, C-ordered uint8/float32/float64, finite) as a data set the library reads, copied (or,
// with copy_rows=false, checked and described, its rows left for the caller to gather).
Dataset features_of(const py::array& x, const std::string& name, bool copy_rows = true) {
  Dataset ds;
  ds.dtype = dtype_of(x, name);
  if (x.ndim() != 2) fail(name, "has shape " + shape_text(x), "a 2-D array (examples × features)");
  if (!(x.flags() & py::array::c_style)) fail(name, "is not C-contiguous", "a C-ordered array");
  ds.n = x.shape(0);
  ds.d = x.shape(1);
  ds.source = name;
  const auto bytes = static_cast<std::size_t>(x.nbytes());
  const auto* src = static_cast<const uint8_t*>(x.data());
  py::gil_scoped_release release;
  switch (ds.dtype) {
    case DType::f32:
      check_finite(static_cast<const float*>(x.data()), ds.n, ds.d, 0, name);
      break;
    case DType::f64:
      check_finite(static_cast<const double*>(x.data()), ds.n, ds.d, 0, name);
      break;
    case DType::u8:
      break;
  }
  if (copy_rows) ds.bytes.assign(src, src + bytes);
  return ds;
}

// X as the model's input: its width checked, at least one row.
Dataset model_input(const Model& model, const py::array& x) {
  Dataset ds = features_of(x, "X");
  if (ds.d != model.input_dim())
    fail("X", "has " + std::to_string(ds.d) + " features per example",
         std::to_string(model.input_dim()) + " (the model's input width)");
  if (ds.n == 0) fail("X", "has no examples", "at least one row");
  return ds;
}

py::array_t<double> to_array(const Matrix<double>& m) {
  py::array_t<double> out({m.rows(), m.cols()});
  std::copy(m.data(), m.data() + m.rows() * m.cols(), out.mutable_data());
  return out;
}

// Model.predict(X, probs=True): the library's fcnet::predict, N×C float64.
py::array_t<double> model_predict(const Model& model, const py::array& x, bool probs, int threads,
                                  const std::string& precision) {
  const Dataset ds = model_input(model, x);
  const Precision p = parse_precision(precision);
  Matrix<double> out;
  {
    py::gil_scoped_release release;
    ThreadScope scope(threads);
    out = predict(model, ds, probs, 1000, p);
  }
  return to_array(out);
}

// Model.evaluate(X, y): the library's fcnet::evaluate, as `fcnet eval`.
py::dict model_evaluate(const Model& model, const py::array& x, const Array<int32_t>& y,
                        int threads, const std::string& precision) {
  const Precision p = parse_precision(precision);
  Dataset ds = model_input(model, x);
  const int32_t* yp = label_ptr(y, ds.n, "y");
  for (int64_t i = 0; i < ds.n; ++i)
    if (yp[i] < 0 || yp[i] >= model.num_classes())
      fail("y", "label " + std::to_string(yp[i]) + " at example " + std::to_string(i),
           "a class index in 0.." + std::to_string(model.num_classes() - 1));
  ds.labels.assign(yp, yp + ds.n);
  EvalResult r;
  {
    py::gil_scoped_release release;
    ThreadScope scope(threads);
    r = evaluate(model, ds, 1000, nullptr, p);
  }
  py::dict d;
  d["n"] = r.n;
  d["accuracy"] = r.accuracy;
  d["loss"] = r.loss;
  py::array_t<int64_t> confusion({r.classes, r.classes});
  std::copy(r.confusion.begin(), r.confusion.end(), confusion.mutable_data());
  d["confusion"] = confusion;
  d["per_class_accuracy"] = py::array_t<double>(
      static_cast<py::ssize_t>(r.per_class_accuracy.size()), r.per_class_accuracy.data());
  return d;
}

template <class T>
py::list params_of(const Network<T>& net) {
  py::list out;
  for (int l = 1; l <= net.num_layers(); ++l) {
    py::array_t<T> w({net.sizes()[l - 1], net.sizes()[l]});
    py::array_t<T> b(net.sizes()[l]);
    std::memcpy(w.mutable_data(), net.W(l).data, sizeof(T) * static_cast<std::size_t>(w.size()));
    std::memcpy(b.mutable_data(), net.b(l).data, sizeof(T) * static_cast<std::size_t>(b.size()));
    out.append(w);
    out.append(b);
  }
  return out;
}

template <class T>
Network<T> network_from(const std::vector<py::array>& ps, ActivationFn act) {
  if (ps.empty() || ps.size() % 2)
    fail("params", "has " + std::to_string(ps.size()) + " arrays", "W1, b1, …, WL, bL");
  std::vector<int64_t> sizes;
  std::vector<Array<T>> arrays;
  for (const auto& p : ps) arrays.push_back(py::cast<Array<T>>(p));
  for (std::size_t l = 0; l < arrays.size() / 2; ++l) {
    const auto& w = arrays[2 * l];
    const std::string wn = "params['W" + std::to_string(l + 1) + "']";
    if (w.ndim() != 2) fail(wn, "has shape " + shape_text(w), "a 2-D array (fan_in, fan_out)");
    if (l == 0) sizes.push_back(w.shape(0));
    if (w.shape(0) != sizes.back())
      fail(wn, "has shape " + shape_text(w),
           "fan_in " + std::to_string(sizes.back()) + " to chain with the previous layer");
    sizes.push_back(w.shape(1));
  }
  Network<T> net(sizes, act);
  fill_params(net, arrays);
  return net;
}

// A Model built from NumPy parameters (for saving the CS231n classes).
Model model_from_params(const std::vector<py::array>& ps, const std::string& activation,
                        double alpha, bool f64) {
  Model m;
  const ActivationFn act{parse_activation(activation, "activation"), alpha};
  m.f64 = f64;
  if (f64)
    m.net64 = network_from<double>(ps, act);
  else
    m.net32 = network_from<float>(ps, act);
  return m;
}

// ---------------------------------------------------------------------------------------------
// Training through the library's trainer.

Dataset dataset_from(const py::array& x, const Array<int32_t>& y) {
  Dataset ds = features_of(x, "X");
  const int32_t* yp = label_ptr(y, ds.n, "y");
  ds.labels.assign(yp, yp + ds.n);
  return ds;
}

// fit's training rows: the rows `rows` of X (every row when None) with their labels and weights,
// in that order or, with `canonical`, in the library's canonical order, so that the fit does not
// depend on the order of X's rows. Gathered in the one copy the trainer needs in any case.
Dataset training_set(const py::array& x, const Array<int32_t>& y,
                     const std::vector<std::string>& class_names, const py::object& sample_weight,
                     const py::object& rows, bool canonical, int threads) {
  Dataset ds = features_of(x, "X", false);
  ds.class_names = class_names;
  const int32_t* yp = label_ptr(y, ds.n, "y");
  std::optional<Array<double>> w;
  if (!sample_weight.is_none()) {
    w = Array<double>::ensure(sample_weight);
    if (!*w || w->ndim() != 1 || w->size() != ds.n)
      fail("sample_weight", "is not one number per row of X",
           "a 1-D array of " + std::to_string(ds.n) + " weights");
  }
  const double* wp = w ? w->data() : nullptr;
  std::vector<int64_t> idx;
  if (rows.is_none()) {
    idx.resize(static_cast<std::size_t>(ds.n));
    std::iota(idx.begin(), idx.end(), int64_t{0});
  } else {
    const auto r = Array<int64_t>::ensure(rows);
    if (!r || r.ndim() != 1) fail("rows", "is not a 1-D array", "indices of rows of X");
    idx.assign(r.data(), r.data() + r.size());
    for (const int64_t i : idx)
      if (i < 0 || i >= ds.n)
        fail("rows", "holds the index " + std::to_string(i),
             "indices of rows of X, 0.." + std::to_string(ds.n - 1));
  }
  const std::size_t row = static_cast<std::size_t>(ds.d) * dtype_size(ds.dtype);
  const auto* src = static_cast<const uint8_t*>(x.data());
  {
    py::gil_scoped_release release;
    ThreadScope scope(threads);
    if (canonical) sort_rows_canonically(idx, src, ds.dtype, ds.d, yp, wp);
    ds.n = static_cast<int64_t>(idx.size());
    ds.bytes.reserve(row * idx.size());
    ds.labels.reserve(idx.size());
    if (wp != nullptr) ds.weights.reserve(idx.size());
    for (const int64_t i : idx) {
      const uint8_t* p = src + static_cast<std::size_t>(i) * row;
      ds.bytes.insert(ds.bytes.end(), p, p + row);
      ds.labels.push_back(yp[i]);
      if (wp != nullptr) ds.weights.push_back(wp[i]);
    }
  }
  return ds;
}

// A table given column by column (a data frame's), encoded by the library's table encoder: with
// `schema_json` by that schema, else by a schema fitted here. Each column is a float64 array (NaN
// missing) or a list of str/None. Returns (N×D float64 features, schema JSON, [(column, unseen)]);
// the encoder's notes (a column left out because it holds no value) are Python warnings.
py::tuple encode_table_py(const std::vector<std::pair<std::string, py::object>>& columns,
                          const std::string& schema_json,
                          const std::vector<std::string>& categorical, const std::string& source) {
  std::vector<TableColumn> cols;
  for (const auto& [name, values] : columns) {
    TableColumn c;
    c.name = name;
    if (py::isinstance<py::array>(values)) {
      auto a = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(values);
      if (!a || a.ndim() != 1)
        fail(source + " column '" + name + "'", "is not one column of numbers",
             "a 1-D float array");
      c.numbers.assign(a.data(), a.data() + a.size());
    } else {
      c.text = true;
      for (const py::handle& v : values) {
        const bool none = v.is_none();
        c.missing.push_back(none ? 1 : 0);
        c.texts.push_back(none ? std::string() : py::cast<std::string>(py::str(v)));
      }
    }
    cols.push_back(std::move(c));
  }
  TableSchema schema;
  LoadOptions opt;
  if (!schema_json.empty()) {
    schema = schema_from_json(schema_json, source + ": schema");
    opt.schema = &schema;
  }
  opt.categorical = categorical;
  Dataset ds;
  {
    py::gil_scoped_release release;
    ds = encode_table(cols, opt, source);
  }
  py::array_t<double> x({static_cast<py::ssize_t>(ds.n), static_cast<py::ssize_t>(ds.d)});
  double* out = x.mutable_data();
  const std::size_t count = static_cast<std::size_t>(ds.n * ds.d);
  if (ds.dtype == DType::f64) {
    std::memcpy(out, ds.bytes.data(), count * sizeof(double));
  } else {
    const auto* f = reinterpret_cast<const float*>(ds.bytes.data());
    std::copy(f, f + count, out);
  }
  py::list unseen;
  for (const auto& [name, count_unseen] : ds.unseen)
    unseen.append(py::make_tuple(name, count_unseen));
  // What the CLI prints on stderr (a column left out for holding no value) is a warning here.
  for (const std::string& note : ds.notes)
    if (PyErr_WarnEx(PyExc_UserWarning, (source + ": " + note).c_str(), 1) != 0)
      throw py::error_already_set();  // the warning was made an error (-W error)
  return py::make_tuple(x, schema_to_json(ds.schema), unseen);
}

// An epoch's record as a dict (the library's JSON of it), NaN where nothing was measured.
py::dict epoch_dict(const EpochRecord& r) {
  py::dict e = py::module_::import("json").attr("loads")(epoch_json_text(r));
  const double nan = std::numeric_limits<double>::quiet_NaN();
  e.attr("setdefault")("val_loss", nan);
  e.attr("setdefault")("val_accuracy", nan);
  return e;
}

// A Python value of an option of type `type` as its JSON value; none for a value of another type
// or one outside the type's range.
std::optional<nlohmann::json> option_json(OptionType type, const py::handle& v) {
  static const py::object numpy_bool = py::module_::import("numpy").attr("bool_");
  const bool is_bool = py::isinstance<py::bool_>(v) || py::isinstance(v, numpy_bool);
  const bool whole = !is_bool && py::hasattr(v, "__index__");
  const bool real = !is_bool && (whole || py::hasattr(v, "__float__"));
  auto list = [&](OptionType item) -> std::optional<nlohmann::json> {
    nlohmann::json a = nlohmann::json::array();
    for (const py::handle& x : py::iter(v)) {
      std::optional<nlohmann::json> e = option_json(item, x);
      if (!e) return e;
      a.push_back(std::move(*e));
    }
    return a;
  };
  try {
    switch (type) {
      case OptionType::number:
        if (real) return v.cast<double>();
        break;
      case OptionType::integer:
        if (whole) return v.cast<int64_t>();
        break;
      case OptionType::seed:
        if (whole && v.cast<py::object>() >= py::int_(0)) return v.cast<uint64_t>();
        break;
      case OptionType::name:
        if (py::isinstance<py::str>(v)) return v.cast<std::string>();
        break;
      case OptionType::widths:
      case OptionType::numbers:
        if (py::isinstance<py::sequence>(v) && !py::isinstance<py::str>(v))
          return list(type == OptionType::widths ? OptionType::integer : OptionType::number);
        break;
      case OptionType::boolean:
        if (is_bool) return v.cast<bool>();
        break;
    }
  } catch (const py::cast_error&) {  // too large for the type (2**63, 10**400), or not one number
  } catch (const py::error_already_set&) {
  }
  return std::nullopt;
}

// The training options given as keywords, read through the option table (the keywords are its
// `keyword` column); the others keep TrainConfig's defaults.
TrainConfig config_of_keywords(const py::kwargs& options) {
  TrainConfig cfg;
  for (const auto& [key, value] : options) {
    const std::string name = py::str(key);
    const TrainOption* o = option_by_keyword(name);
    if (!o) {
      std::string known;
      for (const TrainOption& t : train_options())
        if (t.keyword[0]) known += (known.empty() ? "" : ", ") + std::string(t.keyword);
      fail("train", "got the unknown keyword '" + name + "'", "one of " + known);
    }
    const std::optional<nlohmann::json> v = option_json(o->type, value);
    if (!v) {
      std::string shown = py::str(py::repr(value));
      if (shown.size() > 60) shown = shown.substr(0, 57) + "...";
      fail(name, "is " + shown, option_type_text(o->type));
    }
    set_option(*o, cfg, *v, name);
  }
  return cfg;
}

py::tuple train_py(const py::array& x, const Array<int32_t>& y,
                   const std::vector<std::string>& class_names, int threads,
                   const py::object& on_epoch, const py::object& sample_weight,
                   const py::object& resume, const py::object& rows, bool canonical_order,
                   bool data_parallel, const py::kwargs& options) {
  TrainConfig cfg;
  try {
    cfg = config_of_keywords(options);
  } catch (const Error& e) {
    throw Error(in_keywords(e.what()));
  }

  Dataset train_ds = training_set(x, y, class_names, sample_weight, rows, canonical_order, threads);

  std::atomic<bool> halt{false};
  std::optional<py::error_already_set> py_error;  // raised by a callback or a signal
  auto last_check = std::chrono::steady_clock::now();

  TrainCallbacks cb;
  cb.stop = &halt;
  if (data_parallel) {
    // This process trains on its rows of X, the other ranks on theirs (fcnet/mpi.hpp).
    Collective* world = mpi_world();
    if (!world)
      fail("data_parallel", "is True in a process that no MPI launcher started",
           "a run under mpirun/mpiexec (one process per rank), or data_parallel=False");
    py::gil_scoped_release release;
    cb.parallel = rank_share(*world, train_ds.n);
  }
  // Ctrl-C reaches Python only when the interpreter checks for signals: do so a few times a second.
  cb.on_step = [&](const TrainProgress&) {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_check < std::chrono::milliseconds(200)) return;
    last_check = now;
    py::gil_scoped_acquire acquire;
    if (PyErr_CheckSignals() != 0) {
      py_error.emplace();
      halt = true;
    }
  };
  cb.on_epoch = [&](const EpochRecord& r) {
    if (on_epoch.is_none() || py_error) return;
    py::gil_scoped_acquire acquire;
    try {
      on_epoch(epoch_dict(r));
    } catch (py::error_already_set& e) {
      py_error.emplace(std::move(e));
      halt = true;
    }
  };

  std::shared_ptr<const TrainState> resume_state;
  if (!resume.is_none()) {
    // A continued fit runs at least one more epoch before its stopping rule can end it, as
    // scikit-learn's warm start does: its count of epochs without improvement stops one short.
    auto st = std::make_shared<TrainState>(*py::cast<std::shared_ptr<TrainState>>(resume));
    if (cfg.patience > 0) st->since_best = std::min(st->since_best, cfg.patience - 1);
    resume_state = st;
  }
  const TrainState* state = resume_state.get();
  std::optional<TrainResult> res;
  {
    py::gil_scoped_release release;
    ThreadScope scope(threads);
    try {
      res.emplace(train(train_ds, nullptr, cfg, cb, state));
    } catch (const TrainDiverged&) {
      throw;
    } catch (const Error& e) {  // the library names the flag; Python callers gave the keyword
      throw Error(in_keywords(e.what()));
    }
  }
  if (py_error) throw std::move(*py_error);

  py::dict info;
  py::list ep;
  for (const auto& r : res->epochs) ep.append(epoch_dict(r));
  info["epochs"] = ep;
  info["seconds"] = res->seconds;
  info["best_epoch"] = res->best_epoch;
  info["stopped_early"] = res->stopped_early;
  info["steps"] = res->steps;
  info["train_examples"] = res->train_examples;
  info["val_examples"] = res->val_examples;
  // The best monitored value (losses enter the trainer's scores negated) and the epochs since
  // the last improvement.
  const bool loss = cfg.monitor == Monitor::val_loss || cfg.monitor == Monitor::train_loss;
  info["best_score"] = res->state && loss ? -res->state->best_val
                       : res->state       ? res->state->best_val
                                          : std::numeric_limits<double>::quiet_NaN();
  info["since_best"] = res->state ? res->state->since_best : 0;
  info["state"] = std::const_pointer_cast<TrainState>(res->state);
  return py::make_tuple(std::move(res->model), info);
}

// CS231n's training loop on a backend (TwoLayerNet.train): plain SGD steps on the rows the caller
// draws, run by the StepEngine of the device (the CPU's, or a CUDA device's), with the weights
// living in the engine between steps.
class StepRunner {
 public:
  StepRunner(const std::vector<py::array>& params, const std::string& activation, double alpha,
             const py::array& x, const Array<int32_t>& y, double reg, int64_t batch,
             const std::string& device, const std::string& precision) {
    const bool f64 = x.dtype().is(py::dtype::of<double>());
    model_ = model_from_params(params, activation, alpha, f64);
    data_ = dataset_from(x, y);
    if (data_.d != model_.input_dim())
      fail("X", "has " + std::to_string(data_.d) + " features",
           std::to_string(model_.input_dim()) + " (W1's fan_in)");
    for (int32_t label : data_.labels)
      if (label < 0 || label >= model_.num_classes())
        fail("y", "holds the label " + std::to_string(label),
             "class indices 0 … " + std::to_string(model_.num_classes() - 1));
    const std::vector<int64_t> sizes = model_.sizes();
    cfg_.hidden.assign(sizes.begin() + 1, sizes.end() - 1);
    cfg_.activation = {parse_activation(activation, "activation"), alpha};
    cfg_.optimizer.kind = OptimizerKind::sgd;
    cfg_.reg = reg;
    cfg_.normalize = Normalize::none;
    cfg_.epochs = 1;
    cfg_.batch = batch;  // the most rows a step takes
    set_option(*option_by_keyword("device"), cfg_, device, "device");
    set_option(*option_by_keyword("precision"), cfg_, f64 ? "f64" : precision, "precision");
    check_config(cfg_);
    EngineSetup setup;
    setup.model = &model_;
    setup.config = &cfg_;
    setup.train = &data_;
    setup.max_rows = batch;  // rows are drawn with replacement: a batch may exceed X's rows
    engine_ = cfg_.device == Device::cuda ? make_cuda_engine(setup) : make_cpu_engine(setup);
  }

  // One step on `rows` of X at rate lr; returns the batch's loss before the step (the mean data
  // loss plus reg·Σ‖W‖², as the course's loss()).
  double step(const Array<int64_t>& rows, double lr) {
    const int64_t n = rows.size();
    if (rows.ndim() != 1 || n == 0 || n > cfg_.batch)
      fail("rows", "has shape " + shape_text(rows),
           "1 to " + std::to_string(cfg_.batch) + " row indices of X (the batch size)");
    const int64_t* r = rows.data();
    for (int64_t i = 0; i < n; ++i)
      if (r[i] < 0 || r[i] >= data_.n)
        fail("rows", "holds " + std::to_string(r[i]), "indices of X's rows");
    plan_.rows.assign(r, r + n);
    plan_.start = {0, n};
    plan_.batch = {n};
    plan_.lr = {lr};
    py::gil_scoped_release release;
    // Of the weights before the step (a pass over them, and the gradients': only with a penalty).
    const double reg_loss = cfg_.reg > 0 ? engine_->norms(cfg_.reg).reg_loss : 0.0;
    engine_->begin_epoch(plan_);
    const StepOutcome out = engine_->step(0, {});
    const EpochSums sums = engine_->sums();
    if (!out.ok || sums.bad_step != 0)
      fail("training", "the loss or a gradient became non-finite", "a lower learning_rate");
    return sums.loss_sum / static_cast<double>(sums.seen) + reg_loss;
  }

  // The current weights, W1, b1, …, WL, bL.
  py::list params() {
    TrainState st;
    st.model = model_;
    engine_->save(st);
    return st.model.f64 ? params_of(st.model.net64) : params_of(st.model.net32);
  }

 private:
  Model model_;
  TrainConfig cfg_;
  Dataset data_;
  EpochPlan plan_;
  std::unique_ptr<StepEngine> engine_;
};

}  // namespace

}  // namespace fcnet::python

PYBIND11_MODULE(_fcnet, m) {
  using namespace fcnet;
  using namespace fcnet::python;
  m.doc() = "Compiled core of the fcnet package (use the classes in fcnet instead).";
#ifdef FCNET_VERSION
  m.attr("__version__") = FCNET_VERSION;
#endif

  // fcnet.Error: most library failures are bad inputs (ValueError); some are runtime conditions
  // such as a diverged training run (RuntimeError). Deriving from both lets either clause catch it.
  py::module_ builtins = py::module_::import("builtins");
  py::dict ns;
  ns["__module__"] = "fcnet";
  ns["__doc__"] =
      "Error raised by the fcnet library: the message says what was wrong, where, and what was "
      "expected. Subclass of ValueError and RuntimeError.";
  py::object err = builtins.attr("type")(
      "Error", py::make_tuple(builtins.attr("ValueError"), builtins.attr("RuntimeError")), ns);
  m.attr("Error") = err;
  g_error = err.release().ptr();
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const fcnet::Error& e) {
      PyErr_SetString(g_error, e.what());
    }
  });

  m.def(
      "set_num_threads", [](int n) { set_num_threads(n, "n"); }, py::arg("n"),
      "Use exactly n threads for fcnet's parallel work from the calling thread on (n <= 0: one "
      "per core).");
  m.def("num_threads", &num_threads, "Threads fcnet's parallel work uses.");
  m.def(
      "cpu_instruction_sets", [] { return cpu_info().instruction_sets; },
      "The vector instruction sets of this CPU that fcnet can use (as `fcnet info --devices`); "
      "precision='bf16' needs 'avx512bf16'.");
  m.def(
      "val_count",
      [](double fraction, int64_t n) {
        TrainConfig cfg;
        cfg.val_split = fraction;
        return val_count(cfg, n);
      },
      py::arg("fraction"), py::arg("n"),
      "Examples a validation fraction holds out of n, rounded as the trainer rounds.");

  bind_net<float>(m, "Net32");
  bind_net<double>(m, "Net64");

  // A run's whole state (weights, optimizer moments, generators, history) for continuing it:
  // partial_fit and warm_start hand it back to train(resume=...).
  py::class_<TrainState, std::shared_ptr<TrainState>>(m, "TrainState")
      .def_property_readonly("epoch", [](const TrainState& s) { return s.epoch; })
      .def_property_readonly("step", [](const TrainState& s) { return s.step; })
      .def(py::pickle(
          [](const TrainState& st) {  // as checkpoint file bytes
            return py::bytes(serialize_safetensors(checkpoint_to_safetensors(st, st.app_json)));
          },
          [](const py::bytes& b) {
            const std::string bytes = b;
            return std::make_shared<TrainState>(checkpoint_from_safetensors(
                parse_safetensors(bytes, "pickled training state"), "pickled training state"));
          }));

  py::class_<Model>(m, "Model")
      .def_static(
          "load",
          [](const std::string& path) {
            py::gil_scoped_release release;
            return load_model(path);
          },
          py::arg("path"))
      .def(
          "save",
          [](const Model& mo, const std::string& path) {
            py::gil_scoped_release release;
            save_model(path, mo);
          },
          py::arg("path"))
      .def(
          "export_onnx",
          [](const Model& mo, const std::string& path) {
            py::gil_scoped_release release;
            save_onnx(path, mo);
          },
          py::arg("path"))
      .def_static(
          "from_bytes",
          [](const py::bytes& b, const std::string& where) {
            std::string s = b;
            py::gil_scoped_release release;
            return model_from_safetensors(parse_safetensors(s, where), where);
          },
          py::arg("data"), py::arg("where") = "model bytes")
      .def("to_bytes",
           [](const Model& mo) {
             std::string s;
             {
               py::gil_scoped_release release;
               s = serialize_safetensors(model_to_safetensors(mo));
             }
             return py::bytes(s);
           })
      .def_static("from_params", &model_from_params, py::arg("params"),
                  py::arg("activation") = "relu", py::arg("alpha") = 0.01, py::arg("f64") = false)
      .def_property_readonly("sizes", [](const Model& mo) { return mo.sizes(); })
      .def_readonly("f64", &Model::f64)
      .def_property_readonly(
          "activation",
          [](const Model& mo) { return std::string(activation_name(mo.activation().kind)); })
      .def_property_readonly("leaky_relu_alpha",
                             [](const Model& mo) { return mo.activation().alpha; })
      .def_property_readonly("num_params", [](const Model& mo) { return mo.num_params(); })
      .def_readwrite("class_names", &Model::class_names)
      .def_readwrite("training_json", &Model::training_json)
      .def_property(
          "schema_json",
          [](const Model& mo) {
            return mo.schema.empty() ? std::string() : schema_to_json(mo.schema);
          },
          [](Model& mo, const std::string& text) {
            TableSchema t;
            if (!text.empty()) t = schema_from_json(text, "schema_json");
            if (!t.empty() && t.width() != mo.sizes().front())
              fail("schema_json", "encodes " + std::to_string(t.width()) + " features",
                   std::to_string(mo.sizes().front()) + " (the model's input width)");
            mo.schema = std::move(t);
          },
          "How a table's columns become the model's features (metadata 'columns'), as JSON; '' "
          "when the model reads a plain matrix.")
      .def_property_readonly("input_scale", [](const Model& mo) { return mo.transform.scale; })
      .def_property_readonly("input_mean",
                             [](const Model& mo) -> py::object {
                               if (mo.transform.mean.empty()) return py::none();
                               return py::array_t<double>(
                                   static_cast<py::ssize_t>(mo.transform.mean.size()),
                                   mo.transform.mean.data());
                             })
      .def_property_readonly("input_std",
                             [](const Model& mo) -> py::object {
                               if (mo.transform.std.empty()) return py::none();
                               return py::array_t<double>(
                                   static_cast<py::ssize_t>(mo.transform.std.size()),
                                   mo.transform.std.data());
                             })
      .def("params",
           [](const Model& mo) { return mo.f64 ? params_of(mo.net64) : params_of(mo.net32); })
      .def("predict", &model_predict, py::arg("X"), py::arg("probs") = true, py::arg("threads") = 0,
           py::arg("precision") = "f32",
           "N×C probabilities (or raw scores) as float64; precision f32 or bf16 (GEMMs).")
      .def("evaluate", &model_evaluate, py::arg("X"), py::arg("y"), py::arg("threads") = 0,
           py::arg("precision") = "f32",
           "dict of n, accuracy, loss, confusion, per_class_accuracy.");

  py::class_<StepRunner>(m, "StepRunner")
      .def(py::init<std::vector<py::array>, const std::string&, double, const py::array&,
                    const Array<int32_t>&, double, int64_t, const std::string&,
                    const std::string&>(),
           py::arg("params"), py::arg("activation"), py::arg("alpha"), py::arg("X"), py::arg("y"),
           py::arg("reg"), py::arg("batch"), py::arg("device") = "cpu",
           py::arg("precision") = "f32",
           "SGD steps on rows of X (float64 X: double on the CPU) by the device's engine.")
      .def("step", &StepRunner::step, py::arg("rows"), py::arg("lr"),
           "One SGD step on X[rows]; returns the loss before it (data loss + reg·Σ‖W‖²).")
      .def("params", &StepRunner::params, "The current weights, W1, b1, …, WL, bL.");

  m.def("encode_table", &encode_table_py, py::arg("columns"), py::kw_only(),
        py::arg("schema_json") = "", py::arg("categorical") = std::vector<std::string>{},
        py::arg("source") = "X",
        "Encodes [(name, column)] with the library's table encoder; returns (X, schema_json, "
        "unseen).");
  m.def("train", &train_py, py::arg("X"), py::arg("y"), py::kw_only(),
        py::arg("class_names") = std::vector<std::string>{}, py::arg("threads") = 0,
        py::arg("on_epoch") = py::none(), py::arg("sample_weight") = py::none(),
        py::arg("resume") = py::none(),
        // Train on these rows of X only (indices), and in the canonical order of the rows.
        py::arg("rows") = py::none(), py::arg("canonical_order") = false,
        py::arg("data_parallel") = false,
        "Trains a model with the library's trainer; returns (Model, info dict). With "
        "data_parallel, this process is one rank of an MPI job and X its rows of the data. Every "
        "other "
        "keyword is a training option of the table (fcnet/train_options.hpp; option_keywords() "
        "lists them), with TrainConfig's default where it is not given.");
  m.def(
      "mpi_rank",
      []() -> py::object {
        Collective* w = mpi_world();
        if (!w) return py::none();
        return py::make_tuple(w->rank(), w->size());
      },
      "(rank, size) of this process in the MPI job that started it (joining MPI), or None.");
  m.def(
      "mpi_all_gather",
      [](const std::string& text) {
        py::gil_scoped_release release;  // other Python threads run while a rank is late
        return mpi_all_gather(text);
      },
      py::arg("text"), "Every rank's text, in rank order (the world's Allgather).");
  m.def(
      "mpi_launched", [] { return mpi_launcher_size() > 0; },
      "Whether an MPI launcher (mpirun, mpiexec, srun) started this process.");
  m.def("mpi_joined", &mpi_joined, "Whether this process has joined MPI (and not left it).");
  m.def(
      "mpi_abort",
      [](const std::string& message) {
        py::gil_scoped_release release;
        mpi_abort_all(message);
      },
      py::arg("message"), "Prints the message and ends every rank of the job (MPI_Abort).");
  m.def(
      "option_keywords",
      [] {
        py::dict d;
        for (const TrainOption& o : train_options())
          if (o.keyword[0]) d[o.keyword] = o.help[0] ? o.help : o.key;
        return d;
      },
      "The training options train() takes as keywords, with their help.");
}
