// The processes of a data-parallel run, as the trainer and the input transform's fit see them.
#pragma once

#include <cstdint>

namespace fcnet {

// The processes of a data-parallel training run (MPI ranks, or threads in tests). Every rank calls
// the same methods in the same order with buffers of the same length; each call returns the same
// values on every rank.
class Collective {
 public:
  virtual ~Collective() = default;
  virtual int rank() const = 0;  // 0..size()-1
  virtual int size() const = 0;
  // Element-wise sum (max) over all ranks, in place.
  virtual void sum(float* v, int64_t n) = 0;
  virtual void sum(double* v, int64_t n) = 0;
  virtual void max(double* v, int64_t n) = 0;
  // Copies `bytes` bytes from rank `root`'s buffer into every other rank's (an identifier one
  // rank creates, such as the NCCL communicator's).
  virtual void broadcast(void* data, int64_t bytes, int root) = 0;
};

}  // namespace fcnet
