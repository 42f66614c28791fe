// The model that training makes and a model file holds (fcnet/model_io.hpp reads and writes it).
#pragma once

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "fcnet/data.hpp"
#include "fcnet/network.hpp"

namespace fcnet {

// A trained model: the network in the file's precision, its input transform and metadata.
struct Model {
  bool f64 = false;       // computed in double when the file stores F64
  Network<float> net32;   // used when !f64
  Network<double> net64;  // used when f64
  InputTransform transform;
  std::vector<std::string> class_names;  // empty when labels were indices
  std::vector<int64_t> image_shape;      // {H, W} when trained on images
  std::string training_json;             // metadata "training": hyperparameters, data, metrics
  TableSchema schema;  // metadata "columns": how a table's columns become the features (CSV)

  const std::vector<int64_t>& sizes() const { return f64 ? net64.sizes() : net32.sizes(); }
  ActivationFn activation() const { return f64 ? net64.activation() : net32.activation(); }
  int64_t input_dim() const { return sizes().front(); }
  int64_t num_classes() const { return sizes().back(); }
  int64_t num_params() const { return f64 ? net64.num_params() : net32.num_params(); }
  int64_t buffer_size() const { return f64 ? net64.buffer_size() : net32.buffer_size(); }
  // The network of precision T: net64 for double, net32 for float.
  template <class T>
  Network<T>& net() {
    if constexpr (std::is_same_v<T, double>)
      return net64;
    else
      return net32;
  }
  template <class T>
  const Network<T>& net() const {
    if constexpr (std::is_same_v<T, double>)
      return net64;
    else
      return net32;
  }
};

}  // namespace fcnet
