#include "train_support.hpp"

#include <pthread.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <thread>

#include "fcnet/train_options.hpp"

namespace fcnet::cli {

namespace {

std::atomic<bool> g_stop{false};
volatile std::sig_atomic_t g_signal = 0;

extern "C" void on_stop_signal(int sig) {
  if (g_stop.load()) {
    // Second signal: give up at once, with the signal's default action.
    std::signal(sig, SIG_DFL);
    std::raise(sig);
    return;
  }
  g_signal = sig;
  g_stop.store(true);
  static const char msg[] =
      "\nfcnet: stopping after the current step to write a checkpoint (again to abort)\n";
  const ssize_t ignored = ::write(STDERR_FILENO, msg, sizeof msg - 1);
  (void)ignored;
}

static_assert(std::atomic<bool>::is_always_lock_free, "the stop flag is set in a signal handler");

}  // namespace

std::string join_sizes(const std::vector<int64_t>& sizes) {
  if (sizes.empty()) return "none";
  std::string s;
  for (std::size_t i = 0; i < sizes.size(); ++i) s += (i ? "," : "") + std::to_string(sizes[i]);
  return s;
}

// SIGINT and SIGTERM are blocked in the training thread (and in every thread it starts later) and
// taken by a dedicated thread with sigwait, so no handler ever runs on top of the compute kernels:
// a handler frame pushed onto the stack of JIT-generated GEMM code can clobber data that code keeps
// below its stack pointer. The handler above stays installed for threads that existed before and
// do not block the signals.
const std::atomic<bool>* install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  static bool started = false;
  if (!started) {
    started = true;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::thread([set] {
      for (;;) {
        int sig = 0;
        if (::sigwait(&set, &sig) != 0) continue;
        if (g_stop.load()) {
          // Second signal: give up at once, with the signal's default action.
          std::signal(sig, SIG_DFL);
          ::pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
          std::raise(sig);
          continue;
        }
        on_stop_signal(sig);
      }
    }).detach();
  }
  return &g_stop;
}

int stop_signal() {
  return g_signal;
}

std::string sibling_path(const std::string& out, const std::string& purpose) {
  const std::string ext = ".safetensors";
  if (out.size() > ext.size() && out.compare(out.size() - ext.size(), ext.size(), ext) == 0)
    return out.substr(0, out.size() - ext.size()) + "." + purpose + ext;
  return out + "." + purpose + ext;
}

std::string checkpoint_app_json(const DataOptions& data, int threads, const std::string& out) {
  json j;
  j["out"] = out;
  j["data"] = data.data;
  j["labels"] = data.labels;
  j["label_col"] = data.label_col;
  j["weight_col"] = data.weight_col;
  j["threads"] = threads;
  return json_text(j);
}

namespace {

json app_of(const TrainState& st) {
  try {
    json j = json::parse(st.app_json.empty() ? "{}" : st.app_json);
    if (j.is_object()) return j;
  } catch (const json::exception&) {
  }
  return json::object();
}

std::string str_of(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

void resume_options(const CLI::App& cmd, const TrainState& st, DataOptions& data,
                    std::string& out) {
  const json app = app_of(st);
  if (cmd.count("--out") == 0 && !str_of(app, "out").empty()) out = str_of(app, "out");
  if (cmd.count("--data") > 0) return;  // other data: its label options are the command line's
  const std::string src = str_of(app, "data");
  data.data = src.empty() ? st.data_source : src;
  if (cmd.count("--labels") == 0) data.labels = str_of(app, "labels");
  if (cmd.count("--label-col") == 0) data.label_col = str_of(app, "label_col");
  if (cmd.count("--weight-col") == 0) data.weight_col = str_of(app, "weight_col");
}

void resume_config(const CLI::App& cmd, const TrainState& st, TrainConfig& cfg) {
  merge_resumed_options(cfg, st.config,
                        [&](const std::string& flag) { return cmd.count(flag) > 0; });
  auto keep = [&](const char* opt) { return cmd.count(opt) > 0; };
  if (!keep("--threads")) {
    const json app = app_of(st);
    auto it = app.find("threads");
    if (it != app.end() && it->is_number_integer() && it->get<int64_t>() != 0) {
      const int64_t n = it->get<int64_t>();
      if (n < 1 || n > max_threads())
        fail(st.origin.empty() ? "checkpoint" : st.origin,
             "records a run on " + std::to_string(n) + " threads",
             "1 to " + std::to_string(max_threads()) + " (give --threads N to override)");
      set_num_threads(static_cast<int>(n));
    }
  }
}

void save_diverged(const std::string& out, const TrainDiverged& e) {
  const TrainResult& r = *e.result;
  const std::string path = sibling_path(out, "diverged");
  save_model(path, r.model);
  const std::string when =
      r.epochs.empty() ? std::string("the initial weights")
                       : "the weights from the end of epoch " + std::to_string(r.epochs.size());
  log("fcnet: kept the last good weights (%s) in %s; %s was left as it was", when.c_str(),
      path.c_str(), out.c_str());
}

int finish_interrupted(const TrainResult& r, const std::string& checkpoint, const std::string& out,
                       const std::string& app_json) {
  if (!r.interrupted) return -1;
  const std::string path = checkpoint.empty() ? sibling_path(out, "checkpoint") : checkpoint;
  if (checkpoint.empty()) save_checkpoint(path, *r.state, app_json);
  const int sig = stop_signal();
  const TrainState& s = *r.state;
  const char* by = sig == SIGINT    ? " by SIGINT"
                   : sig == SIGTERM ? " by SIGTERM"
                   : sig            ? " by a signal"
                                    : "";
  if (s.epoch > s.config.epochs)  // every epoch ran: the stop came during the final evaluation
    log("fcnet: interrupted%s after training finished (before the model was written); the "
        "trained state is in %s; write the model with: fcnet train --resume %s",
        by, path.c_str(), path.c_str());
  else
    log("fcnet: interrupted%s at epoch %lld, step %lld; checkpoint saved to %s; continue with: "
        "fcnet train --resume %s",
        by, static_cast<long long>(s.epoch), static_cast<long long>(s.step_in_epoch), path.c_str(),
        path.c_str());
  return 130;
}

}  // namespace fcnet::cli
