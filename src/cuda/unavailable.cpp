// The CUDA entry points of a build without FCNET_CUDA: each one throws fcnet::Error saying how to
// get a build that has them, so callers (the CLI's --device cuda, the tests) fail cleanly.
#include "fcnet/cuda.hpp"
#include "fcnet/step_engine.hpp"

namespace fcnet {

namespace {
[[noreturn]] void unavailable() {
  fail("cuda", "CUDA is not available: built without FCNET_CUDA",
       "a build configured with -DFCNET_CUDA=ON (make build-cuda)");
}
}  // namespace

bool cuda_built() {
  return false;
}

std::string cuda_devices_info() {
  unavailable();
}

std::unique_ptr<StepEngine> make_cuda_engine(const EngineSetup&) {
  unavailable();
}

struct CudaNetwork::Impl {};

CudaNetwork::CudaNetwork(const Network<float>&, const OptimizerConfig&, const CudaOptions&) {
  unavailable();
}
CudaNetwork::~CudaNetwork() = default;
CudaNetwork::CudaNetwork(CudaNetwork&&) noexcept = default;
CudaNetwork& CudaNetwork::operator=(CudaNetwork&&) noexcept = default;
void CudaNetwork::upload(const Network<float>&) {
  unavailable();
}
void CudaNetwork::download(Network<float>&) const {
  unavailable();
}
LossParts CudaNetwork::forward_backward(ConstView<float>, const int32_t*) {
  unavailable();
}
LossParts CudaNetwork::loss_only(ConstView<float>, const int32_t*) {
  unavailable();
}
void CudaNetwork::optimizer_step(double, double) {
  unavailable();
}
int64_t CudaNetwork::steps() const {
  unavailable();
}
const CudaOptions& CudaNetwork::options() const {
  unavailable();
}
std::string CudaNetwork::plan_summary(int64_t) {
  unavailable();
}

}  // namespace fcnet
