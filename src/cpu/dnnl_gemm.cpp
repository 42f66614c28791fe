// float32 GEMM through oneDNN's matmul primitive. Bias and activation run as fused post-ops; the
// primitive, its memory objects and its scratchpad are created once per (shape, strides, operation)
// and reused, so a training step only swaps data pointers. At bf16 the inputs are first rounded
// into the context's own buffers, op(A) row-major (oneDNN's bf16 kernels are several times slower
// on a transposed A) and B in its own layout.
#include <array>
#include <cstring>
#include <map>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <vector>

#include "fcnet/cpu.hpp"
#include "fcnet/kernels.hpp"

namespace fcnet {

namespace {

using dnnl::memory;
using Key = std::array<int64_t, 13>;

// Arguments are kept as the C API's array: the C++ execute() builds one from a map on every call,
// which would allocate in each training step.
struct Entry {
  dnnl::matmul prim;
  memory src, wei, bias, dst, scratch;
  std::vector<dnnl_exec_arg_t> args;
};

void execute(const dnnl::primitive& prim, const dnnl::stream& stream,
             const std::vector<dnnl_exec_arg_t>& args) {
  const dnnl_status_t st =
      dnnl_primitive_execute(prim.get(), stream.get(), static_cast<int>(args.size()), args.data());
  if (st != dnnl_success)
    fail("oneDNN",
         "a primitive failed to run (status " + std::to_string(static_cast<int>(st)) + ")",
         "success");
}

dnnl::algorithm eltwise_algorithm(Activation a) {
  switch (a) {
    case Activation::relu:
    case Activation::leaky_relu:
      return dnnl::algorithm::eltwise_relu;
    case Activation::tanh:
      return dnnl::algorithm::eltwise_tanh;
    case Activation::sigmoid:
      return dnnl::algorithm::eltwise_logistic;
    case Activation::gelu:
      return dnnl::algorithm::eltwise_gelu_erf;
    case Activation::identity:
      return dnnl::algorithm::eltwise_linear;
  }
  return dnnl::algorithm::eltwise_linear;
}

// A growing buffer of bf16 values, 64-byte aligned, never shrunk (no allocation once a step's
// shapes have been seen).
struct Bf16Buffer {
  uint16_t* data = nullptr;
  std::size_t capacity = 0;
  Bf16Buffer() = default;
  Bf16Buffer(const Bf16Buffer&) = delete;
  Bf16Buffer& operator=(const Bf16Buffer&) = delete;
  ~Bf16Buffer() { aligned_free(data); }
  uint16_t* fit(int64_t count, const char* what) {
    const auto n = static_cast<std::size_t>(count);
    if (n > capacity) {
      aligned_free(data);
      data = nullptr;
      capacity = 0;
      data = static_cast<uint16_t*>(aligned_alloc_checked(n, sizeof(uint16_t), what));
      capacity = n;
    }
    return data;
  }
};

// A bf16 copy made in a pass, and what it is a copy of.
struct Rounded {
  const float* src = nullptr;
  int64_t rows = 0, cols = 0, ld = 0;
  bool trans = false;
  bool valid = false;
  Bf16Buffer buf;
  const float* end() const { return src + (rows - 1) * ld + cols; }
};

}  // namespace

void check_cpu_precision(Precision precision) {
  if (precision == Precision::tf32)
    fail("--precision", "is tf32 on the CPU", "fp32 or bf16 (tf32 needs --device cuda)");
  if (precision == Precision::bf16 && !cpu_has_bf16_gemm()) {
    const std::string name = cpu_info().name;
    fail("--precision",
         "is bf16, but this CPU" + (name.empty() ? std::string() : " (" + name + ")") +
             " has no AVX512_BF16 instructions (`fcnet info --devices` lists what it has)",
         "fp32 here, or a CPU with AVX512_BF16 (AMD Zen 4 and later, Intel Cooper Lake, "
         "Sapphire Rapids and later)");
  }
}

bool gemm_pays_in_bf16(int64_t n, int64_t k, int64_t m) {
  // A product as thin as a class layer's (K or M of ten) is a small share of a step, and its
  // rounding pass (over an N×K or K×N input) costs about what the bf16 kernel saves: keeping
  // those products f32 made the 784-256-10 step 10–12 % faster than rounding every product, and
  // the others no slower (docs/PERFORMANCE.md, "bf16 on the CPU").
  (void)n;
  return k >= 32 && m >= 32;
}

void warm_up_gemm() {
  static std::once_flag once;
  std::call_once(once, [] {
    // oneDNN generates its f32 GEMM kernels at the first product of a process, whatever its shape
    // (about 30 ms on a 2-core AVX2 machine, more than a whole step); one small product of its own
    // moves that into set-up. A 1×1 product does not reach those kernels; 64×64×64 does.
    constexpr int64_t s = 64;
    std::vector<float> a(s * s, 0.0f), b(s * s, 0.0f), c(s * s);
    dnnl::engine engine(dnnl::engine::kind::cpu, 0);
    dnnl::stream stream(engine);
    memory::desc md({s, s}, memory::data_type::f32, memory::format_tag::ab);
    dnnl::matmul prim(dnnl::matmul::primitive_desc(dnnl::matmul::desc(md, md, md), engine));
    memory ma(md, engine, a.data()), mb(md, engine, b.data()), mc(md, engine, c.data());
    prim.execute(stream, {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}});
    stream.wait();
  });
}

struct DnnlContext::Impl {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::map<Key, Entry> cache;
  bool bf16 = false;
  Bf16Buffer a16, b16;  // the copies of a product outside a pass
  bool in_pass = false;
  std::vector<std::unique_ptr<Rounded>> rounded;  // the copies of this pass, reused by the next
  std::size_t used = 0;

  // `in` rounded to bf16 (inᵀ when trans), packed row-major. In a pass a matrix rounded before
  // (and not written since as a product's C) is not rounded again.
  const uint16_t* round(ConstView<float> in, bool trans, Bf16Buffer& scratch) {
    const int64_t count = in.rows * in.cols, ld = trans ? in.rows : in.cols;
    if (!in_pass) {
      uint16_t* out = scratch.fit(count, "bf16 copy of a GEMM input");
      to_bf16(out, ld, in, trans);
      return out;
    }
    for (std::size_t i = 0; i < used; ++i) {
      const Rounded& r = *rounded[i];
      if (r.valid && r.src == in.data && r.rows == in.rows && r.cols == in.cols && r.ld == in.ld &&
          r.trans == trans)
        return r.buf.data;
    }
    if (used == rounded.size()) rounded.push_back(std::make_unique<Rounded>());
    Rounded& r = *rounded[used++];
    uint16_t* out = r.buf.fit(count, "bf16 copy of a GEMM input");
    to_bf16(out, ld, in, trans);
    r.src = in.data;
    r.rows = in.rows;
    r.cols = in.cols;
    r.ld = in.ld;
    r.trans = trans;
    r.valid = true;
    return out;
  }

  // A product is about to write c: copies of anything it overlaps are stale.
  void written(MatrixView<float> c) {
    const float* b = c.data;
    const float* e = c.data + (c.rows - 1) * c.ld + c.cols;
    for (std::size_t i = 0; i < used; ++i) {
      Rounded& r = *rounded[i];
      if (r.valid && r.src < e && b < r.end()) r.valid = false;
    }
  }

  Entry& get(const Key& key, const GemmOp<float>& op) {
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
    const auto [n, k, m, lda, ldb, ldc, ta, tb, has_bias, activate, act, beta, low] = key;
    (void)act;
    const memory::dims src_strides = ta ? memory::dims{1, lda} : memory::dims{lda, 1};
    const memory::dims wei_strides = tb ? memory::dims{1, ldb} : memory::dims{ldb, 1};
    const auto in_type = low ? memory::data_type::bf16 : memory::data_type::f32;
    memory::desc src_md({n, k}, in_type, src_strides);
    memory::desc wei_md({k, m}, in_type, wei_strides);
    memory::desc dst_md({n, m}, memory::data_type::f32, memory::dims{ldc, 1});
    memory::desc bias_md =
        has_bias ? memory::desc({1, m}, memory::data_type::f32, memory::format_tag::ab)
                 : memory::desc();
    dnnl::primitive_attr attr;
    dnnl::post_ops po;
    if (beta) po.append_sum(1.0f);
    if (activate) {
      const float alpha = op.act.kind == Activation::leaky_relu ? static_cast<float>(op.act.alpha)
                          : op.act.kind == Activation::identity ? 1.0f
                                                                : 0.0f;
      po.append_eltwise(1.0f, eltwise_algorithm(op.act.kind), alpha, 0.0f);
    }
    attr.set_post_ops(po);
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::matmul::desc desc = has_bias ? dnnl::matmul::desc(src_md, wei_md, bias_md, dst_md)
                                       : dnnl::matmul::desc(src_md, wei_md, dst_md);
    dnnl::matmul::primitive_desc pd(desc, attr, engine);
    Entry e;
    e.prim = dnnl::matmul(pd);
    e.src = memory(src_md, engine, DNNL_MEMORY_NONE);
    e.wei = memory(wei_md, engine, DNNL_MEMORY_NONE);
    e.dst = memory(dst_md, engine, DNNL_MEMORY_NONE);
    e.scratch = memory(pd.scratchpad_desc(), engine);
    e.args = {{DNNL_ARG_SRC, e.src.get()},
              {DNNL_ARG_WEIGHTS, e.wei.get()},
              {DNNL_ARG_DST, e.dst.get()},
              {DNNL_ARG_SCRATCHPAD, e.scratch.get()}};
    if (has_bias) {
      e.bias = memory(bias_md, engine, DNNL_MEMORY_NONE);
      e.args.push_back({DNNL_ARG_BIAS, e.bias.get()});
    }
    return cache.emplace(key, std::move(e)).first->second;
  }
};

DnnlContext::DnnlContext(Precision precision) : impl_(std::make_unique<Impl>()) {
  check_cpu_precision(precision);
  impl_->bf16 = precision == Precision::bf16;
  warm_up_gemm();
}
DnnlContext::~DnnlContext() = default;

void DnnlContext::begin_pass() {
  impl_->in_pass = true;
  impl_->used = 0;
}

void DnnlContext::end_pass() {
  impl_->in_pass = false;
  impl_->used = 0;
}

Precision DnnlContext::precision() const {
  return impl_->bf16 ? Precision::bf16 : Precision::fp32;
}

std::size_t DnnlContext::primitives_created() const {
  return impl_->cache.size();
}

void DnnlContext::gemm(MatrixView<float> c, ConstView<float> a, ConstView<float> b,
                       const GemmOp<float>& op) {
  const int64_t n = c.rows, m = c.cols;
  const int64_t k = op.trans_a ? a.rows : a.cols;
  if (n == 0 || m == 0) return;
  if (k == 0) {  // empty inner dimension: oneDNN rejects it; the product is zero
    if (impl_->in_pass) impl_->written(c);
    ref::gemm(c, a, b, op);
    return;
  }
  // A leaky_relu slope is baked into the primitive, so it is part of the key (as float bits).
  const float alpha = static_cast<float>(op.act.alpha);
  int32_t alpha_bits = 0;
  std::memcpy(&alpha_bits, &alpha, sizeof alpha_bits);
  const bool low = impl_->bf16 && gemm_pays_in_bf16(n, k, m);
  void* src = const_cast<float*>(a.data);
  void* wei = const_cast<float*>(b.data);
  int64_t lda = a.ld, ldb = b.ld;
  bool trans_a = op.trans_a;
  if (low) {  // op(A) as a row-major N×K copy; B rounded in its own layout, rows packed
    src = const_cast<uint16_t*>(impl_->round(a, op.trans_a, impl_->a16));
    wei = const_cast<uint16_t*>(impl_->round(b, false, impl_->b16));
    lda = k;
    ldb = b.cols;
    trans_a = false;
  }
  const Key key{n,
                k,
                m,
                lda,
                ldb,
                c.ld,
                trans_a,
                op.trans_b,
                op.bias != nullptr,
                op.activate,
                op.activate ? static_cast<int64_t>(op.act.kind) * 0x100000000LL + alpha_bits : -1,
                op.beta != 0.0f,
                low};
  if (impl_->in_pass) impl_->written(c);
  Entry& e = impl_->get(key, op);
  e.src.set_data_handle(src);
  e.wei.set_data_handle(wei);
  e.dst.set_data_handle(c.data);
  if (op.bias) e.bias.set_data_handle(const_cast<float*>(op.bias));
  execute(e.prim, impl_->stream, e.args);
  impl_->stream.wait();
}

}  // namespace fcnet
