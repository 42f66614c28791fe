// Public entry points of the CUDA backend that are not the trainer: the device listing and the
// CudaNetwork interface over the Engine.
#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include <cstdio>
#include <memory>
#include <string>

#include "engine.hpp"
#include "fcnet/cuda.hpp"

namespace fcnet {

bool cuda_built() {
  return true;
}

std::string cuda_devices_info() {
  const int count = cuda::visible_devices();
  int runtime = 0, driver = 0;
  cudaRuntimeGetVersion(&runtime);
  cudaDriverGetVersion(&driver);
  char line[512];
  std::snprintf(line, sizeof line, "CUDA runtime %d.%d, driver %d.%d, cuBLASLt %zu\n",
                runtime / 1000, runtime % 1000 / 10, driver / 1000, driver % 1000 / 10,
                cublasLtGetVersion());
  std::string out = line;
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp p{};
    if (cudaGetDeviceProperties(&p, i) != cudaSuccess) {
      (void)cudaGetLastError();
      std::snprintf(line, sizeof line, "cuda:%d  (properties unavailable)\n", i);
      out += line;
      continue;
    }
    std::snprintf(line, sizeof line, "cuda:%d  %s  compute capability %d.%d  %d SMs  %.1f GiB%s\n",
                  i, p.name, p.major, p.minor, p.multiProcessorCount,
                  static_cast<double>(p.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0),
                  p.major < 9 ? "  (not usable: this build has code for 9.0 and newer)" : "");
    out += line;
  }
  return out;
}

struct CudaNetwork::Impl {
  CudaOptions options;
  std::unique_ptr<cuda::Engine> engine;
  std::unique_ptr<cuda::DeviceData> data;  // the latest batch
  int64_t input_dim = 0;
  int64_t classes = 0;

  void put(ConstView<float> x, const int32_t* y) {
    if (x.cols != input_dim)
      fail("input", "has " + std::to_string(x.cols) + " features per example",
           std::to_string(input_dim) + " (the network's input width)");
    if (x.rows <= 0) fail("input", "has no examples", "at least one row");
    if (!y) fail("labels", "are missing", "one label per example");
    data = std::make_unique<cuda::DeviceData>(engine->context(), x, y, classes);
  }
};

CudaNetwork::CudaNetwork(const Network<float>& net, const OptimizerConfig& opt,
                         const CudaOptions& o)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = o;
  impl_->input_dim = net.input_dim();
  impl_->classes = net.num_classes();
  cuda::EngineConfig ec;
  ec.options = o;
  ec.optimizer = opt;
  impl_->engine = std::make_unique<cuda::Engine>(net, ec);
}

CudaNetwork::~CudaNetwork() = default;
CudaNetwork::CudaNetwork(CudaNetwork&&) noexcept = default;
CudaNetwork& CudaNetwork::operator=(CudaNetwork&&) noexcept = default;

void CudaNetwork::upload(const Network<float>& net) {
  impl_->engine->upload(net);
}

void CudaNetwork::download(Network<float>& net) const {
  impl_->engine->download(net, true);
}

namespace {

LossParts mean_loss(const cuda::StepTotals& t, int64_t rows) {
  LossParts lp;
  lp.data_loss = t.loss_sum / static_cast<double>(rows);
  lp.loss = lp.data_loss;
  lp.correct = t.correct;
  return lp;
}

}  // namespace

LossParts CudaNetwork::forward_backward(ConstView<float> x, const int32_t* y) {
  impl_->put(x, y);
  return mean_loss(impl_->engine->gradient_step(*impl_->data, x.rows), x.rows);
}

LossParts CudaNetwork::loss_only(ConstView<float> x, const int32_t* y) {
  impl_->put(x, y);
  return mean_loss(impl_->engine->evaluate(*impl_->data, x.rows), x.rows);
}

void CudaNetwork::optimizer_step(double lr, double l2) {
  impl_->engine->optimizer_step(lr, l2);
  impl_->engine->context().sync();
}

int64_t CudaNetwork::steps() const {
  return impl_->engine->steps();
}

const CudaOptions& CudaNetwork::options() const {
  return impl_->options;
}

std::string CudaNetwork::plan_summary(int64_t n) {
  return impl_->engine->plan_summary(n);
}

}  // namespace fcnet
