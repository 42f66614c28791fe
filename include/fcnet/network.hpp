// The network: linear layers z_l = a_{l-1}·W_l + b_l (W_l stored fan_in×fan_out as in the seed),
// one activation f for the hidden layers, softmax–cross-entropy on the output scores, and
// L2 regularisation reg·Σ_l ‖W_l‖² on the weights only.
//
// Shape key: N batch, D = sizes[0] input features, H_l = sizes[l] widths, C = sizes[L] classes.
// All parameters live in one contiguous buffer, and all gradients in another of the same layout
// (W1, b1, W2, b2, …, each tensor starting on a 64-byte boundary), so an optimizer is one loop
// over the buffer and saving is one pass.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "fcnet/kernels.hpp"
#include "fcnet/random.hpp"
#include "fcnet/tensor.hpp"

namespace fcnet {

// Weight initialisation: He (std sqrt(2/fan_in)), Xavier/Glorot (std sqrt(2/(fan_in+fan_out))),
// or normal (std·randn, as CS231n's TwoLayerNet). Biases start at zero.
enum class Init { he, xavier, normal };
Init parse_init(const std::string& name);  // "he" | "xavier" | "glorot" | "normal"
const char* init_name(Init i);

template <class T>
class Network {
 public:
  Network() = default;
  // sizes = {D, H_1, …, C}: at least two entries, all positive.
  Network(std::vector<int64_t> sizes, ActivationFn act);

  const std::vector<int64_t>& sizes() const { return sizes_; }
  int num_layers() const { return static_cast<int>(sizes_.size()) - 1; }  // L
  int64_t input_dim() const { return sizes_.front(); }
  int64_t num_classes() const { return sizes_.back(); }
  ActivationFn activation() const { return act_; }
  void set_activation(ActivationFn f) { act_ = f; }

  // Parameters of layer l in 1..L: W_l is fan_in×fan_out, b_l is 1×fan_out.
  MatrixView<T> W(int l) { return view(params_.data(), l, false); }
  ConstView<T> W(int l) const { return view(params_.data(), l, false); }
  MatrixView<T> b(int l) { return view(params_.data(), l, true); }
  ConstView<T> b(int l) const { return view(params_.data(), l, true); }
  MatrixView<T> dW(int l) { return view(grads_.data(), l, false); }
  ConstView<T> dW(int l) const { return view(grads_.data(), l, false); }
  MatrixView<T> db(int l) { return view(grads_.data(), l, true); }
  ConstView<T> db(int l) const { return view(grads_.data(), l, true); }

  // The contiguous buffers (buffer_size() elements, padding included and kept at zero).
  T* params() { return params_.data(); }
  const T* params() const { return params_.data(); }
  T* grads() { return grads_.data(); }
  const T* grads() const { return grads_.data(); }
  int64_t buffer_size() const { return params_.size(); }
  // Number of trainable scalars (Σ fan_in·fan_out + fan_out).
  int64_t num_params() const;
  // Offset of W_l (or b_l) in the buffers.
  int64_t offset(int l, bool bias) const { return offsets_[2 * (l - 1) + (bias ? 1 : 0)]; }
  // Offsets of the weights only, as [begin, end) ranges: what L2 regularisation touches.
  std::vector<std::pair<int64_t, int64_t>> weight_ranges() const;

  // Draws W_l from the chosen distribution with `rng`; zeroes the biases.
  void init(Init kind, Rng& rng, double normal_std = 1e-2);

  // Same network in another precision (values rounded to nearest).
  template <class U>
  Network<U> cast() const;

  // The same sizes, activation and parameters without a gradient buffer: a copy of the weights
  // to keep (a checkpoint's), at half the memory. grads() is null on it, and forward_backward
  // refuses it.
  Network snapshot() const;

 private:
  // Views into either buffer; constness is restored by the public accessors' return types.
  MatrixView<T> view(const T* base, int l, bool bias) const {
    const int64_t fi = sizes_[l - 1], fo = sizes_[l];
    T* p = const_cast<T*>(base) + offset(l, bias);
    return bias ? MatrixView<T>(p, 1, fo) : MatrixView<T>(p, fi, fo);
  }

  std::vector<int64_t> sizes_;
  ActivationFn act_{};
  std::vector<int64_t> offsets_;
  Matrix<T> params_;
  Matrix<T> grads_;
};

// Buffers for forward and backward at one batch size, allocated on first use of a shape and reused
// afterwards, plus the oneDNN primitives (float32). One per thread of work.
template <class T>
class Workspace {
 public:
  // fast = false forces the reference kernels (the test oracle path). `precision` is that of the
  // float32 GEMMs (bf16: see DnnlContext); double runs in double.
  explicit Workspace(bool fast = true, Precision precision = Precision::fp32);
  ~Workspace();
  Workspace(Workspace&&) noexcept;
  Workspace& operator=(Workspace&&) noexcept;

  // Makes the buffers fit `net` at batch n (no allocation when they already do).
  void prepare(const Network<T>& net, int64_t n, bool dropout);
  DnnlContext* dnnl() { return dnnl_.get(); }

  std::vector<Matrix<T>> out;   // [l]: a_l for hidden layers, scores for l = L
  std::vector<Matrix<T>> z;     // [l]: pre-activation, kept only when backward needs it
  std::vector<Matrix<T>> drop;  // [l]: a_l after dropout (when dropout is on)
  std::vector<Matrix<T>> mask;  // [l]: dropout multipliers 0 or 1/keep
  std::vector<Matrix<T>> grad;  // [l]: dz_l (N×H_l)
  std::vector<Matrix<T>> wt;    // [l]: W_lᵀ for layers whose forward runs faster from it
  Matrix<T> probs;              // N×C for forward-only use
  int64_t batch = -1;

 private:
  std::unique_ptr<DnnlContext> dnnl_;
  std::vector<int64_t> sizes_;
  bool dropout_ = false;
  bool need_z_ = false;
};

// Loss split as the seed writes it: data loss = mean_i −log probs[i, y_i]; reg loss = reg·Σ‖W‖².
struct LossParts {
  double data_loss = 0;
  double reg_loss = 0;
  double loss = 0;
  int64_t correct = 0;  // examples whose highest score is at the label (forward_backward only)
};

// Inverted dropout on hidden activations: each unit is kept with probability 1 − p and scaled by
// 1/(1 − p) during training.
struct Dropout {
  double p = 0.0;
  Rng* rng = nullptr;
};

// Scores (N×C) of input x (N×D); the returned view points into ws.
template <class T>
ConstView<T> forward_scores(const Network<T>& net, std::type_identity_t<ConstView<T>> x,
                            Workspace<T>& ws);

// Forward and backward on a batch: returns the loss and overwrites every gradient of `net` with
// d loss / d parameter. `grad_scale` replaces 1/N as the data-loss normaliser when positive (for a
// batch split across workers, 1/global N). `reg_in_grads` = false leaves 2·reg·W out of dW, for an
// optimizer that applies it itself; the returned loss includes the reg term either way. With
// `weights` (N values), example i's loss counts weights[i] times: with grad_scale = 1 / Σ weights
// the data loss is the weighted mean Σ wᵢ·Lᵢ / Σ wᵢ (PyTorch's CrossEntropyLoss(weight=…));
// without grad_scale it is that divided by 1/N instead.
template <class T>
LossParts forward_backward(Network<T>& net, std::type_identity_t<ConstView<T>> x, const int32_t* y,
                           double reg, Workspace<T>& ws, const Dropout* dropout = nullptr,
                           double grad_scale = 0.0, bool reg_in_grads = true,
                           const double* weights = nullptr);

// Loss without gradients (forward only, no dropout).
template <class T>
LossParts loss_only(const Network<T>& net, std::type_identity_t<ConstView<T>> x, const int32_t* y,
                    double reg, Workspace<T>& ws);

// reg·Σ_l ‖W_l‖² in double.
template <class T>
double reg_loss(const Network<T>& net, double reg);

}  // namespace fcnet
