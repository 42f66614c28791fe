// Learning-rate schedules: the learning rate of every optimizer step.
#pragma once

#include <cstdint>
#include <string>

namespace fcnet {

// Decay happens per epoch as CS231n's learning_rate_decay (exponential: lr·decay^epoch; step:
// lr·decay^⌊epoch/step_epochs⌋); cosine anneals per step from lr to min_lr over the run. An
// optional linear warmup ramps from lr/warmup_steps to lr over the first steps.
// plateau: constant here; the trainer multiplies the rate by `decay` after every
// TrainConfig::plateau_patience epochs without a better monitored value (ReduceLROnPlateau).
enum class ScheduleKind { constant, step, exponential, cosine, plateau };
ScheduleKind parse_schedule(const std::string& name);
const char* schedule_name(ScheduleKind k);

struct Schedule {
  ScheduleKind kind = ScheduleKind::constant;
  double lr = 1e-3;
  double decay = 0.95;       // step and exponential
  int64_t step_epochs = 10;  // step
  double min_lr = 0.0;       // cosine floor
  int64_t warmup_steps = 0;
  int64_t steps_per_epoch = 1;
  int64_t total_steps = 1;  // cosine horizon

  // Learning rate for optimizer step `step` (0-based).
  double at(int64_t step) const;
};

}  // namespace fcnet
