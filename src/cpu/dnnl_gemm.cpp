// float32 GEMM through oneDNN's matmul primitive. Bias and activation run as fused post-ops; the
// primitive, its memory objects and its scratchpad are created once per (shape, strides, operation)
// and reused, so a training step only swaps data pointers.
#include <array>
#include <cstring>
#include <map>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <vector>

#include "fcnet/kernels.hpp"

namespace fcnet {

namespace {

using dnnl::memory;
using Key = std::array<int64_t, 12>;

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

}  // namespace

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

  Entry& get(const Key& key, const GemmOp<float>& op) {
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
    const auto [n, k, m, lda, ldb, ldc, ta, tb, has_bias, activate, act, beta] = key;
    (void)act;
    const memory::dims src_strides = ta ? memory::dims{1, lda} : memory::dims{lda, 1};
    const memory::dims wei_strides = tb ? memory::dims{1, ldb} : memory::dims{ldb, 1};
    memory::desc src_md({n, k}, memory::data_type::f32, src_strides);
    memory::desc wei_md({k, m}, memory::data_type::f32, wei_strides);
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

DnnlContext::DnnlContext() : impl_(std::make_unique<Impl>()) {
  warm_up_gemm();
}
DnnlContext::~DnnlContext() = default;

std::size_t DnnlContext::primitives_created() const {
  return impl_->cache.size();
}

void DnnlContext::gemm(MatrixView<float> c, ConstView<float> a, ConstView<float> b,
                       const GemmOp<float>& op) {
  const int64_t n = c.rows, m = c.cols;
  const int64_t k = op.trans_a ? a.rows : a.cols;
  if (n == 0 || m == 0) return;
  if (k == 0) {  // empty inner dimension: oneDNN rejects it; the product is zero
    ref::gemm(c, a, b, op);
    return;
  }
  // A leaky_relu slope is baked into the primitive, so it is part of the key (as float bits).
  const float alpha = static_cast<float>(op.act.alpha);
  int32_t alpha_bits = 0;
  std::memcpy(&alpha_bits, &alpha, sizeof alpha_bits);
  const Key key{n,
                k,
                m,
                a.ld,
                b.ld,
                c.ld,
                op.trans_a,
                op.trans_b,
                op.bias != nullptr,
                op.activate,
                op.activate ? static_cast<int64_t>(op.act.kind) * 0x100000000LL + alpha_bits : -1,
                op.beta != 0.0f};
  Entry& e = impl_->get(key, op);
  e.src.set_data_handle(const_cast<float*>(a.data));
  e.wei.set_data_handle(const_cast<float*>(b.data));
  e.dst.set_data_handle(c.data);
  if (op.bias) e.bias.set_data_handle(const_cast<float*>(op.bias));
  execute(e.prim, impl_->stream, e.args);
  impl_->stream.wait();
}

}  // namespace fcnet
