// fcnet train's safety net: stop on SIGINT/SIGTERM, checkpoints, resuming, and keeping the last
// good weights when training diverges.
#pragma once

#include <atomic>
#include <string>

#include "cli.hpp"
#include "fcnet/checkpoint.hpp"

namespace fcnet::cli {

// "512,256", or "none" for no hidden layers.
std::string join_sizes(const std::vector<int64_t>& sizes);

// Installs SIGINT and SIGTERM handlers that set the returned flag (training stops after the
// current step); a second signal ends the process at once.
const std::atomic<bool>* install_stop_handlers();
// The signal that set the flag (0 when none).
int stop_signal();

// A file beside --out for another purpose: ("model.safetensors", "checkpoint") →
// "model.checkpoint.safetensors". An interrupted run without --checkpoint writes its checkpoint to
// the "checkpoint" one; a diverged run writes its last good weights to the "diverged" one.
std::string sibling_path(const std::string& out, const std::string& purpose);

// The CLI's part of a checkpoint: the data options, thread count and model path.
std::string checkpoint_app_json(const DataOptions& data, int threads, const std::string& out);

// Options left out of a resuming command line take the checkpoint's values: the data options and
// --out (call before loading data) and the training configuration and threads (call once the
// configuration is complete). Options given explicitly stay; train() refuses ones that do not fit.
void resume_options(const CLI::App& cmd, const TrainState& st, DataOptions& data, std::string& out);
void resume_config(const CLI::App& cmd, const TrainState& st, TrainConfig& cfg);

// Writes the last good weights of a diverged run beside `out` (sibling_path(out, "diverged")),
// leaving `out` itself as it was, and says so on stderr.
void save_diverged(const std::string& out, const TrainDiverged& e);

// After train(): when the run was interrupted, writes its checkpoint (unless the per-epoch
// callback already wrote it to --checkpoint), says how to resume and returns 130; else -1.
int finish_interrupted(const TrainResult& r, const std::string& checkpoint, const std::string& out,
                       const std::string& app_json);

}  // namespace fcnet::cli
