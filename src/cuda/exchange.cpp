#include "exchange.hpp"

#include <cuda_runtime_api.h>

#include <cstring>
#include <exception>
#include <string>

#include "fcnet/error.hpp"
#include "train/data_parallel.hpp"

#if FCNET_HAVE_NCCL
#include <nccl.h>
#endif

namespace fcnet::cuda {

namespace {

detail::DeviceId device_id(int device) {
  cudaDeviceProp prop{};
  FCNET_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  detail::DeviceId id{};
  static_assert(sizeof(prop.uuid.bytes) == sizeof(id));
  std::memcpy(id.data(), prop.uuid.bytes, id.size());
  return id;
}

}  // namespace

#if FCNET_HAVE_NCCL

bool nccl_built() {
  return true;
}

struct GradientSum::Nccl {
  ncclComm_t comm = nullptr;
  ~Nccl() {
    if (!comm) return;
    // Leaving because of an error, the other ranks may never reach their part of a destroy:
    // abort instead of waiting for them.
    if (std::uncaught_exceptions() > 0)
      ncclCommAbort(comm);
    else
      ncclCommDestroy(comm);
  }
};

namespace {

[[noreturn]] void fail_nccl(ncclResult_t r, const char* call) {
  fail("NCCL", std::string(call) + " failed: " + ncclGetErrorString(r), "a working NCCL");
}

// Rank 0's unique id, created there and broadcast, with whether creating it worked (so that
// every rank fails together instead of waiting for a communicator that never comes).
struct IdMessage {
  int32_t ok = 0;
  ncclUniqueId id{};
};

}  // namespace

#else

bool nccl_built() {
  return false;
}

struct GradientSum::Nccl {};

#endif

GradientSum::GradientSum(Collective& comm, const Context& ctx) : comm_(comm), ctx_(ctx) {
  // Decided over the ranks, the same on every one: NCCL when every rank's build has it and every
  // rank trains on a device of its own.
  const bool own = detail::every_rank_has_own_device(comm, device_id(ctx.device()));
  double missing = nccl_built() ? 0.0 : 1.0;
  comm.max(&missing, 1);
  if (!own || missing > 0) return;
#if FCNET_HAVE_NCCL
  IdMessage msg;
  if (comm.rank() == 0) msg.ok = ncclGetUniqueId(&msg.id) == ncclSuccess ? 1 : 0;
  comm.broadcast(&msg, static_cast<int64_t>(sizeof msg), 0);
  if (!msg.ok)
    fail("NCCL", "rank 0 could not create the communicator's id (ncclGetUniqueId)",
         "a working NCCL");
  FCNET_CUDA_CHECK(cudaSetDevice(ctx.device()));
  auto n = std::make_unique<Nccl>();
  const ncclResult_t r = ncclCommInitRank(&n->comm, comm.size(), msg.id, comm.rank());
  if (r != ncclSuccess) {
    n->comm = nullptr;
    fail_nccl(r, "ncclCommInitRank");
  }
  nccl_ = std::move(n);
#endif
}

GradientSum::~GradientSum() = default;

void GradientSum::sum(float* v, int64_t n) {
  if (n <= 0) return;
#if FCNET_HAVE_NCCL
  if (nccl_) {
    const ncclResult_t r = ncclAllReduce(v, v, static_cast<std::size_t>(n), ncclFloat, ncclSum,
                                         nccl_->comm, ctx_.stream());
    if (r != ncclSuccess) fail_nccl(r, "ncclAllReduce");
    return;
  }
#endif
  const auto bytes = static_cast<std::size_t>(n) * sizeof(float);
  host_.resize(static_cast<std::size_t>(n));
  ctx_.download(host_.data(), v, bytes);  // waits for the step's gradients
  comm_.sum(host_.data(), n);
  ctx_.upload(v, host_.data(), bytes);
}

}  // namespace fcnet::cuda
