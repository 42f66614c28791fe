#include "fcnet/schedule.hpp"

#include <algorithm>
#include <cmath>

#include "fcnet/error.hpp"

namespace fcnet {

ScheduleKind parse_schedule(const std::string& name) {
  if (name == "constant") return ScheduleKind::constant;
  if (name == "step") return ScheduleKind::step;
  if (name == "exponential" || name == "exp") return ScheduleKind::exponential;
  if (name == "cosine") return ScheduleKind::cosine;
  if (name == "plateau") return ScheduleKind::plateau;
  fail("--schedule", "unknown schedule '" + name + "'",
       "one of constant, step, exponential, cosine, plateau");
}

const char* schedule_name(ScheduleKind k) {
  switch (k) {
    case ScheduleKind::constant:
      return "constant";
    case ScheduleKind::step:
      return "step";
    case ScheduleKind::exponential:
      return "exponential";
    case ScheduleKind::cosine:
      return "cosine";
    case ScheduleKind::plateau:
      return "plateau";
  }
  return "?";
}

double Schedule::at(int64_t step) const {
  if (warmup_steps > 0 && step < warmup_steps)
    return lr * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
  const int64_t epoch = step / std::max<int64_t>(1, steps_per_epoch);
  switch (kind) {
    case ScheduleKind::constant:
    case ScheduleKind::plateau:
      return lr;
    case ScheduleKind::exponential:
      return lr * std::pow(decay, static_cast<double>(epoch));
    case ScheduleKind::step:
      return lr * std::pow(decay, static_cast<double>(epoch / std::max<int64_t>(1, step_epochs)));
    case ScheduleKind::cosine: {
      const double span = static_cast<double>(std::max<int64_t>(1, total_steps - warmup_steps));
      const double progress = std::min(1.0, static_cast<double>(step - warmup_steps) / span);
      return min_lr + 0.5 * (lr - min_lr) * (1.0 + std::cos(M_PI * progress));
    }
  }
  return lr;
}

}  // namespace fcnet
