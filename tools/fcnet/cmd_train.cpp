// fcnet train: train a classifier and save it; evaluates on the test split when there is one.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <set>

#include "cli.hpp"
#include "fcnet/cuda.hpp"
#include "fcnet/train_options.hpp"
#include "fcnet/trainer.hpp"
#include "ranks.hpp"
#include "train_support.hpp"

namespace fcnet::cli {

namespace {

struct Options {
  DataOptions data = [] {
    DataOptions d;
    d.data = "fashion-mnist";
    return d;
  }();
  std::string test_data;
  std::string test_labels;
  // The text of each option of the table (fcnet/train_options.hpp), by flag.
  std::map<std::string, std::string> option;
  int threads = 0;
  std::string out = "fcnet-model.safetensors";
  std::string checkpoint;
  std::string resume;
  bool json = false;
  bool quiet = false;
  TrainReportOptions report;
};

// Training sets below this many rows are small: the auto settings below differ there.
constexpr int64_t kSmallDataRows = 20000;

// Epochs when --epochs is auto: 15 passes over 20,000 training rows or more; on fewer, enough
// passes for 2,000 optimizer steps (at least 15), since a few hundred rows give few steps each.
int64_t auto_epochs(int64_t n, int64_t batch) {
  const int64_t steps = std::max<int64_t>(1, (n + batch - 1) / std::max<int64_t>(1, batch));
  if (n >= kSmallDataRows) return 15;
  return std::max<int64_t>(15, (2000 + steps - 1) / steps);
}

// Hidden layers and dropout when --hidden and --dropout are auto: 512,256 without dropout on
// 20,000 training rows or more; on fewer, one layer of 100 (scikit-learn's default) with dropout
// 0.2, where the wider network, or no dropout, fits noise and tests worse (bench/small_data:
// docs/PERFORMANCE.md "Small tables").
std::vector<int64_t> auto_hidden(int64_t n) {
  if (n >= kSmallDataRows) return {512, 256};
  return {100};
}
// --class-weight: "balanced" gives class c the weight n / (C · n_c) over the training file (as
// scikit-learn's compute_class_weight; with ranks, `d` is this rank's share and the counts are
// those of all shares), "NAME=W,..." the weights named (others 1).
std::vector<double> class_weights(const std::string& spec, const Dataset& d, Collective* comm) {
  double classes_d = static_cast<double>(d.num_classes());
  if (comm) comm->max(&classes_d, 1);
  const auto classes = static_cast<int64_t>(classes_d);
  std::vector<double> w(static_cast<std::size_t>(classes), 1.0);
  if (spec == "balanced") {
    std::vector<double> count(w.size() + 1, 0.0);  // per class, then the examples
    for (int32_t y : d.labels) count[static_cast<std::size_t>(y)] += 1;
    count.back() = static_cast<double>(d.n);
    if (comm) comm->sum(count.data(), static_cast<int64_t>(count.size()));
    for (std::size_t k = 0; k < w.size(); ++k)
      if (count[k] > 0) w[k] = count.back() / (static_cast<double>(classes) * count[k]);
    return w;
  }
  std::vector<char> named(w.size(), 0);
  for (const auto& item : comma_list(spec)) {
    const std::size_t eq = item.rfind('=');
    double v = -1;
    std::size_t used = 0;
    if (eq != std::string::npos && eq + 1 < item.size()) try {
        v = std::stod(item.substr(eq + 1), &used);
      } catch (const std::exception&) {
        used = 0;
      }
    if (eq == std::string::npos || used != item.size() - eq - 1 || !(v >= 0) || !std::isfinite(v))
      throw CLI::ValidationError("--class-weight", "'" + item +
                                                       "' is not NAME=W with W a number >= 0 "
                                                       "(or use balanced)");
    const int64_t k =
        class_index(item.substr(0, eq), d.class_names, classes, "--class-weight", "the data");
    if (named[static_cast<std::size_t>(k)])
      throw CLI::ValidationError("--class-weight", "names class '" + item.substr(0, eq) +
                                                       "' twice (give each class one weight)");
    named[static_cast<std::size_t>(k)] = 1;
    w[static_cast<std::size_t>(k)] = v;
  }
  return w;
}

// How --help shows the value an option takes.
const char* type_name(OptionType t) {
  switch (t) {
    case OptionType::number:
      return "FLOAT";
    case OptionType::integer:
    case OptionType::seed:
      return "INT";
    case OptionType::widths:
      return "INT,...";
    case OptionType::numbers:
    case OptionType::name:
    case OptionType::boolean:
      break;
  }
  return "TEXT";
}

double auto_dropout(int64_t n) {
  return n >= kSmallDataRows ? 0.0 : 0.2;
}

class Progress {
 public:
  explicit Progress(bool quiet) : tty_(!quiet && ::isatty(STDERR_FILENO)), quiet_(quiet) {}
  void step(const TrainProgress& p) {
    if (!tty_) return;
    const auto now = std::chrono::steady_clock::now();
    if (p.step != p.steps && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    const int width = 28;
    const int done = static_cast<int>(width * p.step / std::max<int64_t>(1, p.steps));
    std::string bar(static_cast<std::size_t>(done), '#');
    bar.resize(width, '.');
    const double eta = p.seconds / std::max<int64_t>(1, p.step) * (p.steps - p.step);
    std::fprintf(stderr,
                 "\r\033[Kepoch %lld/%lld [%s] %3d%%  %.0f ex/s  loss %.4f  acc %.4f  ETA %.0fs",
                 static_cast<long long>(p.epoch), static_cast<long long>(p.epochs), bar.c_str(),
                 static_cast<int>(100 * p.step / std::max<int64_t>(1, p.steps)),
                 p.examples_per_second, p.loss, p.accuracy, eta);
  }
  void epoch(const EpochRecord& r, int64_t epochs) {
    if (quiet_) return;
    if (tty_) std::fputs("\r\033[K", stderr);
    std::string val;
    if (std::isfinite(r.val_accuracy)) {
      char b[96];
      std::snprintf(b, sizeof b, "  val_loss %.4f  val_acc %.4f", r.val_loss, r.val_accuracy);
      val = b;
    }
    log("epoch %lld/%lld  loss %.4f  acc %.4f%s  lr %.3g  %.2fs (%.0f ex/s)",
        static_cast<long long>(r.epoch), static_cast<long long>(epochs), r.train_loss,
        r.train_accuracy, val.c_str(), r.lr, r.seconds, r.examples / std::max(1e-9, r.seconds));
  }

 private:
  bool tty_;
  bool quiet_;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace

Command add_train(CLI::App& app) {
  auto o = std::make_shared<Options>();
  CLI::App* c = app.add_subcommand("train", "Train a classifier (default: Fashion-MNIST)");
  add_data_options(c, o->data, false,
                   "Training data: fashion-mnist (default), IDX (raw/gzip), CSV or NPY; a,b,c: "
                   "shard files, concatenated (split over the ranks under mpirun: docs/mpi.md)",
                   true);
  c->add_option("--test-data", o->test_data,
                "Test data evaluated after training (default: Fashion-MNIST's test split when "
                "training on it; 'none' to skip)");
  c->add_option("--test-labels", o->test_labels, "Label file for --test-data");
  // The training options, as the table describes them; then --threads, which is the process's.
  for (const TrainOption& t : train_options()) {
    if (!t.flag[0] || !t.help[0]) continue;  // no flag, or one that another row declares
    std::string& text = o->option[t.flag];
    text = option_default_text(t);
    CLI::Option* opt = c->add_option(t.flag, text, t.help)->type_name(type_name(t.type));
    if (!text.empty()) opt->capture_default_str();
  }
  c->add_option("--threads", o->threads, "Threads (default: one per core)")->check(kThreads);
  c->add_option("--out", o->out, "Model file to write")->capture_default_str();
  c->add_option("--checkpoint", o->checkpoint,
                "Save the full training state here after every epoch (and on Ctrl-C)");
  c->add_option("--resume", o->resume,
                "Continue the run saved in this checkpoint; options not given are taken from it");
  c->add_flag("--json", o->json, "Print one JSON object on stdout");
  c->add_flag("--quiet,-q", o->quiet, "No progress output");
  add_train_report_options(c, o->report);

  // Under mpirun every rank runs this with its share of the data (see ranks.hpp); rank 0 alone
  // logs, evaluates the test set and writes files (model, checkpoints, report).
  return {
      c, with_ranks([o, c](Ranks& ranks) {
        const bool lead = ranks.leader(), quiet = o->quiet || !lead;
        // The table's options as given or by default, checked before any data loads. Those
        // left at auto (hidden widths, dropout, epochs) are worked out from the data below, as
        // is --class-weight.
        TrainConfig cfg;
        std::set<std::string> automatic;
        option_value([&] {
          for (const TrainOption& t : train_options()) {
            if (!t.flag[0] || !t.help[0] || t.flag == std::string("--class-weight")) continue;
            const std::string& text = o->option.at(t.flag);
            if (t.worked_out_from_data() && text == "auto")
              automatic.insert(t.key);
            else
              set_option(t, cfg, option_value_of_text(t, text), t.flag);
          }
          check_config(cfg);
          return 0;
        });
        const bool cuda = cfg.device == Device::cuda;
        if (cuda) (void)cuda_devices_info();  // no device: fail before loading any data
        if (cfg.patience > 0 && cfg.val_split <= 0 && cfg.monitor != Monitor::train_loss)
          throw CLI::ValidationError("--patience",
                                     "needs a validation split (--val-split F) or --monitor "
                                     "train_loss");
        set_num_threads(o->threads);

        // Everything checkable is checked before training starts.
        std::unique_ptr<TrainState> resume;
        if (!o->resume.empty()) {  // every rank loads it: the state is the same on all
          resume = std::make_unique<TrainState>(load_checkpoint(o->resume));
          resume_options(*c, *resume, o->data, o->out);
          // A resumed run goes on checkpointing into the file it resumed from, unless told
          // otherwise, so a later interruption or crash loses no more than one epoch again.
          if (o->checkpoint.empty()) o->checkpoint = o->resume;
        }
        if (lead) {
          check_writable(o->out);
          if (!o->checkpoint.empty()) check_writable(o->checkpoint);
        }
        std::string test_src = o->test_data;
        const bool fmnist = o->data.data.rfind("fashion-mnist", 0) == 0;
        if (test_src.empty() && fmnist) test_src = "fashion-mnist:test";
        if (ranks.size() > 1 && !o->report.path.empty() && (test_src.empty() || test_src == "none"))
          throw CLI::ValidationError("--report",
                                     "with several ranks needs --test-data (rank 0 holds only "
                                     "its share of the training data)");
        // A resumed run reads its data as the checkpoint's model encoded it.
        if (resume && !resume->model.schema.empty()) {
          o->data.schema = &resume->model.schema;
          o->data.index_labels = resume->model.class_names.empty();
        }
        Dataset train_data = ranks.load_share(o->data, "train");
        prepare_train_report(o->report, train_data);
        Dataset test_data;
        const bool has_test = lead && !test_src.empty() && test_src != "none";
        if (has_test) {
          // The test file is read as the training file was: same dialect options, and its
          // columns encoded by the training file's schema.
          DataOptions t = o->data;
          t.data = test_src;
          t.weight_col.clear();  // the test file need not have the training weights
          t.labels = o->test_labels;
          t.schema = train_data.schema.empty() ? nullptr : &train_data.schema;
          t.index_labels = train_data.class_names.empty();
          test_data = load_data(t, "test", true, train_data.class_names);
          report_unseen(test_data);
          if (test_data.d != train_data.d)
            throw Error(test_data.source + ": has " + std::to_string(test_data.d) +
                        " features per example, expected " + std::to_string(train_data.d) +
                        " like the training data");
        }
        const int64_t n_all = ranks.total_examples();
        const int64_t n_train = n_all - val_count(cfg, n_all);
        if (automatic.count("epochs"))
          cfg.epochs = auto_epochs(n_train, std::min(cfg.batch, n_train));
        if (automatic.count("hidden")) cfg.hidden = auto_hidden(n_train);
        if (automatic.count("dropout")) cfg.dropout = auto_dropout(n_train);
        if (const std::string& spec = o->option.at("--class-weight"); !spec.empty()) {
          cfg.class_weights = class_weights(spec, train_data, ranks.parallel().comm);
          option_value([&] {  // a usage error, as the other options' checks
            check_config(cfg);
            return 0;
          });
        }
        if (resume) resume_config(*c, *resume, cfg);
        // With ranks train() runs these checks on the whole data set (this rank holds a share).
        if (!ranks.mpi()) check_training(train_data, cfg, resume.get());

        // A table names its label column, which the defaults may have chosen.
        const std::string label_col = train_data.schema.label.empty()
                                          ? std::string()
                                          : " (label column '" + train_data.schema.label + "')";
        if (!quiet)
          log("training %s on %s%s: %lld examples x %lld features, %lld epochs, batch %lld, %s, "
              "%d threads%s",
              join_sizes(cfg.hidden).c_str(), train_data.source.c_str(), label_col.c_str(),
              static_cast<long long>(n_all), static_cast<long long>(train_data.d),
              static_cast<long long>(cfg.epochs), static_cast<long long>(cfg.batch),
              optimizer_name(cfg.optimizer.kind), num_threads(),
              ranks.mpi() ? (" x " + std::to_string(ranks.size()) + " ranks").c_str() : "");
        Progress progress(quiet);
        TrainCallbacks cb;
        cb.parallel = ranks.parallel();
        cb.on_step = [&](const TrainProgress& p) { progress.step(p); };
        cb.on_epoch = [&](const EpochRecord& r) { progress.epoch(r, cfg.epochs); };
        const std::string app_json = checkpoint_app_json(o->data, num_threads(), o->out);
        if (lead && !o->checkpoint.empty())
          cb.on_checkpoint = [&](const TrainState& s) {
            save_checkpoint(o->checkpoint, s, app_json);
          };
        cb.stop = install_stop_handlers();
        TrainResult r;
        try {
          r = train(train_data, nullptr, cfg, cb, resume.get());
        } catch (const TrainDiverged& e) {
          if (lead) save_diverged(o->out, e);
          throw;
        }
        if (!lead) return r.interrupted ? 130 : 0;
        if (int code = finish_interrupted(r, o->checkpoint, o->out, app_json); code >= 0)
          return code;

        json out;
        json epochs_j = json::array();
        for (const auto& e : r.epochs) epochs_j.push_back(json::parse(epoch_json_text(e)));
        out["epochs"] = epochs_j;
        out["seconds"] = r.seconds;
        out["steps"] = r.steps;
        out["train_examples"] = r.train_examples;
        out["best_epoch"] = r.best_epoch;
        out["stopped_early"] = r.stopped_early;
        if (ranks.mpi()) {
          out["ranks"] = ranks.size();
          out["allreduce_seconds"] = ranks.sum_seconds();  // rank 0's time in MPI sums
        }
        if (r.val_examples > 0) {
          double best = 0;
          for (const auto& e : r.epochs)
            if (e.epoch == r.best_epoch) best = e.val_accuracy;
          out["val_accuracy"] = best;
          out["val_examples"] = r.val_examples;
        }
        // The test evaluation, with the probabilities when the report will need them.
        EvalResult ev;
        Matrix<double> test_probs;
        const bool report = !o->report.path.empty();
        if (has_test) {
          const auto t0 = std::chrono::steady_clock::now();
          // At the run's GEMM precision on the CPU (a device run's model is evaluated here in f32).
          // A test example beyond the model's range makes the test loss NaN, not the run lost.
          ev = evaluate(r.model, test_data, 1000, report ? &test_probs : nullptr,
                        cfg.device == Device::cuda ? Precision::fp32 : cfg.precision, false);
          if (!std::isfinite(ev.loss))
            log("fcnet: %s: the model's output is not finite for some examples (fcnet eval "
                "names the first)",
                test_data.source.c_str());
          const double secs =
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          out["test_accuracy"] = ev.accuracy;
          out["test_loss"] = ev.loss;
          out["test_examples"] = ev.n;
          out["test_seconds"] = secs;
          auto tj = json::parse(r.model.training_json);
          tj["test_accuracy"] = ev.accuracy;
          tj["test_loss"] = ev.loss;
          tj["test_data"] = test_data.source;
          r.model.training_json = json_text(tj);
          if (!o->quiet)
            log("test accuracy %.4f (loss %.4f) on %lld examples of %s", ev.accuracy, ev.loss,
                static_cast<long long>(ev.n), test_data.source.c_str());
        }
        // A signal that came after the last step (during the test evaluation) still stops the
        // run before anything is written: the final state goes to the checkpoint, --out stays.
        if (cb.stop && cb.stop->load()) {
          r.interrupted = true;
          if (!o->checkpoint.empty()) save_checkpoint(o->checkpoint, *r.state, app_json);
          return finish_interrupted(r, o->checkpoint, o->out, app_json);
        }
        // The report first: a run whose report cannot be written fails without writing --out.
        const std::string report_path =
            write_train_report(o->report, r, train_data, has_test ? &test_data : nullptr, o->quiet,
                               has_test ? &ev : nullptr, has_test ? &test_probs : nullptr);
        save_model(o->out, r.model);
        out["model"] = o->out;
        if (!report_path.empty()) out["report"] = report_path;
        if (!o->quiet)
          log("trained in %.1fs (%lld steps); model saved to %s", r.seconds,
              static_cast<long long>(r.steps), o->out.c_str());
        if (o->json) print_json(out);
        return 0;
      })};
}

}  // namespace fcnet::cli
