// The training report of a model: ReportData from a Model, its history and an evaluation set.
#include "fcnet/training_report.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <numeric>
#include <string>
#include <vector>

#include "fcnet/error.hpp"
#include "fcnet/metrics.hpp"
#include "fcnet/random.hpp"
#include "report/text.hpp"
#include "train/history.hpp"

namespace fcnet {

namespace {

using nlohmann::json;
using report_detail::format_duration;
using report_detail::format_general;
using report_detail::format_percent;

// 535818 → "535,818".
std::string with_commas(int64_t v) {
  std::string digits = std::to_string(v < 0 ? -v : v), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return (v < 0 ? "-" : "") + out;
}

json parse_training(const Model& m) {
  if (m.training_json.empty()) return json::object();
  try {
    json j = json::parse(m.training_json);
    return j.is_object() ? j : json::object();
  } catch (const json::exception&) {
    fail("model metadata", "training is not valid JSON", "a JSON object");
  }
}

// Value of key as a number, NaN when absent or not a number.
double num(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : kReportMissing;
}
std::string str(const json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
}
// A chosen value printed as given ("0.001", "1e-05", "128").
std::string value(const json& j, const char* key) {
  const double v = num(j, key);
  return std::isfinite(v) ? format_general(v, 6) : str(j, key);
}

std::string architecture(const Model& m) {
  std::string a;
  for (int64_t s : m.sizes()) a += (a.empty() ? "" : " \u2192 ") + std::to_string(s);
  return a;
}

std::string describe_transform(const InputTransform& t) {
  if (t.identity()) return "none (raw values)";
  std::string s;
  if (t.scale != 1.0)
    s = std::fabs(t.scale * 255.0 - 1.0) < 1e-9 ? "x / 255"
                                                : "x \u00b7 " + format_general(t.scale, 6);
  if (!t.mean.empty() || !t.std.empty())
    s += std::string(s.empty() ? "" : ", then ") +
         "standardized per feature with the training data's mean and standard deviation";
  return s;
}

std::vector<std::pair<std::string, std::string>> summary_lines(const ReportInputs& in,
                                                               const json& t, const EvalResult* ev,
                                                               const std::vector<int64_t>& image) {
  const Model& m = *in.model;
  std::vector<std::pair<std::string, std::string>> lines;

  // Data.
  std::string data = str(t, "data");
  {
    std::string v = data.empty() ? "unknown (the model has no training metadata)" : data;
    const double tr = num(t, "train_examples"), va = num(t, "val_examples");
    if (std::isfinite(tr)) {
      v += "\n" + with_commas(static_cast<int64_t>(tr)) + " training examples";
      if (std::isfinite(va) && va > 0)
        v += ", " + with_commas(static_cast<int64_t>(va)) + " held out for validation" +
             (std::isfinite(num(t, "val_split")) && num(t, "val_split") > 0
                  ? " (" + format_percent(num(t, "val_split"), 0) + ")"
                  : "");
    }
    v += "\n" + with_commas(m.input_dim()) + " features";
    if (image.size() == 2)
      v += " (" + std::to_string(image[0]) + "\u00d7" + std::to_string(image[1]) + " images)";
    v += ", " + std::to_string(m.num_classes()) + " classes";
    if (!m.class_names.empty()) {
      std::string names;
      for (const auto& n : m.class_names) names += (names.empty() ? "" : ", ") + n;
      v += ": " + names;
    }
    lines.emplace_back("Data", v);
  }
  if (!m.schema.empty()) {
    std::string v = std::to_string(m.schema.columns.size()) + " columns -> " +
                    std::to_string(m.schema.width()) + " features" +
                    (m.schema.label.empty() ? "" : "; label " + m.schema.label) +
                    (m.schema.id.empty() ? "" : "; id " + m.schema.id);
    for (const auto& c : m.schema.columns) v += "\n" + c.name + ": " + c.describe();
    lines.emplace_back("Columns", v);
  }

  // Network.
  {
    const auto act = m.activation();
    std::string v = architecture(m);
    if (m.sizes().size() > 2) {
      v += ", " + std::string(activation_name(act.kind));
      if (act.kind == Activation::leaky_relu) v += " (\u03b1 " + format_general(act.alpha, 3) + ")";
      v += " hidden layers";
    } else {
      v += " (softmax regression: no hidden layer)";
    }
    v += std::string(m.sizes().size() > 2 ? ", softmax output" : "") + "\n" +
         with_commas(m.num_params()) + " parameters, " + (m.f64 ? "float64" : "float32");
    lines.emplace_back("Network", v);
    lines.emplace_back("Input transform", describe_transform(m.transform));
  }

  if (!t.empty()) {
    std::string opt = str(t, "optimizer");
    if (!opt.empty()) {
      std::string v = opt + ", learning rate " + value(t, "lr");
      const std::string sched = str(t, "schedule");
      if (!sched.empty()) {
        v += ", " + sched + " schedule";
        if ((sched == "step" || sched == "exponential") && std::isfinite(num(t, "lr_decay")))
          v += " (decay " + value(t, "lr_decay") + ")";
      }
      if (num(t, "warmup_epochs") > 0) v += ", " + value(t, "warmup_epochs") + " warmup epochs";
      if (std::isfinite(num(t, "batch"))) v += "\nminibatch " + value(t, "batch");
      lines.emplace_back("Optimizer", v);
    }
    std::string reg;
    if (std::isfinite(num(t, "reg"))) reg = "L2 reg " + value(t, "reg") + " (weights only)";
    if (std::isfinite(num(t, "dropout")))
      reg += (reg.empty() ? "" : ", ") + std::string("dropout ") + value(t, "dropout");
    if (num(t, "patience") > 0)
      reg += (reg.empty() ? "" : ", ") + std::string("early stopping after ") +
             value(t, "patience") + " epochs without a better validation accuracy";
    if (!reg.empty()) lines.emplace_back("Regularization", reg);
    std::string init = str(t, "init");
    if (!init.empty() || !str(t, "seed").empty())
      lines.emplace_back("Initialization",
                         (init.empty() ? std::string("?") : init) + ", seed " + str(t, "seed"));
  }

  // Time.
  {
    int64_t steps = 0;
    double seconds = 0;
    for (const auto& e : in.epochs)
      steps += e.steps, seconds += std::isfinite(e.seconds) ? e.seconds : 0;
    if (std::isfinite(num(t, "seconds"))) seconds = num(t, "seconds");
    std::string v;
    const double planned = num(t, "epochs");
    const auto run = static_cast<int64_t>(in.epochs.size());
    if (run > 0) {
      v = std::to_string(run) + (std::isfinite(planned) && planned != static_cast<double>(run)
                                     ? " of " + value(t, "epochs") + " epochs"
                                 : run == 1 ? " epoch"
                                            : " epochs");
      if (steps > 0) v += ", " + with_commas(steps) + " optimizer steps";
    }
    if (seconds > 0) v += (v.empty() ? "" : ", ") + format_duration(seconds) + " of training";
    const double best = num(t, "best_epoch");
    if (std::isfinite(best) && num(t, "val_examples") > 0)
      v += "\nthe model holds the weights of epoch " + value(t, "best_epoch") +
           " (best validation accuracy)";
    if (!v.empty()) lines.emplace_back("Training", v);
  }

  // Final accuracies.
  {
    std::string v;
    auto add = [&](const std::string& what, double acc, const std::string& detail) {
      if (!std::isfinite(acc)) return;
      v += (v.empty() ? "" : "\n") + what + " " + format_percent(acc, 2) + detail;
    };
    const double train_acc =
        in.epochs.empty() ? num(t, "final_train_accuracy") : in.epochs.back().train_accuracy;
    add("train", train_acc, " (running mean over the last epoch)");
    double best_val = kReportMissing;
    for (const auto& e : in.epochs)
      if (std::isfinite(e.val_accuracy) && !(e.val_accuracy <= best_val)) best_val = e.val_accuracy;
    if (!std::isfinite(best_val)) best_val = num(t, "final_val_accuracy");
    add("validation", best_val, " (best epoch)");
    const std::string test_data = str(t, "test_data");
    if (!(ev && ev->n > 0 && in.eval->source == test_data))
      add("test", num(t, "test_accuracy"), test_data.empty() ? "" : " on " + test_data);
    if (ev && ev->n > 0)
      add(in.eval_split + " (this report)", ev->accuracy,
          " on " + with_commas(ev->n) + " examples of " + in.eval->source + ", loss " +
              format_general(ev->loss, 4));
    if (!v.empty()) lines.emplace_back("Accuracy", v);
  }
  for (const auto& l : in.extra_summary) lines.push_back(l);
  return lines;
}

// Pixels of example i in 0..1 for display: uint8 / 255, other types scaled to the example's own
// range.
std::vector<float> display_pixels(const Dataset& d, int64_t i) {
  std::vector<float> px(static_cast<std::size_t>(d.d));
  const uint8_t* row = d.row_bytes(i);
  std::vector<double> v(px.size());
  for (int64_t j = 0; j < d.d; ++j) {
    switch (d.dtype) {
      case DType::u8:
        v[j] = row[j] / 255.0;
        break;
      case DType::f32: {
        float f;
        std::memcpy(&f, row + 4 * j, 4);
        v[j] = f;
        break;
      }
      case DType::f64:
        std::memcpy(&v[j], row + 8 * j, 8);
        break;
    }
  }
  double lo = 0, hi = 1;
  if (d.dtype != DType::u8) {
    lo = INFINITY, hi = -INFINITY;
    for (double x : v)
      if (std::isfinite(x)) lo = std::min(lo, x), hi = std::max(hi, x);
    if (!(hi > lo)) lo = hi - 1;  // constant (or empty) image: draw it white
  }
  for (std::size_t j = 0; j < px.size(); ++j)
    px[j] = static_cast<float>(std::clamp((v[j] - lo) / (hi - lo), 0.0, 1.0));
  return px;
}

std::vector<int64_t> choose_image_shape(const ReportInputs& in) {
  const int64_t d = in.model->input_dim();
  if (!in.image_shape.empty()) {
    if (in.image_shape.size() != 2 || in.image_shape[0] * in.image_shape[1] != d)
      fail("--image-shape",
           "gives " +
               (in.image_shape.size() == 2
                    ? std::to_string(in.image_shape[0] * in.image_shape[1]) + " pixels"
                    : std::to_string(in.image_shape.size()) + " sizes") +
               " for " + std::to_string(d) + " input features",
           "H,W with H*W = " + std::to_string(d));
    return in.image_shape;
  }
  for (const auto* s : {&in.model->image_shape, in.eval ? &in.eval->image_shape : nullptr})
    if (s && s->size() == 2 && (*s)[0] * (*s)[1] == d) return *s;
  return {};
}

template <class T>
std::vector<float> first_layer(const Network<T>& net) {
  ConstView<T> w = net.W(1);
  std::vector<float> out;
  out.reserve(static_cast<std::size_t>(w.size()));
  for (int64_t i = 0; i < w.rows; ++i)
    for (int64_t j = 0; j < w.cols; ++j) out.push_back(static_cast<float>(w(i, j)));
  return out;
}

// ROC and precision-recall curves, the reliability diagram and permutation importance of each
// column (ReportData's tabular parts), from the evaluation's probabilities.
void tabular_diagnostics(const Model& m, const Dataset& data, const Matrix<double>& probs,
                         ReportData& d) {
  const int64_t n = data.n, c = probs.cols();
  auto name = [&](int64_t k) {
    return k < static_cast<int64_t>(d.class_names.size())
               ? d.class_names[static_cast<std::size_t>(k)]
               : std::to_string(k);
  };
  std::vector<double> score(static_cast<std::size_t>(n));
  std::vector<char> pos(static_cast<std::size_t>(n));
  for (int64_t k = c == 2 ? 1 : 0; k < c && c <= 10; ++k) {
    for (int64_t i = 0; i < n; ++i) {
      score[static_cast<std::size_t>(i)] = probs(i, k);
      pos[static_cast<std::size_t>(i)] = data.labels[static_cast<std::size_t>(i)] == k;
    }
    ReportData::Curve roc, pr;
    roc.label = pr.label = name(k);
    for (auto [x, y] : roc_curve(score, pos)) roc.x.push_back(x), roc.y.push_back(y);
    for (auto [x, y] : pr_curve(score, pos)) pr.x.push_back(x), pr.y.push_back(y);
    roc.area = roc_auc(score, pos);
    pr.area = average_precision(score, pos);
    if (roc.x.size() > 1) d.roc.push_back(std::move(roc));
    if (pr.x.size() > 1) d.pr.push_back(std::move(pr));
  }
  // Reliability: the predicted class's probability in ten bins, against how often it is right.
  std::vector<double> conf(10, 0.0), hits(10, 0.0);
  d.calibration_counts.assign(10, 0);
  for (int64_t i = 0; i < n; ++i) {
    const double* row = &probs(i, 0);
    const int64_t pred = std::max_element(row, row + c) - row;
    const auto b = static_cast<std::size_t>(std::min(9.0, std::floor(row[pred] * 10)));
    conf[b] += row[pred];
    hits[b] += pred == data.labels[static_cast<std::size_t>(i)];
    d.calibration_counts[b]++;
  }
  d.calibration.label = "model";
  for (std::size_t b = 0; b < 10; ++b)
    if (d.calibration_counts[b] > 0) {
      d.calibration.x.push_back(conf[b] / static_cast<double>(d.calibration_counts[b]));
      d.calibration.y.push_back(hits[b] / static_cast<double>(d.calibration_counts[b]));
    }
  // Permutation importance on at most 5,000 rows: each column's features shuffled together.
  std::vector<int64_t> rows(static_cast<std::size_t>(std::min<int64_t>(n, 5000)));
  std::iota(rows.begin(), rows.end(), 0);
  const Dataset base = data.subset(rows);
  const double base_acc = evaluate(m, base, 1000).accuracy;
  Rng rng(0);
  int64_t first = 0;
  const std::size_t es = dtype_size(base.dtype);
  for (const auto& col : m.schema.columns) {
    const int64_t w = col.width();
    Dataset shuffled = base;
    std::vector<int64_t> perm(rows.size());
    std::iota(perm.begin(), perm.end(), 0);
    rng.shuffle(perm);
    for (std::size_t i = 0; i < perm.size(); ++i)
      std::memcpy(
          shuffled.bytes.data() + (i * static_cast<std::size_t>(base.d) + first) * es,
          base.bytes.data() +
              (static_cast<std::size_t>(perm[i]) * static_cast<std::size_t>(base.d) + first) * es,
          static_cast<std::size_t>(w) * es);
    d.importance.emplace_back(col.name, base_acc - evaluate(m, shuffled, 1000).accuracy);
    first += w;
  }
  std::stable_sort(d.importance.begin(), d.importance.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
}

ReportData build(const ReportInputs& in, EvalResult& ev) {
  if (!in.model) fail("report", "has no model", "a trained model");
  const Model& m = *in.model;
  const json t = parse_training(m);
  ReportData d;
  const std::vector<int64_t> image = choose_image_shape(in);
  d.image_shape = image;

  if (!in.title.empty()) {
    d.title = in.title;
  } else {
    std::string a;
    for (int64_t s : m.sizes()) a += (a.empty() ? "" : "-") + std::to_string(s);
    d.title = "Training report: " + a + " network" +
              (str(t, "data").empty() ? "" : " on " + str(t, "data"));
  }

  for (const auto& e : in.epochs) {
    ReportEpoch r;
    r.epoch = e.epoch;
    r.train_loss = e.train_loss;
    r.train_accuracy = e.train_accuracy;
    r.val_loss = e.val_loss;
    r.val_accuracy = e.val_accuracy;
    r.lr = e.lr;
    r.seconds = e.seconds;
    r.weight_norms = e.weight_norms;
    r.grad_norms = e.grad_norms;
    d.epochs.push_back(std::move(r));
  }
  for (std::size_t l = 1; l < m.sizes().size(); ++l)
    d.layer_names.push_back("W" + std::to_string(l) + " (" + std::to_string(m.sizes()[l - 1]) +
                            "\u00d7" + std::to_string(m.sizes()[l]) + ")");

  d.class_names = m.class_names;
  if (d.class_names.empty() && in.eval &&
      static_cast<int64_t>(in.eval->class_names.size()) == m.num_classes())
    d.class_names = in.eval->class_names;

  d.first_layer_weights = m.f64 ? first_layer(m.net64) : first_layer(m.net32);
  d.first_layer_inputs = m.sizes()[0];
  d.first_layer_units = m.sizes()[1];

  ev = EvalResult{};
  if (in.eval) {
    const Dataset& data = *in.eval;
    Matrix<double> own;
    const bool given = in.eval_result && in.eval_probs;
    if (given)
      ev = *in.eval_result;
    else
      ev = evaluate(m, data, 1000, &own);
    const Matrix<double>& probs = given ? *in.eval_probs : own;
    if (given && (probs.rows() != data.n || probs.cols() != ev.classes))
      fail("report", "the given predictions are " + shape_str(probs.rows(), probs.cols()),
           shape_str(data.n, ev.classes) + " for the evaluation data");
    const int64_t c = ev.classes;
    d.confusion_split = in.eval_split;
    for (int64_t k = 0; k < c; ++k)
      d.confusion.emplace_back(ev.confusion.begin() + k * c, ev.confusion.begin() + (k + 1) * c);
    for (int64_t i = 0; i < data.n; ++i) {
      const double* row = &probs(i, 0);
      const auto pred = static_cast<int32_t>(std::max_element(row, row + c) - row);
      const int32_t truth = data.labels[static_cast<std::size_t>(i)];
      if (pred == truth) continue;
      ReportExample ex;
      ex.index = i;
      ex.true_label = truth;
      ex.predicted_label = pred;
      ex.confidence = row[pred];
      if (!image.empty() && static_cast<int64_t>(d.misclassified.size()) < kReportMaxExamples)
        ex.pixels = display_pixels(data, i);
      d.misclassified.push_back(std::move(ex));
    }
    if (!m.schema.empty() && data.n > 1) tabular_diagnostics(m, data, probs, d);
  }
  d.summary = summary_lines(in, t, in.eval ? &ev : nullptr, image);
  return d;
}

}  // namespace

ReportData make_report_data(const ReportInputs& in) {
  EvalResult ev;
  return build(in, ev);
}

EvalResult write_report(const std::string& path, const ReportInputs& in) {
  EvalResult ev;
  const ReportData d = build(in, ev);
  write_file_atomic(path, render_report_html(d));
  return ev;
}

std::vector<EpochRecord> training_history(const Model& model) {
  const json t = parse_training(model);
  const auto it = t.find("history");
  if (it == t.end()) return {};
  return epochs_from_json(*it, "model metadata training.history");
}

std::vector<int64_t> parse_image_shape(const std::string& text, const std::string& where) {
  std::vector<int64_t> out;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const std::size_t comma = std::min(text.find_first_of(",xX", pos), text.size());
    const std::string item = text.substr(pos, comma - pos);
    std::size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (item.empty() || used != item.size() || v <= 0 || v > 4096)
      fail(where, "'" + text + "' is not an image shape", "H,W: two integers in 1..4096");
    out.push_back(v);
    pos = comma + 1;
  }
  if (out.size() != 2) fail(where, "'" + text + "' is not an image shape", "H,W: two integers");
  return out;
}

}  // namespace fcnet
