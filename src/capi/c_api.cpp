// The C API of include/fcnet/fcnet.h over the C++ library. Every entry point catches everything,
// so no exception crosses into C, and reports a failure as a status plus a thread-local message.
#include "fcnet/fcnet.h"

#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <limits>
#include <memory>
#include <new>
#include <string>
#include <type_traits>
#include <vector>

#include "fcnet/error.hpp"
#include "fcnet/model_io.hpp"
#include "fcnet/trainer.hpp"

struct fcnet_model {
  fcnet::Model model;
  std::vector<std::string> class_names;                 // C names, as `fcnet predict` labels them
  std::vector<std::string> feature_names;               // D names, or empty (no table schema)
  fcnet::Precision precision = fcnet::Precision::fp32;  // of the products (set_precision)
};

namespace {

// A fixed buffer, so that recording a failure never allocates (it also reports std::bad_alloc).
thread_local char last_error[2048] = "";

// Records "<fmt…>" as the calling thread's last error and returns `status`.
__attribute__((format(printf, 2, 3))) fcnet_status set_error(fcnet_status status, const char* fmt,
                                                             ...) noexcept {
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(last_error, sizeof last_error, fmt, args);
  va_end(args);
  return status;
}

fcnet_status null_model(const char* function) noexcept {
  return set_error(FCNET_ERROR_INVALID_ARGUMENT,
                   "%s: model is NULL, expected a handle from fcnet_model_open", function);
}

// Runs body() (which returns a status), turning what it throws into a status: `error_kind` for
// fcnet::Error, the matching one for anything else.
template <class F>
fcnet_status guarded(fcnet_status error_kind, F&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return set_error(FCNET_ERROR_OUT_OF_MEMORY,
                     "out of memory: an allocation failed, expected fewer rows per call");
  } catch (const fcnet::Error& e) {
    return set_error(error_kind, "%s", e.what());
  } catch (const std::exception& e) {
    return set_error(FCNET_ERROR_INTERNAL, "%s", e.what());
  } catch (...) {
    return set_error(FCNET_ERROR_INTERNAL, "an unknown exception was thrown inside fcnet");
  }
}

// The arguments of fcnet_predict(_double); FCNET_OK when they are usable.
template <class T>
fcnet_status check_predict(const char* fn, const fcnet_model* m, const T* x, int64_t n, int64_t d,
                           const T* probs, const int32_t* labels) noexcept {
  if (m == nullptr) return null_model(fn);
  const long long width = m->model.input_dim();
  if (n < 0)
    return set_error(FCNET_ERROR_INVALID_ARGUMENT, "%s: n is %lld, expected >= 0", fn,
                     (long long)n);
  if (d != width)
    return set_error(FCNET_ERROR_INVALID_ARGUMENT,
                     "%s: d is %lld, expected %lld (the model's input width)", fn, (long long)d,
                     width);
  if (probs == nullptr && labels == nullptr)
    return set_error(FCNET_ERROR_INVALID_ARGUMENT,
                     "%s: probs and labels are both NULL, expected at least one to write to", fn);
  if (n > 0 && x == nullptr)
    return set_error(FCNET_ERROR_INVALID_ARGUMENT, "%s: x is NULL, expected n×d values", fn);
  const int64_t most = std::numeric_limits<int64_t>::max() / static_cast<int64_t>(sizeof(double));
  if (n > 0 && (d > most / n || m->model.num_classes() > most / n))
    return set_error(FCNET_ERROR_INVALID_ARGUMENT,
                     "%s: n is %lld, too many rows to address, expected fewer per call", fn,
                     (long long)n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j)
      if (!std::isfinite(x[i * d + j]))
        return set_error(FCNET_ERROR_INVALID_ARGUMENT,
                         "%s: x[%lld][%lld] is %g, expected a finite number", fn, (long long)i,
                         (long long)j, static_cast<double>(x[i * d + j]));
  return FCNET_OK;
}

// Rows of x (N×D, float or double) through fcnet::predict: probabilities and argmax labels.
template <class T>
fcnet_status predict_rows(const char* fn, const fcnet_model* m, const T* x, int64_t n, int64_t d,
                          T* probs, int32_t* labels) noexcept {
  const fcnet_status checked = check_predict(fn, m, x, n, d, probs, labels);
  if (checked != FCNET_OK || n == 0) return checked;
  return guarded(FCNET_ERROR_INVALID_ARGUMENT, [&] {
    fcnet::Dataset data;
    data.n = n;
    data.d = d;
    data.dtype = std::is_same_v<T, double> ? fcnet::DType::f64 : fcnet::DType::f32;
    data.source = fn;
    const auto* bytes = reinterpret_cast<const uint8_t*>(x);
    data.bytes.assign(bytes, bytes + static_cast<std::size_t>(n * d) * sizeof(T));
    const fcnet::Matrix<double> p = fcnet::predict(m->model, data, true, 1000, m->precision);
    const int64_t c = p.cols();
    for (int64_t i = 0; i < n; ++i) {
      int64_t best = 0;
      for (int64_t j = 0; j < c; ++j) {
        if (p(i, j) > p(i, best)) best = j;
        if (probs != nullptr) probs[i * c + j] = static_cast<T>(p(i, j));
      }
      if (labels != nullptr) labels[i] = static_cast<int32_t>(best);
    }
    return FCNET_OK;
  });
}

// The name at `index` of a list that has `count` (class or feature names), or NULL with a message.
const char* name_at(const char* fn, const std::vector<std::string>& names, int64_t index,
                    const char* what) noexcept {
  const auto count = static_cast<long long>(names.size());
  if (index < 0 || index >= count) {
    set_error(FCNET_ERROR_INVALID_ARGUMENT, "%s: %s %lld is out of range, expected 0..%lld", fn,
              what, (long long)index, count - 1);
    return nullptr;
  }
  return names[static_cast<std::size_t>(index)].c_str();
}

}  // namespace

extern "C" {

const char* fcnet_version(void) {
  return FCNET_VERSION_STRING;
}

const char* fcnet_last_error(void) {
  return last_error;
}

const char* fcnet_status_name(fcnet_status status) {
  switch (status) {
    case FCNET_OK:
      return "ok";
    case FCNET_ERROR_INVALID_ARGUMENT:
      return "invalid argument";
    case FCNET_ERROR_IO:
      return "i/o error";
    case FCNET_ERROR_FORMAT:
      return "not a model file";
    case FCNET_ERROR_OUT_OF_MEMORY:
      return "out of memory";
    case FCNET_ERROR_INTERNAL:
      return "internal error";
  }
  return "unknown status";
}

fcnet_status fcnet_model_open(const char* path, fcnet_model** model) {
  if (model == nullptr)
    return set_error(FCNET_ERROR_INVALID_ARGUMENT,
                     "fcnet_model_open: model is NULL, expected where to store the new handle");
  *model = nullptr;
  if (path == nullptr)
    return set_error(FCNET_ERROR_INVALID_ARGUMENT,
                     "fcnet_model_open: path is NULL, expected a model file's path");
  std::string bytes;
  const fcnet_status read = guarded(FCNET_ERROR_IO, [&] {
    bytes = fcnet::read_file(path);
    return FCNET_OK;
  });
  if (read != FCNET_OK) return read;
  return guarded(FCNET_ERROR_FORMAT, [&] {
    auto m = std::make_unique<fcnet_model>();
    m->model = fcnet::model_from_safetensors(fcnet::parse_safetensors(bytes, path), path);
    fcnet::prepare_transform(m->model.transform, m->model.input_dim());  // refused here, not later
    for (int64_t k = 0; k < m->model.num_classes(); ++k)
      m->class_names.push_back(fcnet::class_name(m->model.class_names, k));
    if (!m->model.schema.empty()) m->feature_names = m->model.schema.feature_names();
    *model = m.release();
    return FCNET_OK;
  });
}

void fcnet_model_close(fcnet_model* model) {
  delete model;
}

int64_t fcnet_model_input_width(const fcnet_model* model) {
  if (model == nullptr) return null_model("fcnet_model_input_width"), -1;
  return model->model.input_dim();
}

int64_t fcnet_model_num_classes(const fcnet_model* model) {
  if (model == nullptr) return null_model("fcnet_model_num_classes"), -1;
  return model->model.num_classes();
}

int fcnet_model_is_double(const fcnet_model* model) {
  if (model == nullptr) return null_model("fcnet_model_is_double"), -1;
  return model->model.f64 ? 1 : 0;
}

const char* fcnet_model_class_name(const fcnet_model* model, int64_t k) {
  if (model == nullptr) return null_model("fcnet_model_class_name"), nullptr;
  return name_at("fcnet_model_class_name", model->class_names, k, "class");
}

int fcnet_model_has_feature_names(const fcnet_model* model) {
  if (model == nullptr) return null_model("fcnet_model_has_feature_names"), -1;
  return model->feature_names.empty() ? 0 : 1;
}

const char* fcnet_model_feature_name(const fcnet_model* model, int64_t j) {
  if (model == nullptr) return null_model("fcnet_model_feature_name"), nullptr;
  if (model->feature_names.empty()) {
    set_error(FCNET_ERROR_INVALID_ARGUMENT,
              "fcnet_model_feature_name: the model has no feature names, expected a model "
              "trained on a CSV file");
    return nullptr;
  }
  return name_at("fcnet_model_feature_name", model->feature_names, j, "feature");
}

fcnet_status fcnet_predict(const fcnet_model* model, const float* x, int64_t n, int64_t d,
                           float* probs, int32_t* labels) {
  return predict_rows("fcnet_predict", model, x, n, d, probs, labels);
}

fcnet_status fcnet_predict_double(const fcnet_model* model, const double* x, int64_t n, int64_t d,
                                  double* probs, int32_t* labels) {
  return predict_rows("fcnet_predict_double", model, x, n, d, probs, labels);
}

fcnet_status fcnet_model_set_precision(fcnet_model* model, const char* precision) {
  if (model == nullptr) return null_model("fcnet_model_set_precision");
  if (precision == nullptr)
    return set_error(FCNET_ERROR_INVALID_ARGUMENT,
                     "fcnet_model_set_precision: precision is NULL, expected \"f32\" or \"bf16\"");
  return guarded(FCNET_ERROR_INVALID_ARGUMENT, [&] {
    const std::string name = precision;
    if (name != "f32" && name != "fp32" && name != "bf16")
      return set_error(FCNET_ERROR_INVALID_ARGUMENT,
                       "fcnet_model_set_precision: precision is \"%s\", expected \"f32\" or "
                       "\"bf16\"",
                       precision);
    const fcnet::Precision p = fcnet::parse_precision(name);
    if (p != fcnet::Precision::fp32 && model->model.f64)
      return set_error(FCNET_ERROR_INVALID_ARGUMENT,
                       "fcnet_model_set_precision: the model computes in double, expected a "
                       "float model for bf16");
    fcnet::check_cpu_precision(p);
    model->precision = p;
    return FCNET_OK;
  });
}

fcnet_status fcnet_set_num_threads(int n) {
  return guarded(FCNET_ERROR_INVALID_ARGUMENT, [&] {
    fcnet::set_num_threads(n, "fcnet_set_num_threads");
    return FCNET_OK;
  });
}

}  // extern "C"
