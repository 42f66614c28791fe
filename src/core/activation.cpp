#include <cmath>

#include "core/names.hpp"
#include "fcnet/activation.hpp"
#include "fcnet/error.hpp"

namespace fcnet {

namespace {
constexpr const char* kActivationNames[] = {"identity", "relu",    "leaky_relu",
                                            "tanh",     "sigmoid", "gelu"};
}  // namespace

Activation parse_activation(const std::string& name, const std::string& where) {
  return static_cast<Activation>(detail::parse_name(kActivationNames, name, where, "activation"));
}

const char* activation_name(Activation a) {
  return detail::name_at(kActivationNames, static_cast<int>(a));
}

bool backward_needs_z(ActivationFn f) {
  return f.kind == Activation::gelu || (f.kind == Activation::leaky_relu && f.alpha <= 0.0);
}

double activation_value(ActivationFn f, double z) {
  switch (f.kind) {
    case Activation::identity:
      return z;
    case Activation::relu:
      return z > 0 ? z : 0.0;
    case Activation::leaky_relu:
      return z > 0 ? z : f.alpha * z;
    case Activation::tanh:
      return std::tanh(z);
    case Activation::sigmoid:
      return 1.0 / (1.0 + std::exp(-z));
    case Activation::gelu:
      return 0.5 * z * (1.0 + std::erf(z * M_SQRT1_2));
  }
  return z;
}

double activation_grad_z(ActivationFn f, double z) {
  switch (f.kind) {
    case Activation::identity:
      return 1.0;
    case Activation::relu:
      return z > 0 ? 1.0 : 0.0;
    case Activation::leaky_relu:
      return z > 0 ? 1.0 : f.alpha;
    case Activation::tanh: {
      const double t = std::tanh(z);
      return 1.0 - t * t;
    }
    case Activation::sigmoid: {
      const double s = 1.0 / (1.0 + std::exp(-z));
      return s * (1.0 - s);
    }
    case Activation::gelu: {
      // d/dz [z Φ(z)] = Φ(z) + z φ(z)
      const double cdf = 0.5 * (1.0 + std::erf(z * M_SQRT1_2));
      const double pdf = std::exp(-0.5 * z * z) * 0.3989422804014327;
      return cdf + z * pdf;
    }
  }
  return 1.0;
}

double activation_grad_a(ActivationFn f, double a) {
  switch (f.kind) {
    case Activation::identity:
      return 1.0;
    case Activation::relu:
      return a > 0 ? 1.0 : 0.0;
    case Activation::leaky_relu:
      return a > 0 ? 1.0 : f.alpha;
    case Activation::tanh:
      return 1.0 - a * a;
    case Activation::sigmoid:
      return a * (1.0 - a);
    case Activation::gelu:
      break;  // needs z
  }
  return 1.0;
}

}  // namespace fcnet
