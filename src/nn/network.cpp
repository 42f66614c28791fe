#include "fcnet/network.hpp"

#include <cmath>

#include "core/names.hpp"
namespace fcnet {

namespace {
constexpr int64_t kPad = 16;  // tensor offsets are multiples of 16 elements (64 bytes for float)
int64_t round_up(int64_t v) {
  return (v + kPad - 1) / kPad * kPad;
}
}  // namespace

namespace {
constexpr const char* kInitNames[] = {"he", "xavier", "normal"};
constexpr detail::NameAlias kInitAliases[] = {{"glorot", 1}};
}  // namespace

Init parse_init(const std::string& name) {
  return static_cast<Init>(
      detail::parse_name(kInitNames, name, "--init", "initialisation", kInitAliases));
}

const char* init_name(Init i) {
  return detail::name_at(kInitNames, static_cast<int>(i));
}

template <class T>
Network<T>::Network(std::vector<int64_t> sizes, ActivationFn act)
    : sizes_(std::move(sizes)), act_(act) {
  if (sizes_.size() < 2)
    fail("network", "needs at least an input and an output size",
         "layer sizes D,[H…,]C with C >= 1");
  int64_t total = 0;
  for (std::size_t l = 0; l < sizes_.size(); ++l) {
    const int64_t s = sizes_[l];
    if (s <= 0)
      fail("network", "layer " + std::to_string(l) + " has size " + std::to_string(s),
           "a positive size");
    if (s > (int64_t{1} << 31))
      fail("network",
           "layer " + std::to_string(l) + " has size " + std::to_string(s) +
               ", which is more than any machine can hold",
           "a size below 2^31");
  }
  for (std::size_t l = 1; l < sizes_.size(); ++l) {
    const int64_t fi = sizes_[l - 1], fo = sizes_[l];
    if (fi > (int64_t{1} << 40) / fo)
      fail("network",
           "layer " + std::to_string(l) + " (" + shape_str(fi, fo) +
               ") has more weights than any machine can hold",
           "fan_in·fan_out below 2^40");
    offsets_.push_back(total);
    total += round_up(fi * fo);
    offsets_.push_back(total);
    total += round_up(fo);
  }
  std::string arch;
  for (auto v : sizes_) arch += (arch.empty() ? "" : "-") + std::to_string(v);
  params_.resize(1, total, "the parameters of the " + arch + " network");
  grads_.resize(1, total, "the gradients of the " + arch + " network");
}

template <class T>
int64_t Network<T>::num_params() const {
  int64_t n = 0;
  for (int l = 1; l <= num_layers(); ++l) n += sizes_[l - 1] * sizes_[l] + sizes_[l];
  return n;
}

template <class T>
std::vector<std::pair<int64_t, int64_t>> Network<T>::weight_ranges() const {
  std::vector<std::pair<int64_t, int64_t>> r;
  for (int l = 1; l <= num_layers(); ++l)
    r.emplace_back(offset(l, false), offset(l, false) + sizes_[l - 1] * sizes_[l]);
  return r;
}

template <class T>
void Network<T>::init(Init kind, Rng& rng, double normal_std) {
  for (int l = 1; l <= num_layers(); ++l) {
    const double fi = static_cast<double>(sizes_[l - 1]), fo = static_cast<double>(sizes_[l]);
    double std = normal_std;
    if (kind == Init::he) std = std::sqrt(2.0 / fi);
    if (kind == Init::xavier) std = std::sqrt(2.0 / (fi + fo));
    auto w = W(l);
    for (int64_t i = 0; i < w.rows; ++i)
      for (int64_t j = 0; j < w.cols; ++j) w(i, j) = static_cast<T>(std * rng.normal());
    auto bb = b(l);
    for (int64_t j = 0; j < bb.cols; ++j) bb(0, j) = T(0);
  }
}

template <class T>
template <class U>
Network<U> Network<T>::cast() const {
  Network<U> out(sizes_, act_);
  for (int64_t i = 0; i < buffer_size(); ++i) out.params()[i] = static_cast<U>(params_[i]);
  return out;
}

template <class T>
Network<T> Network<T>::snapshot() const {
  Network<T> out;
  out.sizes_ = sizes_;
  out.act_ = act_;
  out.offsets_ = offsets_;
  out.params_ = params_;
  return out;
}

template <class T>
Workspace<T>::Workspace(bool fast, Precision precision) {
  if constexpr (std::is_same_v<T, float>) {
    if (!fast && precision != Precision::fp32)
      fail("--precision",
           std::string("is ") + precision_name(precision) + " on the reference kernels",
           "fp32 (the reference kernels have no reduced precision)");
    if (fast) dnnl_ = std::make_unique<DnnlContext>(precision);
  } else if (precision != Precision::fp32) {
    fail("--precision", std::string("is ") + precision_name(precision) + " in double precision",
         "f64 alone (reduced-precision GEMMs are for float32)");
  }
  (void)fast;
}
template <class T>
Workspace<T>::~Workspace() = default;
template <class T>
Workspace<T>::Workspace(Workspace&&) noexcept = default;
template <class T>
Workspace<T>& Workspace<T>::operator=(Workspace&&) noexcept = default;

template <class T>
void Workspace<T>::prepare(const Network<T>& net, int64_t n, bool dropout) {
  // Compared field by field: building a key here would allocate on every training step.
  const bool need_z = backward_needs_z(net.activation());
  if (n == batch && dropout == dropout_ && need_z == need_z_ && net.sizes() == sizes_) return;
  sizes_ = net.sizes();
  dropout_ = dropout;
  need_z_ = need_z;
  const int L = net.num_layers();
  out.resize(L + 1);
  z.resize(L + 1);
  drop.resize(L + 1);
  mask.resize(L + 1);
  grad.resize(L + 1);
  wt.resize(L + 1);
  for (int l = 1; l <= L; ++l) {
    const int64_t h = net.sizes()[l];
    // The bf16 products round W into a copy of their own, in whichever layout it comes.
    if (dnnl() && dnnl()->precision() == Precision::fp32 &&
        forward_prefers_transposed(n, net.sizes()[l - 1], h))
      wt[l].reshape_uninit(h, net.sizes()[l - 1],
                           "transposed weights of layer " + std::to_string(l));
    else
      wt[l] = Matrix<T>();
    const std::string name = "activations of layer " + std::to_string(l);
    out[l].reshape_uninit(n, h, name);
    grad[l].reshape_uninit(n, h, name);
    const bool hidden = l < L;
    if (hidden && need_z) z[l].reshape_uninit(n, h, name);
    if (hidden && dropout) {
      drop[l].reshape_uninit(n, h, name);
      mask[l].reshape_uninit(n, h, name);
    }
  }
  probs.reshape_uninit(n, net.num_classes(), "probabilities");
  batch = n;
}

namespace {

template <class T>
void check_input(const Network<T>& net, ConstView<T> x, const int32_t* y) {
  if (x.cols != net.input_dim())
    fail("input", "has " + std::to_string(x.cols) + " features per example",
         std::to_string(net.input_dim()) + " (the network's input width)");
  if (x.rows <= 0) fail("input", "has no examples", "at least one row");
  if (y)
    for (int64_t i = 0; i < x.rows; ++i)
      if (y[i] < 0 || y[i] >= net.num_classes())
        fail("labels", "label " + std::to_string(y[i]) + " at example " + std::to_string(i),
             "a class index in 0.." + std::to_string(net.num_classes() - 1));
}

// The products of one forward_backward as one pass of the GEMM context (DnnlContext::begin_pass):
// at bf16, W_l and dz_l are rounded once for both products that read them. Nothing else writes
// a product's input during the pass: activations, dropout and the softmax write only matrices no
// earlier product of the pass has read.
class GemmPass {
 public:
  explicit GemmPass(DnnlContext* ctx) : ctx_(ctx) {
    if (ctx_) ctx_->begin_pass();
  }
  ~GemmPass() {
    if (ctx_) ctx_->end_pass();
  }
  GemmPass(const GemmPass&) = delete;
  GemmPass& operator=(const GemmPass&) = delete;

 private:
  DnnlContext* ctx_;
};

// Forward through every layer; returns the scores view. With dropout, hidden outputs are masked
// into ws.drop and the next layer reads those.
template <class T>
MatrixView<T> run_forward(const Network<T>& net, ConstView<T> x, Workspace<T>& ws,
                          const Dropout* dropout) {
  const int L = net.num_layers();
  const ActivationFn f = net.activation();
  const bool need_z = backward_needs_z(f);
  ConstView<T> in = x;
  for (int l = 1; l <= L; ++l) {
    const bool hidden = l < L;
    GemmOp<T> op;
    op.bias = net.b(l).data;
    ConstView<T> w = net.W(l);
    if (ws.wt[l].size() > 0) {  // x·W as x·(Wᵀ)ᵀ: see forward_prefers_transposed
      transpose<T>(ws.wt[l].view(), w);
      w = ws.wt[l].view();
      op.trans_b = true;
    }
    if (hidden && need_z) {
      gemm<T>(ws.dnnl(), ws.z[l].view(), in, w, op);
      activation_forward<T>(ws.out[l].view(), ws.z[l].view(), f);
    } else {
      op.activate = hidden;
      op.act = f;
      gemm<T>(ws.dnnl(), ws.out[l].view(), in, w, op);
    }
    in = ws.out[l].view();
    if (hidden && dropout && dropout->p > 0) {
      const double keep = 1.0 - dropout->p;
      const T scale = static_cast<T>(1.0 / keep);
      T* m = ws.mask[l].data();
      const T* a = ws.out[l].data();
      T* d = ws.drop[l].data();
      const int64_t cnt = ws.out[l].size();
      for (int64_t i = 0; i < cnt; ++i) m[i] = dropout->rng->uniform() < keep ? scale : T(0);
      for (int64_t i = 0; i < cnt; ++i) d[i] = a[i] * m[i];
      in = ws.drop[l].view();
    }
  }
  return ws.out[L].view();
}

}  // namespace

template <class T>
double reg_loss(const Network<T>& net, double reg) {
  if (reg == 0.0) return 0.0;
  double s = 0.0;
  for (auto [b, e] : net.weight_ranges())
    for (int64_t i = b; i < e; ++i) {
      const double w = static_cast<double>(net.params()[i]);
      s += w * w;
    }
  return reg * s;
}

template <class T>
ConstView<T> forward_scores(const Network<T>& net, std::type_identity_t<ConstView<T>> x,
                            Workspace<T>& ws) {
  check_input(net, x, nullptr);
  ws.prepare(net, x.rows, false);
  return run_forward(net, x, ws, nullptr);
}

template <class T>
LossParts loss_only(const Network<T>& net, std::type_identity_t<ConstView<T>> x, const int32_t* y,
                    double reg, Workspace<T>& ws) {
  check_input(net, x, y);
  ws.prepare(net, x.rows, false);
  MatrixView<T> scores = run_forward(net, x, ws, nullptr);
  LossParts lp;
  lp.data_loss =
      softmax_xent_forward<T>(ws.probs.view(), scores, y, nullptr) / static_cast<double>(x.rows);
  lp.reg_loss = reg_loss(net, reg);
  lp.loss = lp.data_loss + lp.reg_loss;
  return lp;
}

template <class T>
LossParts forward_backward(Network<T>& net, std::type_identity_t<ConstView<T>> x, const int32_t* y,
                           double reg, Workspace<T>& ws, const Dropout* dropout, double grad_scale,
                           bool reg_in_grads, const double* weights) {
  check_input(net, x, y);
  if (net.grads() == nullptr)
    fail("network", "is a snapshot without gradients", "a network made with its constructor");
  const bool use_dropout = dropout && dropout->p > 0 && net.num_layers() > 1;
  ws.prepare(net, x.rows, use_dropout);
  const int L = net.num_layers();
  const ActivationFn f = net.activation();
  const bool need_z = backward_needs_z(f);
  GemmPass pass(ws.dnnl());
  MatrixView<T> scores = run_forward(net, x, ws, use_dropout ? dropout : nullptr);

  const double n = static_cast<double>(x.rows);
  const T scale = static_cast<T>(grad_scale > 0 ? grad_scale : 1.0 / n);
  LossParts lp;
  // dscores = (probs − onehot(y)) / N, in place over the scores (eq. 1.3, vectorised).
  lp.data_loss = softmax_xent_backward<T>(scores, y, scale, net.db(L).data, &lp.correct, weights) *
                 static_cast<double>(scale);
  MatrixView<T> d = scores;  // dz_L

  for (int l = L; l >= 1; --l) {
    ConstView<T> in = l == 1 ? x : (use_dropout ? ws.drop[l - 1].view() : ws.out[l - 1].view());
    GemmOp<T> wop;
    wop.trans_a = true;  // dW_l = a_{l−1}ᵀ · dz_l
    gemm<T>(ws.dnnl(), net.dW(l), in, d, wop);
    if (l > 1) {
      GemmOp<T> xop;
      xop.trans_b = true;  // da_{l−1} = dz_l · W_lᵀ
      MatrixView<T> da = ws.grad[l - 1].view();
      gemm<T>(ws.dnnl(), da, d, net.W(l), xop);
      if (use_dropout) {
        const T* m = ws.mask[l - 1].data();
        T* p = da.data;
        for (int64_t i = 0, cnt = da.size(); i < cnt; ++i) p[i] *= m[i];
      }
      // dz_{l−1} = da_{l−1} ⊙ f′(z_{l−1}), and db_{l−1} = column sums of it, in one pass.
      ConstView<T> saved = need_z ? ws.z[l - 1].view() : ws.out[l - 1].view();
      activation_backward<T>(da, da, saved, f, net.db(l - 1).data);
      d = da;
    }
  }

  lp.reg_loss = 0.0;
  if (reg != 0.0) {
    const T two_reg = static_cast<T>(2.0 * reg);
    double s = 0.0;
    for (auto [b, e] : net.weight_ranges()) {
      const T* w = net.params() + b;
      T* g = net.grads() + b;
      const int64_t cnt = e - b;
      for (int64_t i = 0; i < cnt; ++i) s += static_cast<double>(w[i]) * static_cast<double>(w[i]);
      if (reg_in_grads)
        for (int64_t i = 0; i < cnt; ++i) g[i] += two_reg * w[i];
    }
    lp.reg_loss = reg * s;
  }
  lp.loss = lp.data_loss + lp.reg_loss;
  return lp;
}

template class Network<float>;
template class Network<double>;
template class Workspace<float>;
template class Workspace<double>;
template Network<double> Network<float>::cast<double>() const;
template Network<float> Network<double>::cast<float>() const;
template Network<float> Network<float>::cast<float>() const;
template Network<double> Network<double>::cast<double>() const;

#define FCNET_INSTANTIATE(T)                                                                \
  template double reg_loss<T>(const Network<T>&, double);                                   \
  template ConstView<T> forward_scores<T>(const Network<T>&, ConstView<T>, Workspace<T>&);  \
  template LossParts loss_only<T>(const Network<T>&, ConstView<T>, const int32_t*, double,  \
                                  Workspace<T>&);                                           \
  template LossParts forward_backward<T>(Network<T>&, ConstView<T>, const int32_t*, double, \
                                         Workspace<T>&, const Dropout*, double, bool,       \
                                         const double*);
FCNET_INSTANTIATE(float)
FCNET_INSTANTIATE(double)
#undef FCNET_INSTANTIATE

}  // namespace fcnet
