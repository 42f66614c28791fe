// Activations of the hidden layers: which ones fcnet has, their names, and their scalar values and
// derivatives (the definition the kernels and the exporters follow).
#pragma once

#include <string>

namespace fcnet {

enum class Activation { identity, relu, leaky_relu, tanh, sigmoid, gelu };

// Activation of the hidden layers with its parameter (leaky_relu's negative slope).
struct ActivationFn {
  Activation kind = Activation::relu;
  double alpha = 0.01;
};

// "relu", "leaky_relu", "tanh", "sigmoid", "gelu", "identity"; throws fcnet::Error otherwise.
Activation parse_activation(const std::string& name, const std::string& where = "activation");
const char* activation_name(Activation a);

// Whether the backward pass needs the pre-activation z (gelu; leaky_relu with alpha <= 0), rather
// than the activation output a, to compute f'.
bool backward_needs_z(ActivationFn f);

// Scalar f(z), f'(z), and f' expressed through a = f(z) (valid when !backward_needs_z(f)).
double activation_value(ActivationFn f, double z);
double activation_grad_z(ActivationFn f, double z);
double activation_grad_a(ActivationFn f, double a);

}  // namespace fcnet
