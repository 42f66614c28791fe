#include "fcnet/schedule.hpp"

#include <algorithm>
#include <cmath>

#include "core/names.hpp"
#include "fcnet/error.hpp"

namespace fcnet {

namespace {
constexpr const char* kScheduleNames[] = {"constant", "step", "exponential", "cosine", "plateau"};
constexpr detail::NameAlias kScheduleAliases[] = {{"exp", 2}};
}  // namespace

ScheduleKind parse_schedule(const std::string& name) {
  return static_cast<ScheduleKind>(
      detail::parse_name(kScheduleNames, name, "--schedule", "schedule", kScheduleAliases));
}

const char* schedule_name(ScheduleKind k) {
  return detail::name_at(kScheduleNames, static_cast<int>(k));
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
