// The CPU backend of the training loop: one network in f32 (oneDNN and fcnet's vector kernels) or
// f64 (the reference kernels), its optimizer and dropout generator, and the gradient exchange with
// the other ranks.
#include "train/cpu_engine.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "data_parallel.hpp"
#include "fcnet/step_engine.hpp"

namespace fcnet {

namespace detail {

// Example `row` gave a non-finite output: names the feature whose transformed value x (a row of
// the gathered batch) is beyond T's range, or the model's arithmetic when every feature is finite.
template <class T>
[[noreturn]] void fail_not_finite(const Network<T>& net, const Dataset& data, const T* x,
                                  int64_t row) {
  const std::string example = "example " + std::to_string(row + 1);
  const std::string type = std::is_same_v<T, float> ? "float32" : "float64";
  for (int64_t j = 0; j < data.d; ++j) {
    if (std::isfinite(static_cast<double>(x[j]))) continue;
    const uint8_t* at = data.row_bytes(row) + static_cast<std::size_t>(j) * dtype_size(data.dtype);
    double v = 0;
    if (data.dtype == DType::u8) v = *at;
    if (data.dtype == DType::f32) v = static_cast<double>(*reinterpret_cast<const float*>(at));
    if (data.dtype == DType::f64) v = *reinterpret_cast<const double*>(at);
    const std::vector<std::string> names = data.schema.feature_names();
    const std::string feature = static_cast<int64_t>(names.size()) == data.d
                                    ? "'" + names[static_cast<std::size_t>(j)] + "'"
                                    : std::to_string(j);
    char value[32];
    std::snprintf(value, sizeof value, "%.6g", v);
    fail(data.source,
         example + ": feature " + feature + " is " + value + ", beyond what the model's " + type +
             " arithmetic holds after its input transform",
         "values of the training data's magnitude");
  }
  fail(data.source,
       example + ": the " + std::to_string(net.num_layers()) +
           "-layer model's output is not finite, with every input finite",
       "inputs of the training data's magnitude");
}

template <class T>
EvalResult evaluate_network(const Network<T>& net, const InputTransform& tf, const Dataset& data,
                            int64_t batch, Matrix<double>* out, bool probs, Precision precision,
                            bool refuse_non_finite) {
  EvalResult r;
  const int64_t n = data.n, c = net.num_classes();
  r.n = n;
  r.classes = c;
  r.confusion.assign(static_cast<std::size_t>(c * c), 0);
  Workspace<T> ws(true, precision);
  batch = std::max<int64_t>(1, std::min(batch, n));
  Matrix<T> xb(batch, data.d, "input batch");
  Matrix<T> pb(batch, c, "probabilities");
  std::vector<int64_t> idx(static_cast<std::size_t>(batch));
  std::vector<double> losses(static_cast<std::size_t>(batch));
  const PreparedTransform ptf = prepare_transform(tf, data.d);
  double total = 0;
  for (int64_t s = 0; s < n; s += batch) {
    const int64_t b = std::min(batch, n - s);
    std::iota(idx.begin(), idx.begin() + b, s);
    gather_batch<T>(xb.view().rows_range(0, b), data, idx.data(), b, ptf);
    ConstView<T> scores = forward_scores(net, xb.view().rows_range(0, b), ws);
    const int32_t* y = data.has_labels() ? data.labels.data() + s : nullptr;
    MatrixView<T> p = pb.view().rows_range(0, b);
    total += softmax_xent_forward<T>(p, scores, y, losses.data());
    for (int64_t i = 0; i < b; ++i) {
      const T* row = p.row(i);
      if (refuse_non_finite &&
          !std::all_of(row, row + c, [](T v) { return std::isfinite(static_cast<double>(v)); }))
        fail_not_finite(net, data, xb.view().row(i), s + i);
      const int64_t pred = std::max_element(row, row + c) - row;
      if (y) r.confusion[static_cast<std::size_t>(y[i] * c + pred)]++;
      if (out) {
        const T* src = probs ? row : scores.row(i);
        for (int64_t j = 0; j < c; ++j) (*out)(s + i, j) = static_cast<double>(src[j]);
      }
    }
  }
  if (data.has_labels() && n > 0) finish_eval(r, total);
  return r;
}

template EvalResult evaluate_network<float>(const Network<float>&, const InputTransform&,
                                            const Dataset&, int64_t, Matrix<double>*, bool,
                                            Precision, bool);
template EvalResult evaluate_network<double>(const Network<double>&, const InputTransform&,
                                             const Dataset&, int64_t, Matrix<double>*, bool,
                                             Precision, bool);

}  // namespace detail

namespace {

using detail::to_doubles;

template <class T>
double l2_norm(ConstView<T> m) {
  double s = 0;
  for (int64_t i = 0; i < m.rows; ++i)
    for (int64_t j = 0; j < m.cols; ++j) s += static_cast<double>(m(i, j)) * m(i, j);
  return std::sqrt(s);
}

// Index of the first layer whose gradient holds a non-finite value, or 0.
template <class T>
int first_bad_layer(const Network<T>& net) {
  for (int l = 1; l <= net.num_layers(); ++l)
    for (bool bias : {false, true}) {
      ConstView<T> g = bias ? net.db(l) : net.dW(l);
      for (int64_t i = 0; i < g.size(); ++i)
        if (!std::isfinite(static_cast<double>(g.data[i]))) return l;
    }
  return 0;
}

template <class T>
void from_doubles(const std::vector<double>& v, T* p) {
  for (std::size_t i = 0; i < v.size(); ++i) p[i] = static_cast<T>(v[i]);
}

template <class T>
class CpuEngine final : public StepEngine {
 public:
  explicit CpuEngine(const EngineSetup& s)
      : cfg_(*s.config),
        train_(*s.train),
        transform_(s.model->transform),
        comm_(s.comm),
        net_(std::move(s.model->net<T>())),
        P_(net_.buffer_size()),
        opt_(cfg_.optimizer, P_, param_ranges(net_)),
        dropout_rng_(detail::rank_dropout_seed(stream_seed(cfg_, 3), comm_)),
        dropout_{cfg_.dropout, &dropout_rng_},
        ws_(!cfg_.f64, cfg_.precision),
        tf_(prepare_transform(transform_, train_.d)),
        weighted_(!cfg_.class_weights.empty() || !train_.weights.empty()) {
    // The most rows of a step: a whole batch, or this rank's share of the data.
    const int64_t cap =
        s.max_rows > 0 ? s.max_rows : std::max<int64_t>(1, std::min(cfg_.batch, train_.n));
    xb_ = Matrix<T>(cap, train_.d, "input batch");
    yb_.resize(static_cast<std::size_t>(cap));
    if (weighted_) wb_.resize(yb_.size());
  }

  void begin_epoch(const EpochPlan& plan) override {
    plan_ = &plan;
    sums_ = plan.carry;
  }

  StepOutcome step(int64_t s, std::span<double> shared) override {
    const EpochPlan& pl = *plan_;
    const auto k = static_cast<std::size_t>(s);
    const int64_t* idx = pl.rows.data() + pl.start[k];
    const int64_t rows = pl.start[k + 1] - pl.start[k], b = pl.batch[k];
    MatrixView<T> x = xb_.view().rows_range(0, rows);
    gather_batch<T>(x, train_, idx, rows, tf_);
    for (int64_t i = 0; i < rows; ++i) yb_[i] = train_.labels[idx[i]];
    const Dropout* drop = cfg_.dropout > 0 ? &dropout_ : nullptr;
    LossParts lp;
    double wsum = 1;  // the batch's total weight (weighted runs)
    if (weighted_) {
      wsum = 0;
      for (int64_t i = 0; i < rows; ++i) {
        wb_[i] = detail::example_weight(train_, cfg_, idx[i]);
        wsum += wb_[i];
      }
      // With ranks the batch's weight is that of every rank's rows: one more small exchange.
      if (comm_) comm_->sum(&wsum, 1);
    }
    if (rows > 0 && weighted_) {
      // A batch of zero weight only counts its hits: its gradient is zero (and it takes no step).
      lp = forward_backward<T>(net_, x, yb_.data(), 0.0, ws_, drop, detail::weighted_scale(wsum),
                               false, wb_.data());
    } else if (rows > 0) {
      lp = forward_backward<T>(net_, x, yb_.data(), 0.0, ws_, drop, 1.0 / static_cast<double>(b),
                               false);
    } else {
      std::fill(net_.grads(), net_.grads() + P_, T(0));
    }
    if (comm_) {  // the one exchange per step: gradients, then loss, hits and the shared values
      comm_->sum(net_.grads(), P_);
      exchange_.assign({lp.data_loss, static_cast<double>(lp.correct)});
      exchange_.insert(exchange_.end(), shared.begin(), shared.end());
      comm_->sum(exchange_.data(), static_cast<int64_t>(exchange_.size()));
      lp.data_loss = exchange_[0];
      lp.correct = static_cast<int64_t>(exchange_[1]);
      std::copy(exchange_.begin() + 2, exchange_.end(), shared.begin());
    }
    // The optimizer reports non-finite gradients from its own pass; the weights it then wrote
    // are void, as are those of a non-finite loss (never applied). With ranks, the summed
    // gradients and loss are the same on every rank, so all of them agree. A batch of zero total
    // weight leaves the weights and the optimizer's moments alone.
    const bool skip = weighted_ && wsum == 0;
    const bool finite = std::isfinite(lp.data_loss) &&
                        (skip || opt_.step(net_.params(), net_.grads(), pl.lr[k], 2.0 * cfg_.reg));
    if (!finite) return {false, lp.data_loss, first_bad_layer(net_)};
    sums_.loss_sum += lp.data_loss * static_cast<double>(b);
    sums_.correct += lp.correct;
    sums_.seen += b;
    return {};
  }

  EpochSums sums() override { return sums_; }
  EpochSums progress() override { return sums_; }

  EvalResult evaluate(const Dataset& data, Matrix<double>* probs) override {
    return detail::evaluate_network<T>(net_, transform_, data, 1000, probs, true, cfg_.precision,
                                       false);
  }

  Norms norms(double reg) override {
    Norms n;
    for (int l = 1; l <= net_.num_layers(); ++l) {
      n.weights.push_back(l2_norm<T>(net_.W(l)));
      n.grads.push_back(l2_norm<T>(net_.dW(l)));
    }
    n.reg_loss = reg_loss(net_, reg);
    return n;
  }

  // A copy is allocated when first kept or set: a run that keeps no best weights holds none.
  void keep(WeightCopy c) override { copy(c).assign(net_.params(), net_.params() + P_); }
  void restore(WeightCopy c) override {
    const std::vector<T>& v = kept(c);
    std::copy(v.begin(), v.end(), net_.params());
  }
  std::vector<double> copy_values(WeightCopy c) override { return to_doubles(kept(c).data(), P_); }
  void set_copy(WeightCopy c, const std::vector<double>& v) override {
    copy(c).resize(static_cast<std::size_t>(P_));
    from_doubles(v, copy(c).data());
  }

  void save(TrainState& st) override {
    st.model.f64 = std::is_same_v<T, double>;
    st.model.net<T>() = net_.snapshot();
    if (opt_.first_moment().size() > 0) st.opt_m = to_doubles(opt_.first_moment().data(), P_);
    if (opt_.second_moment().size() > 0) st.opt_v = to_doubles(opt_.second_moment().data(), P_);
    st.opt_steps = opt_.steps();
    st.dropout_rng = dropout_rng_.state();
  }

  void load(const TrainState& r) override {
    // The checkpoint's weights straight into this precision, without a copy in between.
    auto put = [&](const auto* src) {
      for (int64_t i = 0; i < P_; ++i) net_.params()[i] = static_cast<T>(src[i]);
    };
    if (r.model.f64)
      put(r.model.net64.params());
    else
      put(r.model.net32.params());
    from_doubles(r.opt_m, opt_.first_moment().data());
    from_doubles(r.opt_v, opt_.second_moment().data());
    opt_.set_steps(r.opt_steps);
    dropout_rng_.set_state(r.dropout_rng);
    // The saved generator is rank 0's; the other ranks draw their own masks from it.
    if (comm_ && comm_->rank() > 0)
      dropout_rng_ = Rng(detail::rank_dropout_seed(dropout_rng_.next_u64(), comm_));
  }

  void finish(Model& model) override {
    model.f64 = std::is_same_v<T, double>;
    model.net<T>() = std::move(net_);
  }

  bool agree(Collective& comm, bool stop, int64_t epoch) override {
    return detail::end_epoch_agreement(comm, net_.params(),
                                       static_cast<std::size_t>(P_) * sizeof(T), stop, epoch);
  }

 private:
  std::vector<T>& copy(WeightCopy c) { return c == WeightCopy::best ? best_ : epoch_start_; }
  const std::vector<T>& kept(WeightCopy c) {
    const std::vector<T>& v = copy(c);
    if (static_cast<int64_t>(v.size()) != P_)
      fail("training loop", "read a weight copy it never kept", "keep() before restore()");
    return v;
  }

  const TrainConfig& cfg_;
  const Dataset& train_;
  InputTransform transform_;
  Collective* comm_;
  Network<T> net_;
  int64_t P_;
  Optimizer<T> opt_;
  Rng dropout_rng_;
  Dropout dropout_;
  Workspace<T> ws_;
  PreparedTransform tf_;
  bool weighted_;
  Matrix<T> xb_;
  std::vector<int32_t> yb_;
  std::vector<double> wb_, exchange_;
  std::vector<T> best_, epoch_start_;
  const EpochPlan* plan_ = nullptr;
  EpochSums sums_;
};

}  // namespace

std::unique_ptr<StepEngine> make_cpu_engine(const EngineSetup& setup) {
  if (setup.config->f64) return std::make_unique<CpuEngine<double>>(setup);
  return std::make_unique<CpuEngine<float>>(setup);
}

}  // namespace fcnet
