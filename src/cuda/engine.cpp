#include "engine.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <functional>
#include <utility>

#include "fcnet/error.hpp"
#include "fcnet/trainer.hpp"

namespace fcnet::cuda {

// The device code uses plain integers for fcnet's enums; they must keep the same values.
static_assert(static_cast<int>(Activation::identity) == kIdentity);
static_assert(static_cast<int>(Activation::relu) == kRelu);
static_assert(static_cast<int>(Activation::leaky_relu) == kLeakyRelu);
static_assert(static_cast<int>(Activation::tanh) == kTanh);
static_assert(static_cast<int>(Activation::sigmoid) == kSigmoid);
static_assert(static_cast<int>(Activation::gelu) == kGelu);
static_assert(static_cast<int>(DType::u8) == kU8);
static_assert(static_cast<int>(DType::f32) == kF32);
static_assert(static_cast<int>(DType::f64) == kF64);
static_assert(static_cast<int>(OptimizerKind::sgd) == kSgd);
static_assert(static_cast<int>(OptimizerKind::momentum) == kMomentum);
static_assert(static_cast<int>(OptimizerKind::nesterov) == kNesterov);
static_assert(static_cast<int>(OptimizerKind::adam) == kAdam);
static_assert(static_cast<int>(OptimizerKind::adamw) == kAdamW);
static_assert(static_cast<int>(OptimizerKind::rmsprop) == kRmsprop);
static_assert(offsetof(Counters, s) == 0, "optimizer_step clears s with an 8-byte memset");

namespace {

const char* base_name(const char* path) {
  const char* s = std::strstr(path, "src/cuda/");
  return s ? s : path;
}

std::string mib(std::size_t bytes) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return b;
}

int64_t round_up(int64_t v, int64_t m) {
  return (v + m - 1) / m * m;
}

}  // namespace

void check_launch(const char* what) {
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess)
    fail(std::string("CUDA kernel ") + what,
         std::string("launch failed: ") + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")",
         "a successful launch");
}

void fail_cuda(cudaError_t e, const char* call, const char* file, int line) {
  fail(std::string(base_name(file)) + ":" + std::to_string(line),
       std::string(call) + " failed: " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")",
       "a successful CUDA call");
}

int visible_devices() {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count <= 0) {
    (void)cudaGetLastError();
    fail("cuda",
         std::string("no CUDA device found") +
             (e != cudaSuccess ? std::string(" (") + cudaGetErrorString(e) + ")" : std::string()),
         "an NVIDIA GPU of compute capability 9.0 or newer with a driver for this CUDA runtime");
  }
  return count;
}

void require_device(int device) {
  const int count = visible_devices();
  if (device < 0 || device >= count)
    fail("cuda", "device " + std::to_string(device) + " does not exist",
         "a device index in 0.." + std::to_string(count - 1));
  cudaDeviceProp prop{};
  FCNET_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  if (prop.major < 9)
    fail("cuda",
         std::string("device ") + std::to_string(device) + " (" + prop.name +
             ") has compute capability " + std::to_string(prop.major) + "." +
             std::to_string(prop.minor) + ", and this build has code for 9.0 and newer only",
         "a GPU of compute capability 9.0 or newer, or a build whose CMAKE_CUDA_ARCHITECTURES "
         "includes this GPU");
}

int device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return count;
}

// ---- DeviceMemory --------------------------------------------------------------------------

DeviceMemory::DeviceMemory(std::size_t bytes, const std::string& what) : bytes_(bytes) {
  if (bytes == 0) return;
  const cudaError_t e = cudaMalloc(&p_, bytes);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    p_ = nullptr;
    fail("cuda", "out of device memory allocating " + what + " (" + mib(bytes) + ")",
         "a smaller network or batch");
  }
  // Zero-filled, and finished before any later work on any stream reads it: allocations
  // happen while setting up, so waiting here costs nothing in the training loop.
  check_cuda(cudaMemset(p_, 0, bytes), "cudaMemset", __FILE__, __LINE__);
  check_cuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize", __FILE__, __LINE__);
}

DeviceMemory::~DeviceMemory() {
  if (p_) cudaFree(p_);  // synchronises with the device before freeing
}

DeviceMemory::DeviceMemory(DeviceMemory&& o) noexcept
    : p_(std::exchange(o.p_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}

DeviceMemory& DeviceMemory::operator=(DeviceMemory&& o) noexcept {
  if (this != &o) {
    if (p_) cudaFree(p_);
    p_ = std::exchange(o.p_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
  }
  return *this;
}

// ---- Context -------------------------------------------------------------------------------

Context::Context(int device) : device_(device) {
  require_device(device);
  FCNET_CUDA_CHECK(cudaSetDevice(device));
  FCNET_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  const cublasStatus_t s = cublasLtCreate(&lt_);
  if (s != CUBLAS_STATUS_SUCCESS) {
    cudaStreamDestroy(stream_);
    fail("cuBLASLt", std::string("cublasLtCreate failed: ") + cublasLtGetStatusString(s),
         "a working cuBLASLt");
  }
  try {
    // 32 MiB: what cuBLASLt's Hopper kernels ask for at most.
    workspace_ = DeviceMemory(std::size_t{32} << 20, "cuBLASLt workspace");
  } catch (...) {
    cublasLtDestroy(lt_);
    cudaStreamDestroy(stream_);
    throw;
  }
}

Context::~Context() {
  cudaStreamSynchronize(stream_);
  workspace_ = DeviceMemory();
  if (lt_) cublasLtDestroy(lt_);
  if (stream_) cudaStreamDestroy(stream_);
}

void Context::sync() const {
  FCNET_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void Context::upload(void* dst, const void* src, std::size_t bytes) const {
  if (bytes == 0) return;
  FCNET_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_));
}

void Context::download(void* dst, const void* src, std::size_t bytes) const {
  if (bytes == 0) return;
  FCNET_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_));
  sync();
}

// ---- DeviceData ----------------------------------------------------------------------------

namespace {

void check_labels(const int32_t* y, int64_t n, int64_t classes, const std::string& where) {
  for (int64_t i = 0; i < n; ++i)
    if (y[i] < 0 || y[i] >= classes)
      fail(where, "label " + std::to_string(y[i]) + " at example " + std::to_string(i),
           "a class index in 0.." + std::to_string(classes - 1));
}

}  // namespace

DeviceData::DeviceData(const Context& ctx, const Dataset& ds, const InputTransform& tf,
                       int64_t classes)
    : n(ds.n), d(ds.d), dtype(static_cast<int>(ds.dtype)) {
  const std::string where = ds.source.empty() ? std::string("data set") : ds.source;
  if (n <= 0 || d <= 0) fail(where, "has no examples or no features", "a non-empty data set");
  if (n >= (int64_t{1} << 31))
    fail(where, "has " + std::to_string(n) + " examples", "fewer than 2^31 on the device");
  const std::size_t need = static_cast<std::size_t>(n * d) * dtype_size(ds.dtype);
  if (ds.bytes.size() != need)
    fail(where, "holds " + std::to_string(ds.bytes.size()) + " bytes",
         std::to_string(need) + " for " + shape_str(n, d) + " " + dtype_name(ds.dtype));
  bytes = DeviceMemory(need, "the data set " + where);
  ctx.upload(bytes.get(), ds.bytes.data(), need);
  if (ds.has_labels()) {
    if (static_cast<int64_t>(ds.labels.size()) != n)
      fail(where, "has " + std::to_string(ds.labels.size()) + " labels",
           std::to_string(n) + ", one per example");
    check_labels(ds.labels.data(), n, classes, where);
    labels = DeviceMemory(static_cast<std::size_t>(n) * sizeof(int32_t), "labels");
    ctx.upload(labels.get(), ds.labels.data(), static_cast<std::size_t>(n) * sizeof(int32_t));
  }
  perm = DeviceMemory(static_cast<std::size_t>(n) * sizeof(int32_t), "permutation");
  upload_transform(ctx, tf);
  ctx.sync();
}

DeviceData::DeviceData(const Context& ctx, ConstView<float> x, const int32_t* y, int64_t classes)
    : n(x.rows), d(x.cols), dtype(kF32) {
  if (n <= 0 || d <= 0) fail("input", "has no examples or no features", "at least one row");
  std::vector<float> packed(static_cast<std::size_t>(n * d));
  for (int64_t i = 0; i < n; ++i)
    std::memcpy(packed.data() + i * d, x.row(i), sizeof(float) * static_cast<std::size_t>(d));
  bytes = DeviceMemory(packed.size() * sizeof(float), "input");
  ctx.upload(bytes.get(), packed.data(), packed.size() * sizeof(float));
  if (y) {
    check_labels(y, n, classes, "labels");
    labels = DeviceMemory(static_cast<std::size_t>(n) * sizeof(int32_t), "labels");
    ctx.upload(labels.get(), y, static_cast<std::size_t>(n) * sizeof(int32_t));
  }
  upload_transform(ctx, InputTransform{});
  ctx.sync();
}

void DeviceData::upload_transform(const Context& ctx, const InputTransform& tf) {
  // The CPU gather's checks and columns: x' = x·mul + add, (x·scale − mean)/sd as
  // x·(scale/sd) + (−mean/sd); a plain scale adds −0, which leaves every x·scale as it is.
  PreparedTransform p = prepare_transform(tf, d);
  const auto nd = static_cast<std::size_t>(d);
  if (p.kind != PreparedTransform::Kind::affine) {
    const double s = p.kind == PreparedTransform::Kind::scale ? p.scale : 1.0;
    p.mul_d.assign(nd, s);
    p.add_d.assign(nd, -0.0);
    p.mul_f.assign(nd, static_cast<float>(s));
    p.add_f.assign(nd, -0.0f);
  }
  u8_float = p.u8_float;
  auto put = [&](DeviceMemory& to, const auto& v) {
    to = DeviceMemory(v.size() * sizeof(v[0]), "input transform");
    ctx.upload(to.get(), v.data(), v.size() * sizeof(v[0]));
  };
  put(mul_f, p.mul_f);
  put(add_f, p.add_f);
  put(mul_d, p.mul_d);
  put(add_d, p.add_d);
}

void DeviceData::set_permutation(const Context& ctx, const std::vector<int64_t>& order) {
  if (static_cast<int64_t>(order.size()) != n)
    fail("permutation", "has " + std::to_string(order.size()) + " entries",
         std::to_string(n) + ", one per example");
  if (!perm.get())
    perm = DeviceMemory(static_cast<std::size_t>(n) * sizeof(int32_t), "permutation");
  std::vector<int32_t> p(order.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    if (order[i] < 0 || order[i] >= n)
      fail("permutation", "entry " + std::to_string(order[i]), "indices in 0..n-1");
    p[i] = static_cast<int32_t>(order[i]);
  }
  ctx.upload(perm.get(), p.data(), p.size() * sizeof(int32_t));
}

void DeviceData::set_weights(const Context& ctx, const std::vector<double>& w) {
  if (static_cast<int64_t>(w.size()) != n)
    fail("example weights", "has " + std::to_string(w.size()) + " entries",
         std::to_string(n) + ", one per example");
  if (!weights.get())
    weights = DeviceMemory(static_cast<std::size_t>(n) * sizeof(double), "example weights");
  ctx.upload(weights.get(), w.data(), w.size() * sizeof(double));
  ctx.sync();
}

// ---- Engine: plans -------------------------------------------------------------------------

// Activation buffers for batches of up to `cap` rows ([l] for hidden layers l = 1..L−1).
struct Engine::Buffers {
  int64_t cap = 0;
  DeviceMemory x, y, w, scores, dsc16, part_loss, part_correct;
  std::vector<DeviceMemory> out, z, drop, grad, aux;
  std::vector<int64_t> aux_ld;  // bits per column of the ReLU mask
};

// One batch size of one kind of work: its GEMMs bound to the buffers, the follow-up kernels the
// epilogues could not absorb, and (for replayed work) the captured graph.
struct Engine::Plan {
  enum class Post { none, act, bias_act };
  struct Layer {
    Gemm fwd, dw, dx;
    Post fwd_post = Post::none;
    bool aux_ok = false;          // the forward GEMM wrote the ReLU mask
    bool dw_bias_kernel = false;  // db_l by bias_grad after the dW GEMM
    bool dx_act_kernel = false;   // activation_backward after the dX GEMM
  };
  Kind kind = Kind::train;
  int64_t n = 0;
  bool dropout = false;
  Buffers* bufs = nullptr;
  std::vector<Layer> layers;  // [1..L]
  std::string summary;
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  // The operands the graph was captured with (a fixed array: compared on every step, built on the
  // stack so a step allocates nothing).
  using Operands = std::array<const void*, 17>;
  Operands bound{};

  Plan() = default;
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;
  ~Plan() { drop_graph(); }
  void drop_graph() {
    if (exec) cudaGraphExecDestroy(exec);
    if (graph) cudaGraphDestroy(graph);
    exec = nullptr;
    graph = nullptr;
    bound = {};
  }
};

Engine::Engine(const Network<float>& net, const EngineConfig& cfg)
    : ctx_(cfg.options.device),
      cfg_(cfg),
      sizes_(net.sizes()),
      act_(net.activation()),
      need_z_(backward_needs_z(net.activation())),
      bf16_(cfg.options.precision == Precision::bf16),
      total_(net.buffer_size()) {
  const int L = net.num_layers();
  for (int l = 1; l <= L; ++l) {
    offsets_.push_back(net.offset(l, false));
    offsets_.push_back(net.offset(l, true));
  }
  const auto tb = static_cast<std::size_t>(total_);
  params_ = DeviceMemory(tb * sizeof(float), "parameters");
  grads_ = DeviceMemory(tb * sizeof(float), "gradients");
  if (keeps_first_moment(cfg_.optimizer.kind))
    m_ = DeviceMemory(tb * sizeof(float), "optimizer state");
  if (keeps_second_moment(cfg_.optimizer.kind))
    v_ = DeviceMemory(tb * sizeof(float), "optimizer state");
  if (bf16_) shadow_ = DeviceMemory(tb * sizeof(uint16_t), "bf16 parameters");

  // The optimizer's ranges: the CPU trainer's W_l (weights) and b_l.
  std::vector<OptRange> ranges;
  for (const ParamRange& r : param_ranges(net)) {
    ranges.push_back({r.begin, r.end, r.weights ? 1 : 0, 0});
    max_range_ = std::max(max_range_, r.end - r.begin);
  }
  nranges_ = static_cast<int>(ranges.size());
  ranges_ = DeviceMemory(ranges.size() * sizeof(OptRange), "optimizer ranges");
  ctx_.upload(ranges_.get(), ranges.data(), ranges.size() * sizeof(OptRange));

  counters_ = DeviceMemory(sizeof(Counters), "step counters");
  train_acc_ = DeviceMemory(sizeof(Accum), "loss accumulators");
  eval_acc_ = DeviceMemory(sizeof(Accum), "loss accumulators");
  norms_ = DeviceMemory(static_cast<std::size_t>(L) * sizeof(double), "norms");
  norm_partials_ = DeviceMemory(kSumSquaresBlocks * sizeof(double), "norms");
  norm_ticket_ = DeviceMemory(sizeof(uint32_t), "norms");
  lr_capacity_ = 1;
  lr_table_ = DeviceMemory(sizeof(double), "learning rates");
  grad_scale_table_ = DeviceMemory(sizeof(double), "step scales");
  loss_scale_table_ = DeviceMemory(sizeof(double), "step scales");
  skip_table_ = DeviceMemory(sizeof(int32_t), "step scales");
  row_start_table_ = DeviceMemory(sizeof(int64_t), "step offsets");
  upload(net);

  FCNET_CUDA_CHECK(cudaEventCreateWithFlags(&snapshot_event_, cudaEventDisableTiming));
  void* pinned = nullptr;
  const cudaError_t e = cudaMallocHost(&pinned, sizeof(Accum));
  if (e != cudaSuccess) {
    cudaEventDestroy(snapshot_event_);
    fail_cuda(e, "cudaMallocHost", __FILE__, __LINE__);
  }
  snapshot_ = static_cast<Accum*>(pinned);
  std::memset(snapshot_, 0, sizeof(Accum));
}

Engine::~Engine() {
  cudaStreamSynchronize(ctx_.stream());
  plans_.clear();
  if (snapshot_event_) cudaEventDestroy(snapshot_event_);
  if (snapshot_) cudaFreeHost(snapshot_);
}

float* Engine::param(int l, bool bias) const {
  return params_.as<float>() + offsets_[2 * (l - 1) + (bias ? 1 : 0)];
}
float* Engine::grad(int l, bool bias) const {
  return grads_.as<float>() + offsets_[2 * (l - 1) + (bias ? 1 : 0)];
}
const void* Engine::gemm_param(int l, bool bias) const {
  if (bf16_) return shadow_.as<uint16_t>() + offsets_[2 * (l - 1) + (bias ? 1 : 0)];
  return param(l, bias);
}

Engine::Buffers& Engine::buffers_for(Kind kind, int64_t n) {
  const bool train = kind != Kind::eval;
  std::unique_ptr<Buffers>& slot = train ? train_buffers_ : eval_buffers_;
  if (slot && slot->cap >= n) return *slot;
  // Plans point into the buffers: those of this family go first.
  for (auto it = plans_.begin(); it != plans_.end();)
    if ((static_cast<Kind>(it->first.first) != Kind::eval) == train)
      it = plans_.erase(it);
    else
      ++it;
  slot.reset();
  ctx_.sync();

  auto b = std::make_unique<Buffers>();
  b->cap = n;
  const int L = static_cast<int>(sizes_.size()) - 1;
  const Store st = bf16_ ? Store::bf16 : Store::f32;
  const auto es = store_size(st);
  const auto rows = static_cast<std::size_t>(n);
  b->x = DeviceMemory(rows * static_cast<std::size_t>(sizes_[0]) * es, "input batch");
  b->y = DeviceMemory(rows * sizeof(int32_t), "batch labels");
  if (train && cfg_.weighted) b->w = DeviceMemory(rows * sizeof(double), "batch weights");
  b->out.resize(static_cast<std::size_t>(L));
  b->z.resize(static_cast<std::size_t>(L));
  b->drop.resize(static_cast<std::size_t>(L));
  b->grad.resize(static_cast<std::size_t>(L));
  b->aux.resize(static_cast<std::size_t>(L));
  b->aux_ld.assign(static_cast<std::size_t>(L), 0);
  for (int l = 1; l < L; ++l) {
    const auto h = static_cast<std::size_t>(sizes_[l]);
    const std::string name = "activations of layer " + std::to_string(l);
    b->out[l] = DeviceMemory(rows * h * es, name);
    if (need_z_) b->z[l] = DeviceMemory(rows * h * es, name);
    if (train && cfg_.dropout > 0) b->drop[l] = DeviceMemory(rows * h * es, name);
    if (train) b->grad[l] = DeviceMemory(rows * h * es, "gradients of layer " + std::to_string(l));
    if (train && act_.kind == Activation::relu) {
      b->aux_ld[l] = round_up(sizes_[l], 128);
      b->aux[l] = DeviceMemory(static_cast<std::size_t>(b->aux_ld[l] / 8) * rows, name + " (mask)");
    }
  }
  const auto c = static_cast<std::size_t>(sizes_.back());
  b->scores = DeviceMemory(rows * c * sizeof(float), "scores");
  if (train && bf16_) b->dsc16 = DeviceMemory(rows * c * sizeof(uint16_t), "bf16 dscores");
  const auto blocks = static_cast<std::size_t>(softmax_xent_blocks(n));
  b->part_loss = DeviceMemory(blocks * sizeof(double), "loss partials");
  b->part_correct = DeviceMemory(blocks * sizeof(long long), "loss partials");
  slot = std::move(b);
  return *slot;
}

namespace {

bool has_bias(Epilogue e) {
  return e != Epilogue::none && e != Epilogue::drelu;
}

// Builds `g` with the first epilogue of `options` that cuBLASLt supports; `bind` fills the
// epilogue's operands into the spec. Throws when not even the plain GEMM has an algorithm.
Epilogue choose(Gemm& g, GemmSpec s, const std::vector<Epilogue>& options,
                const std::function<void(GemmSpec&, Epilogue)>& bind, cublasLtHandle_t lt, void* ws,
                std::size_t ws_bytes, const std::string& name) {
  for (Epilogue e : options) {
    s.epilogue = e;
    s.bias = nullptr;
    s.aux = nullptr;
    s.aux_ld = 0;
    bind(s, e);
    if (g.build(lt, s, ws, ws_bytes)) return e;
  }
  fail("cuBLASLt",
       "no algorithm for the GEMM " + name + " (" + std::to_string(s.m) + "x" +
           std::to_string(s.n) + "x" + std::to_string(s.k) + ")",
       "a GEMM cuBLASLt supports on this device");
}

}  // namespace

std::unique_ptr<Engine::Plan> Engine::build_plan(Kind kind, int64_t n) {
  Buffers& B = buffers_for(kind, n);
  auto p = std::make_unique<Plan>();
  p->kind = kind;
  p->n = n;
  p->bufs = &B;
  const int L = static_cast<int>(sizes_.size()) - 1;
  const bool train = kind != Kind::eval;
  const bool dropout = (kind == Kind::train || kind == Kind::local) && cfg_.dropout > 0 && L > 1;
  p->dropout = dropout;
  const bool fused = cfg_.options.fused_epilogues;
  const bool relu = act_.kind == Activation::relu;
  const bool identity = act_.kind == Activation::identity;
  const cudaDataType_t at = bf16_ ? CUDA_R_16BF : CUDA_R_32F;
  const cublasComputeType_t ct =
      cfg_.options.precision == Precision::tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  auto input = [&](int l) -> void* {
    if (l == 1) return B.x.get();
    return dropout ? B.drop[l - 1].get() : B.out[l - 1].get();
  };
  auto bias_for = [&](int l, cudaDataType_t d_type) -> const void* {
    // The bias epilogue reads the bias in the type of D.
    return d_type == CUDA_R_16BF ? gemm_param(l, true) : static_cast<const void*>(param(l, true));
  };
  p->layers.resize(static_cast<std::size_t>(L) + 1);
  std::string& sum = p->summary;
  auto note = [&](int l, const char* what, Epilogue e, bool kernel) {
    if (!sum.empty()) sum += ' ';
    sum +=
        "L" + std::to_string(l) + "." + what + "=" + epilogue_name(e) + (kernel ? "+kernel" : "");
  };

  // Forward: Zᵀ (H×N) = W_lᵀ (H×K) · inᵀ (K×N); see gemm.hpp for the row/column-major mapping.
  for (int l = 1; l <= L; ++l) {
    Plan::Layer& ly = p->layers[static_cast<std::size_t>(l)];
    const int64_t K = sizes_[l - 1], H = sizes_[l];
    const bool hidden = l < L;
    GemmSpec s;
    s.m = H;
    s.n = n;
    s.k = K;
    s.a = gemm_param(l, false);
    s.lda = H;
    s.a_type = at;
    s.b = input(l);
    s.ldb = K;
    s.b_type = at;
    s.d = hidden ? (need_z_ ? B.z[l].get() : B.out[l].get()) : B.scores.get();
    s.ldd = H;
    s.d_type = hidden ? at : CUDA_R_32F;
    s.compute = ct;
    auto bind = [&](GemmSpec& g, Epilogue e) {
      if (has_bias(e)) g.bias = bias_for(l, g.d_type);
      if (e == Epilogue::relu_aux_bias) {
        g.aux = B.aux[l].get();
        g.aux_ld = B.aux_ld[l];
      }
    };
    std::vector<Epilogue> options = {Epilogue::none};
    if (fused && hidden && relu && train)
      options = {Epilogue::relu_aux_bias, Epilogue::bias, Epilogue::none};
    else if (fused && hidden && relu)
      options = {Epilogue::relu_bias, Epilogue::bias, Epilogue::none};
    else if (fused)
      options = {Epilogue::bias, Epilogue::none};
    const Epilogue e = choose(ly.fwd, s, options, bind, ctx_.lt(), ctx_.workspace(),
                              ctx_.workspace_bytes(), "forward of layer " + std::to_string(l));
    ly.aux_ok = e == Epilogue::relu_aux_bias;
    if (e == Epilogue::none)
      ly.fwd_post = Plan::Post::bias_act;
    else if (e == Epilogue::bias && hidden && !identity)
      ly.fwd_post = Plan::Post::act;
    else
      ly.fwd_post = Plan::Post::none;
    note(l, "fwd", e, ly.fwd_post != Plan::Post::none);
  }
  if (!train) return p;

  // Backward, from the output layer down. dz_l is dscores for l = L (bf16 copy in bf16 mode),
  // else the gradient buffer of layer l.
  std::vector<bool> db_done(static_cast<std::size_t>(L) + 1, false);
  for (int l = L; l >= 1; --l) {
    Plan::Layer& ly = p->layers[static_cast<std::size_t>(l)];
    const int64_t K = sizes_[l - 1], H = sizes_[l];
    const void* dz = l == L ? (bf16_ ? B.dsc16.get() : B.scores.get()) : B.grad[l].get();
    const cudaDataType_t dzt = l == L ? (bf16_ ? CUDA_R_16BF : CUDA_R_32F) : at;

    // dW_l (K×H row-major = H×K column-major) = dz_lᵀ-as-stored (H×N) · in (N×K): m = H,
    // n = K, k = N, B transposed. BGRADA sums A = dz_l over k = N: db_l.
    GemmSpec w;
    w.m = H;
    w.n = K;
    w.k = n;
    w.a = dz;
    w.lda = H;
    w.a_type = dzt;
    w.b = input(l);
    w.ldb = K;
    w.b_type = at;
    w.trans_b = true;
    w.d = grad(l, false);
    w.ldd = H;
    w.d_type = CUDA_R_32F;
    w.compute = ct;
    const bool want_db = !db_done[static_cast<std::size_t>(l)];
    std::vector<Epilogue> wopts = {Epilogue::none};
    if (fused && want_db) wopts = {Epilogue::bgrada, Epilogue::none};
    const Epilogue we = choose(
        ly.dw, w, wopts,
        [&](GemmSpec& g, Epilogue e) {
          if (e == Epilogue::bgrada) g.bias = grad(l, true);
        },
        ctx_.lt(), ctx_.workspace(), ctx_.workspace_bytes(),
        "weight gradient of layer " + std::to_string(l));
    ly.dw_bias_kernel = want_db && we != Epilogue::bgrada;
    note(l, "dW", we, ly.dw_bias_kernel);

    if (l == 1) continue;
    // da_{l−1} (N×K row-major = K×N column-major) = W_l (K×H, stored H×K column-major,
    // transposed) · dz_l (H×N): m = K, n = N, k = H. DRELU applies the layer-(l−1) ReLU mask,
    // DRELU_BGRAD also sums the result over n = N: db_{l−1}.
    Plan::Layer& below = p->layers[static_cast<std::size_t>(l - 1)];
    GemmSpec x;
    x.m = K;
    x.n = n;
    x.k = H;
    x.a = gemm_param(l, false);
    x.lda = H;
    x.a_type = at;
    x.trans_a = true;
    x.b = dz;
    x.ldb = H;
    x.b_type = dzt;
    x.d = B.grad[l - 1].get();
    x.ldd = K;
    x.d_type = at;
    x.compute = ct;
    std::vector<Epilogue> xopts = {Epilogue::none};
    // With dropout the mask multiplies after f', which the fused bias gradient would miss.
    if (fused && relu && below.aux_ok && !dropout) {
      // bf16: the fused bias gradient would be written in bf16; take it from the dW GEMM instead.
      if (bf16_)
        xopts = {Epilogue::drelu, Epilogue::none};
      else
        xopts = {Epilogue::drelu_bgrad, Epilogue::drelu, Epilogue::none};
    }
    const Epilogue xe = choose(
        ly.dx, x, xopts,
        [&](GemmSpec& g, Epilogue e) {
          if (e == Epilogue::drelu || e == Epilogue::drelu_bgrad) {
            g.aux = B.aux[l - 1].get();
            g.aux_ld = B.aux_ld[l - 1];
          }
          if (e == Epilogue::drelu_bgrad) g.bias = grad(l - 1, true);
        },
        ctx_.lt(), ctx_.workspace(), ctx_.workspace_bytes(),
        "input gradient of layer " + std::to_string(l));
    db_done[static_cast<std::size_t>(l - 1)] = xe == Epilogue::drelu_bgrad;
    ly.dx_act_kernel = xe == Epilogue::none && (!identity || dropout);
    note(l, "dX", xe, ly.dx_act_kernel);
  }
  return p;
}

Engine::Plan& Engine::plan(Kind kind, int64_t n) {
  if (n <= 0) fail("batch", "has " + std::to_string(n) + " rows", "at least one row");
  const auto key = std::make_pair(static_cast<int>(kind), n);
  auto it = plans_.find(key);
  if (it != plans_.end()) return *it->second;
  std::unique_ptr<Plan> p = build_plan(kind, n);
  Plan& ref = *p;
  plans_[key] = std::move(p);
  return ref;
}

void Engine::enqueue(const Plan& p, const Source& src) {
  const cudaStream_t stream = ctx_.stream();
  Buffers& B = *p.bufs;
  const int L = static_cast<int>(sizes_.size()) - 1;
  const int64_t n = p.n;
  const bool train = p.kind != Kind::eval;
  const Store st = bf16_ ? Store::bf16 : Store::f32;
  const Act f{static_cast<int>(act_.kind), static_cast<float>(act_.alpha)};
  const bool identity = act_.kind == Activation::identity;
  auto* ctr = counters_.as<Counters>();
  auto draw = [&](int l) {
    DropoutDraw d;
    d.seed = cfg_.dropout_seed;
    d.t = &ctr->t;
    d.layer = l;
    d.keep = static_cast<float>(1.0 - cfg_.dropout);
    d.scale = static_cast<float>(1.0 / (1.0 - cfg_.dropout));
    return d;
  };
  const DeviceData& data = *src.data;
  // A step of the epoch (not a test's gradient or an evaluation) reads the epoch's tables.
  const bool stepping = p.kind == Kind::train || p.kind == Kind::local;
  const bool weighted = stepping && cfg_.weighted && data.weights.get() != nullptr;
  double* w = weighted ? B.w.as<double>() : nullptr;

  gather_rows(B.x.get(), st, B.y.as<int32_t>(), w, data.bytes.get(), data.dtype, data.d,
              data.labels.as<int32_t>(), weighted ? data.weights.as<double>() : nullptr, src.perm,
              src.step, src.row_start, src.stride, src.base, n, data.mul_f.as<float>(),
              data.add_f.as<float>(), data.mul_d.as<double>(), data.add_d.as<double>(),
              data.u8_float, stream);

  for (int l = 1; l <= L; ++l) {
    const Plan::Layer& ly = p.layers[static_cast<std::size_t>(l)];
    const int64_t H = sizes_[l];
    const bool hidden = l < L;
    ly.fwd.run(stream);
    void* target = hidden ? (need_z_ ? B.z[l].get() : B.out[l].get()) : B.scores.get();
    if (ly.fwd_post == Plan::Post::act) {
      bias_activation(B.out[l].get(), nullptr, target, nullptr, st, n, H, f, true, stream);
    } else if (ly.fwd_post == Plan::Post::bias_act) {
      bias_activation(hidden ? B.out[l].get() : B.scores.get(),
                      hidden && need_z_ ? B.z[l].get() : nullptr, target, param(l, true),
                      hidden ? st : Store::f32, n, H, f, hidden && !identity, stream);
    }
    if (hidden && p.dropout)
      dropout_forward(B.drop[l].get(), B.out[l].get(), st, n * H, draw(l), stream);
  }

  const int64_t C = sizes_.back();
  StepScales scales;
  if (stepping) scales = {tables_.grad_scale, tables_.loss_scale};
  softmax_xent(B.scores.as<float>(), train && bf16_ ? B.dsc16.as<uint16_t>() : nullptr,
               B.y.as<int32_t>(), w, n, C, static_cast<float>(1.0 / static_cast<double>(n)), scales,
               train, (train ? train_acc_ : eval_acc_).as<Accum>(), B.part_loss.as<double>(),
               B.part_correct.as<long long>(), src.step, stream);
  if (!train) return;

  for (int l = L; l >= 1; --l) {
    const Plan::Layer& ly = p.layers[static_cast<std::size_t>(l)];
    const int64_t K = sizes_[l - 1], H = sizes_[l];
    ly.dw.run(stream);
    if (ly.dw_bias_kernel) {
      if (l == L)
        bias_grad(grad(l, true), B.scores.get(), Store::f32, n, H, stream);
      else
        bias_grad(grad(l, true), B.grad[l].get(), st, n, H, stream);
    }
    if (l == 1) continue;
    ly.dx.run(stream);
    if (ly.dx_act_kernel) {
      const DropoutDraw d = draw(l - 1);
      void* g = B.grad[l - 1].get();
      const void* saved = need_z_ ? B.z[l - 1].get() : B.out[l - 1].get();
      activation_backward(g, g, saved, st, n * K, f, need_z_, p.dropout ? &d : nullptr, stream);
    }
  }

  if (p.kind == Kind::train)
    fcnet::cuda::optimizer_step(params_.as<float>(), grads_.as<float>(), m_.as<float>(),
                                v_.as<float>(), bf16_ ? shadow_.as<uint16_t>() : nullptr,
                                ranges_.as<OptRange>(), nranges_, max_range_, opt_params(cfg_.l2),
                                lr_table_.as<double>(), tables_.skip, ctr, stream);
}

void Engine::run(Plan& p, const Source& src) {
  if (!cfg_.options.graphs) {
    enqueue(p, src);
    return;
  }
  const DeviceData& d = *src.data;
  // The stored type and whether uint8 computes in float pick the gather kernel.
  const auto data_kind = static_cast<intptr_t>(d.dtype * 2 + (d.u8_float ? 1 : 0));
  const Plan::Operands key = {d.bytes.get(),
                              d.labels.get(),
                              d.weights.get(),
                              src.perm,
                              src.step,
                              src.row_start,
                              tables_.grad_scale,
                              tables_.loss_scale,
                              tables_.skip,
                              d.mul_f.get(),
                              d.add_f.get(),
                              d.mul_d.get(),
                              d.add_d.get(),
                              reinterpret_cast<const void*>(src.stride),
                              reinterpret_cast<const void*>(src.base),
                              reinterpret_cast<const void*>(data_kind),
                              reinterpret_cast<const void*>(d.d)};
  if (!p.exec || p.bound != key) {
    p.drop_graph();
    const cudaStream_t stream = ctx_.stream();
    FCNET_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    try {
      enqueue(p, src);
    } catch (...) {
      cudaGraph_t g = nullptr;
      cudaStreamEndCapture(stream, &g);
      if (g) cudaGraphDestroy(g);
      (void)cudaGetLastError();
      throw;
    }
    FCNET_CUDA_CHECK(cudaStreamEndCapture(stream, &p.graph));
    FCNET_CUDA_CHECK(cudaGraphInstantiate(&p.exec, p.graph, 0));
    p.bound = key;
  }
  FCNET_CUDA_CHECK(cudaGraphLaunch(p.exec, ctx_.stream()));
}

// ---- Engine: operations --------------------------------------------------------------------

void Engine::upload(const Network<float>& net) {
  if (net.sizes() != sizes_ || net.buffer_size() != total_)
    fail("network", "has other layer sizes than the one on the device", "the same sizes");
  ctx_.upload(params_.get(), net.params(), static_cast<std::size_t>(total_) * sizeof(float));
  if (bf16_) to_bf16(shadow_.as<uint16_t>(), params_.as<float>(), total_, ctx_.stream());
  ctx_.sync();
}

void Engine::download(Network<float>& net, bool with_grads) const {
  if (net.sizes() != sizes_ || net.buffer_size() != total_)
    fail("network", "has other layer sizes than the one on the device", "the same sizes");
  ctx_.download(net.params(), params_.get(), static_cast<std::size_t>(total_) * sizeof(float));
  if (with_grads)
    ctx_.download(net.grads(), grads_.get(), static_cast<std::size_t>(total_) * sizeof(float));
}

void Engine::reset_accum(Accum* acc) {
  FCNET_CUDA_CHECK(cudaMemsetAsync(acc, 0, sizeof(Accum), ctx_.stream()));
}

StepTotals Engine::read_accum(const Accum* acc) {
  Accum h{};
  ctx_.download(&h, acc, sizeof(Accum));
  StepTotals t;
  t.loss_sum = h.loss_sum;
  t.correct = h.correct;
  t.bad_step = h.bad_step;
  t.bad_loss = h.bad_loss;
  return t;
}

namespace {

// Uploads `v` into `table` (capacity entries) and returns its device address, or null when v is
// empty (the table is not used).
template <class T>
const T* put_table(const Context& ctx, const DeviceMemory& table, const std::vector<T>& v,
                   const std::vector<double>& lr) {
  if (v.empty()) return nullptr;
  if (v.size() != lr.size())
    fail("epoch tables", "hold " + std::to_string(v.size()) + " entries",
         std::to_string(lr.size()) + ", one per step");
  ctx.upload(table.get(), v.data(), v.size() * sizeof(T));
  return table.as<T>();
}

}  // namespace

void Engine::begin_epoch(const EpochTables& t, int64_t first_step) {
  if (snapshot_pending_) {
    FCNET_CUDA_CHECK(cudaEventSynchronize(snapshot_event_));
    snapshot_pending_ = false;
  }
  const auto steps = static_cast<int64_t>(t.lr.size());
  if (steps > lr_capacity_) {
    // The tables' addresses are baked into captured graphs: they must be captured again.
    for (auto& kv : plans_) kv.second->drop_graph();
    const auto n = static_cast<std::size_t>(steps);
    lr_table_ = DeviceMemory(n * sizeof(double), "learning rates");
    grad_scale_table_ = DeviceMemory(n * sizeof(double), "step scales");
    loss_scale_table_ = DeviceMemory(n * sizeof(double), "step scales");
    skip_table_ = DeviceMemory(n * sizeof(int32_t), "step scales");
    row_start_table_ = DeviceMemory(n * sizeof(int64_t), "step offsets");
    lr_capacity_ = steps;
  }
  ctx_.upload(lr_table_.get(), t.lr.data(), t.lr.size() * sizeof(double));
  tables_.grad_scale = put_table(ctx_, grad_scale_table_, t.grad_scale, t.lr);
  tables_.loss_scale = put_table(ctx_, loss_scale_table_, t.loss_scale, t.lr);
  tables_.skip = put_table(ctx_, skip_table_, t.skip, t.lr);
  tables_.row_start = put_table(ctx_, row_start_table_, t.row_start, t.lr);
  reset_accum(train_acc_.as<Accum>());
  ctx_.upload(&counters_.as<Counters>()->s, &first_step, sizeof(int64_t));
}

void Engine::train_step(const DeviceData& data, int64_t stride, int64_t n, bool counted) {
  Plan& p = plan(Kind::train, n);
  Source src;
  src.data = &data;
  src.perm = data.perm.as<int32_t>();
  src.step = &counters_.as<Counters>()->s;
  src.stride = stride;
  run(p, src);
  if (counted) ++steps_;
}

void Engine::reserve(int64_t n) {
  buffers_for(Kind::local, n);
}

void Engine::local_step(const DeviceData& data, int64_t n) {
  if (!tables_.row_start)
    fail("local_step", "without the epoch's row offsets", "begin_epoch with row_start");
  Plan& p = plan(Kind::local, n);
  Source src;
  src.data = &data;
  src.perm = data.perm.as<int32_t>();
  src.step = &counters_.as<Counters>()->s;
  src.row_start = tables_.row_start;
  run(p, src);
}

void Engine::zero_grads() {
  FCNET_CUDA_CHECK(cudaMemsetAsync(
      grads_.get(), 0, static_cast<std::size_t>(total_) * sizeof(float), ctx_.stream()));
}

void Engine::apply_step(bool counted) {
  fcnet::cuda::optimizer_step(params_.as<float>(), grads_.as<float>(), m_.as<float>(),
                              v_.as<float>(), bf16_ ? shadow_.as<uint16_t>() : nullptr,
                              ranges_.as<OptRange>(), nranges_, max_range_, opt_params(cfg_.l2),
                              lr_table_.as<double>(), tables_.skip, counters_.as<Counters>(),
                              ctx_.stream());
  if (counted) ++steps_;
}

StepTotals Engine::epoch_totals() {
  return read_accum(train_acc_.as<Accum>());
}

void Engine::request_snapshot() {
  if (snapshot_pending_) return;
  FCNET_CUDA_CHECK(cudaMemcpyAsync(snapshot_, train_acc_.get(), sizeof(Accum),
                                   cudaMemcpyDeviceToHost, ctx_.stream()));
  FCNET_CUDA_CHECK(cudaEventRecord(snapshot_event_, ctx_.stream()));
  snapshot_pending_ = true;
}

bool Engine::poll_snapshot(StepTotals* out) {
  if (!snapshot_pending_) return false;
  const cudaError_t e = cudaEventQuery(snapshot_event_);
  if (e == cudaErrorNotReady) return false;
  FCNET_CUDA_CHECK(e);
  snapshot_pending_ = false;
  out->loss_sum = snapshot_->loss_sum;
  out->correct = snapshot_->correct;
  out->bad_step = snapshot_->bad_step;
  out->bad_loss = snapshot_->bad_loss;
  return true;
}

StepTotals Engine::gradient_step(const DeviceData& data, int64_t n) {
  if (n > data.n) fail("batch", "of " + std::to_string(n) + " rows", "at most the data's rows");
  reset_accum(train_acc_.as<Accum>());
  Plan& p = plan(Kind::grad, n);
  Source src;
  src.data = &data;
  run(p, src);
  return read_accum(train_acc_.as<Accum>());
}

OptParams Engine::opt_params(double l2) const {
  const OptimizerConfig& c = cfg_.optimizer;
  OptParams o;
  o.kind = static_cast<int>(c.kind);
  o.mu = static_cast<float>(c.momentum);
  o.b1 = static_cast<float>(c.beta1);
  o.b2 = static_cast<float>(c.kind == OptimizerKind::rmsprop ? c.alpha : c.beta2);
  o.eps = static_cast<float>(c.eps);
  o.l2 = static_cast<float>(l2);
  o.beta1 = c.beta1;
  o.beta2 = c.beta2;
  o.weight_decay = c.weight_decay;
  return o;
}

void Engine::optimizer_step(double lr, double l2) {
  ctx_.upload(lr_table_.get(), &lr, sizeof(double));
  FCNET_CUDA_CHECK(cudaMemsetAsync(counters_.get(), 0, sizeof(int64_t), ctx_.stream()));
  fcnet::cuda::optimizer_step(
      params_.as<float>(), grads_.as<float>(), m_.as<float>(), v_.as<float>(),
      bf16_ ? shadow_.as<uint16_t>() : nullptr, ranges_.as<OptRange>(), nranges_, max_range_,
      opt_params(l2), lr_table_.as<double>(), nullptr, counters_.as<Counters>(), ctx_.stream());
  ++steps_;
}

StepTotals Engine::evaluate(const DeviceData& data, int64_t batch) {
  reset_accum(eval_acc_.as<Accum>());
  batch = std::max<int64_t>(1, std::min(batch, data.n));
  for (int64_t base = 0; base < data.n; base += batch) {
    const int64_t b = std::min(batch, data.n - base);
    Plan& p = plan(Kind::eval, b);
    Source src;
    src.data = &data;
    src.base = base;
    enqueue(p, src);  // launched directly: the row offset changes from batch to batch
  }
  return read_accum(eval_acc_.as<Accum>());
}

std::vector<double> Engine::layer_sum_squares(bool grads) {
  const int L = static_cast<int>(sizes_.size()) - 1;
  const float* base = grads ? grads_.as<float>() : params_.as<float>();
  for (int l = 1; l <= L; ++l)
    sum_squares(norms_.as<double>() + (l - 1), base + offsets_[2 * (l - 1)],
                sizes_[l - 1] * sizes_[l], norm_partials_.as<double>(), norm_ticket_.as<uint32_t>(),
                ctx_.stream());
  std::vector<double> out(static_cast<std::size_t>(L));
  ctx_.download(out.data(), norms_.get(), out.size() * sizeof(double));
  return out;
}

void Engine::save_copy(int slot) {
  DeviceMemory& c = copies_[slot];
  if (!c.get())
    c = DeviceMemory(static_cast<std::size_t>(total_) * sizeof(float), "parameter copy");
  FCNET_CUDA_CHECK(cudaMemcpyAsync(c.get(), params_.get(),
                                   static_cast<std::size_t>(total_) * sizeof(float),
                                   cudaMemcpyDeviceToDevice, ctx_.stream()));
}

void Engine::restore_copy(int slot) {
  const DeviceMemory& c = copies_[slot];
  if (!c.get()) return;
  FCNET_CUDA_CHECK(cudaMemcpyAsync(params_.get(), c.get(),
                                   static_cast<std::size_t>(total_) * sizeof(float),
                                   cudaMemcpyDeviceToDevice, ctx_.stream()));
  if (bf16_) to_bf16(shadow_.as<uint16_t>(), params_.as<float>(), total_, ctx_.stream());
}

void Engine::download_copy(int slot, float* host) {
  if (!copies_[slot].get()) save_copy(slot);
  ctx_.download(host, copies_[slot].get(), static_cast<std::size_t>(total_) * sizeof(float));
}

void Engine::upload_copy(int slot, const float* host) {
  DeviceMemory& c = copies_[slot];
  if (!c.get())
    c = DeviceMemory(static_cast<std::size_t>(total_) * sizeof(float), "parameter copy");
  ctx_.upload(c.get(), host, static_cast<std::size_t>(total_) * sizeof(float));
}

void Engine::download_moments(std::vector<float>& m, std::vector<float>& v) const {
  const auto bytes = static_cast<std::size_t>(total_) * sizeof(float);
  m.assign(m_.get() ? static_cast<std::size_t>(total_) : 0, 0.0f);
  v.assign(v_.get() ? static_cast<std::size_t>(total_) : 0, 0.0f);
  if (m_.get()) ctx_.download(m.data(), m_.get(), bytes);
  if (v_.get()) ctx_.download(v.data(), v_.get(), bytes);
}

void Engine::upload_moments(const std::vector<float>& m, const std::vector<float>& v) {
  const auto bytes = static_cast<std::size_t>(total_) * sizeof(float);
  if (m_.get() && m.size() == static_cast<std::size_t>(total_))
    ctx_.upload(m_.get(), m.data(), bytes);
  if (v_.get() && v.size() == static_cast<std::size_t>(total_))
    ctx_.upload(v_.get(), v.data(), bytes);
}

void Engine::set_steps(int64_t t) {
  ctx_.upload(&counters_.as<Counters>()->t, &t, sizeof(int64_t));
  steps_ = t;
}

std::string Engine::plan_summary(int64_t n) {
  return plan(Kind::train, n).summary;
}

}  // namespace fcnet::cuda
