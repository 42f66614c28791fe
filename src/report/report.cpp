// The HTML training report: one self-contained page built from ReportData. Sections are written
// one function each, in page order; every string from the data goes through html_escape.
#include "fcnet/report.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "fcnet/error.hpp"
#include "report/chart.hpp"
#include "report/png.hpp"
#include "report/text.hpp"

namespace fcnet {
namespace {

using report_detail::ChartOptions;
using report_detail::ChartSeries;
using report_detail::css_color;
using report_detail::format_coord;
using report_detail::format_duration;
using report_detail::format_fixed;
using report_detail::format_general;
using report_detail::format_percent;
using report_detail::html_escape;
using report_detail::mix;
using report_detail::Rgb;

constexpr const char* kTrainColor = "#2563eb";
constexpr const char* kValColor = "#ea580c";
constexpr std::array<const char*, 10> kLayerColors = {"#2563eb", "#ea580c", "#16a34a", "#9333ea",
                                                      "#dc2626", "#0891b2", "#ca8a04", "#db2777",
                                                      "#475569", "#65a30d"};

// Confusion heat map: correct predictions on a blue ramp, errors on a red one.
constexpr Rgb kCorrectLow{239, 244, 255}, kCorrectHigh{29, 78, 216};
constexpr Rgb kErrorLow{255, 244, 240}, kErrorHigh{200, 38, 38};
constexpr Rgb kEmptyCell{248, 250, 252};

// Diverging map for weights: -1 blue, 0 near-white, +1 red.
constexpr std::array<Rgb, 5> kDivergingStops = {
    Rgb{30, 80, 170}, Rgb{112, 162, 214}, Rgb{248, 248, 248}, Rgb{236, 140, 104}, Rgb{178, 28, 40}};

Rgb diverging(double t) {
  t = std::clamp(std::isfinite(t) ? t : 0.0, -1.0, 1.0);
  const double pos = (t + 1.0) * 2.0;  // 0..4 across the stops
  const auto i = std::min(static_cast<std::size_t>(pos), kDivergingStops.size() - 2);
  return mix(kDivergingStops[i], kDivergingStops[i + 1], pos - static_cast<double>(i));
}

std::string diverging_gradient_css() {
  std::string css = "linear-gradient(90deg";
  for (const Rgb& c : kDivergingStops) css += ", " + css_color(c);
  return css + ")";
}

int64_t num_classes(const ReportData& d) {
  if (!d.confusion.empty()) return static_cast<int64_t>(d.confusion.size());
  return static_cast<int64_t>(d.class_names.size());
}

std::string class_name(const ReportData& d, int64_t k) {
  if (k >= 0 && k < static_cast<int64_t>(d.class_names.size()))
    return d.class_names[static_cast<std::size_t>(k)];
  return std::to_string(k);
}

// At most `max_chars` code points of s, with an ellipsis when cut.
std::string truncate_utf8(const std::string& s, std::size_t max_chars) {
  std::size_t chars = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;
    if (chars == max_chars) return s.substr(0, i) + "\u2026";
    ++chars;
  }
  return s;
}

std::size_t utf8_length(const std::string& s) {
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

void validate(const ReportData& d) {
  const char* where = "render_report_html";
  const auto c = d.confusion.size();
  for (std::size_t t = 0; t < c; ++t) {
    if (d.confusion[t].size() != c)
      fail(where,
           "confusion row " + std::to_string(t) + " has " + std::to_string(d.confusion[t].size()) +
               " entries",
           std::to_string(c) + " (a square C x C matrix)");
    for (int64_t v : d.confusion[t])
      if (v < 0)
        fail(where, "negative count " + std::to_string(v) + " in the confusion matrix",
             "counts >= 0");
  }
  if (c > 0 && !d.class_names.empty() && d.class_names.size() != c)
    fail(where,
         std::to_string(d.class_names.size()) + " class names for a " + std::to_string(c) +
             "-class confusion matrix",
         std::to_string(c) + " names or none");
  if (!d.image_shape.empty() &&
      (d.image_shape.size() != 2 || d.image_shape[0] <= 0 || d.image_shape[1] <= 0 ||
       d.image_shape[0] > 4096 || d.image_shape[1] > 4096))
    fail(where, "image_shape of " + std::to_string(d.image_shape.size()) + " entries",
         "{H, W} with 1 <= H, W <= 4096, or empty");
  const int64_t pixels = d.image_shape.empty() ? 0 : d.image_shape[0] * d.image_shape[1];
  if (!d.first_layer_weights.empty()) {
    if (d.first_layer_inputs <= 0 || d.first_layer_units <= 0 ||
        static_cast<int64_t>(d.first_layer_weights.size()) !=
            d.first_layer_inputs * d.first_layer_units)
      fail(where,
           std::to_string(d.first_layer_weights.size()) +
               " first-layer weights for D = " + std::to_string(d.first_layer_inputs) +
               ", H1 = " + std::to_string(d.first_layer_units),
           "D x H1 values");
    if (pixels > 0 && pixels != d.first_layer_inputs)
      fail(where,
           "image_shape " + std::to_string(d.image_shape[0]) + "x" +
               std::to_string(d.image_shape[1]) + " for " + std::to_string(d.first_layer_inputs) +
               " inputs",
           "H x W = D");
  }
  for (std::size_t i = 0; i < d.misclassified.size(); ++i) {
    const auto& ex = d.misclassified[i];
    if (pixels > 0 && !ex.pixels.empty() && static_cast<int64_t>(ex.pixels.size()) != pixels)
      fail(where,
           "misclassified example " + std::to_string(i) + " has " +
               std::to_string(ex.pixels.size()) + " pixels",
           std::to_string(pixels) + " (H x W)");
  }
}

bool any_finite(const std::vector<ReportEpoch>& epochs, double ReportEpoch::*field) {
  return std::any_of(epochs.begin(), epochs.end(),
                     [field](const ReportEpoch& e) { return std::isfinite(e.*field); });
}

std::vector<double> epoch_axis(const std::vector<ReportEpoch>& epochs) {
  std::vector<double> x;
  x.reserve(epochs.size());
  for (const auto& e : epochs) x.push_back(static_cast<double>(e.epoch));
  return x;
}

std::vector<double> column(const std::vector<ReportEpoch>& epochs, double ReportEpoch::*field) {
  std::vector<double> y;
  y.reserve(epochs.size());
  for (const auto& e : epochs) y.push_back(e.*field);
  return y;
}

ChartSeries make_series(const std::vector<ReportEpoch>& epochs, double ReportEpoch::*field,
                        std::string label, std::string css_class, std::string color) {
  ChartSeries s;
  s.label = std::move(label);
  s.css_class = std::move(css_class);
  s.color = std::move(color);
  s.x = epoch_axis(epochs);
  s.y = column(epochs, field);
  return s;
}

std::string note(std::string_view text) {
  return "<p class=\"note\">" + html_escape(text) + "</p>";
}

std::string figure(const std::string& id, const std::string& caption, const std::string& body) {
  return "<figure id=\"" + id + "\"><figcaption>" + html_escape(caption) + "</figcaption>" + body +
         "</figure>";
}

struct Section {
  std::string id;
  std::string nav;  // short name in the navigation bar
  std::string html;
};

std::string open_section(const std::string& id, const std::string& heading,
                         const std::string& detail = "") {
  std::string h = "<section id=\"" + id + "\" class=\"card\"><h2>" + html_escape(heading);
  if (!detail.empty()) h += " <span class=\"muted\">" + html_escape(detail) + "</span>";
  return h + "</h2>";
}

// ---------------------------------------------------------------------------------- summary

struct Metric {
  std::string label, value, sub;
};

std::vector<Metric> headline_metrics(const ReportData& d) {
  std::vector<Metric> m;
  const auto& ep = d.epochs;
  auto last = [&](double ReportEpoch::*field) -> const ReportEpoch* {
    for (auto it = ep.rbegin(); it != ep.rend(); ++it)
      if (std::isfinite((*it).*field)) return &*it;
    return nullptr;
  };
  auto at_epoch = [](const ReportEpoch* e) { return "epoch " + std::to_string(e->epoch); };
  if (const auto* e = last(&ReportEpoch::train_accuracy))
    m.push_back({"Train accuracy", format_percent(e->train_accuracy, 2), at_epoch(e)});
  if (const auto* e = last(&ReportEpoch::val_accuracy))
    m.push_back({"Validation accuracy", format_percent(e->val_accuracy, 2), at_epoch(e)});
  const ReportEpoch* best = nullptr;
  for (const auto& e : ep)
    if (std::isfinite(e.val_accuracy) && (!best || e.val_accuracy > best->val_accuracy)) best = &e;
  if (best)
    m.push_back(
        {"Best validation accuracy", format_percent(best->val_accuracy, 2), at_epoch(best)});
  if (const auto* e = last(&ReportEpoch::train_loss))
    m.push_back({"Train loss", format_general(e->train_loss, 4), at_epoch(e)});
  if (const auto* e = last(&ReportEpoch::val_loss))
    m.push_back({"Validation loss", format_general(e->val_loss, 4), at_epoch(e)});
  if (!d.confusion.empty()) {
    int64_t total = 0, correct = 0;
    for (std::size_t t = 0; t < d.confusion.size(); ++t) {
      for (int64_t v : d.confusion[t]) total += v;
      correct += d.confusion[t][t];
    }
    const bool same_as_val = d.confusion_split == "validation" && last(&ReportEpoch::val_accuracy);
    if (total > 0 && !same_as_val)
      m.push_back({"Accuracy on " + d.confusion_split,
                   format_percent(static_cast<double>(correct) / static_cast<double>(total), 2),
                   std::to_string(correct) + " of " + std::to_string(total)});
  }
  double seconds = 0;
  int64_t timed = 0;
  for (const auto& e : ep)
    if (std::isfinite(e.seconds)) seconds += e.seconds, ++timed;
  if (timed > 0)
    m.push_back({"Training time", format_duration(seconds),
                 format_duration(seconds / static_cast<double>(timed)) + " per epoch"});
  return m;
}

std::string section_summary(const ReportData& d) {
  std::string h = open_section("summary", "Summary");
  const auto metrics = headline_metrics(d);
  if (!metrics.empty()) {
    h += "<div class=\"metrics\">";
    for (const auto& m : metrics)
      h += "<div class=\"metric\"><div class=\"metric-label\">" + html_escape(m.label) +
           "</div><div class=\"metric-value\">" + html_escape(m.value) +
           "</div><div class=\"metric-sub\">" + html_escape(m.sub) + "</div></div>";
    h += "</div>";
  }
  if (!d.summary.empty()) {
    h += "<table class=\"kv\"><tbody>";
    for (const auto& [key, value] : d.summary) {
      std::string v = html_escape(value);
      for (std::size_t at = v.find('\n'); at != std::string::npos; at = v.find('\n', at + 4))
        v.replace(at, 1, "<br>");
      h += "<tr><th scope=\"row\">" + html_escape(key) + "</th><td>" + v + "</td></tr>";
    }
    h += "</tbody></table>";
  }
  if (metrics.empty() && d.summary.empty()) h += note("Nothing was recorded about this run.");
  return h + "</section>";
}

// ---------------------------------------------------------------------------------- curves

std::string section_curves(const ReportData& d) {
  std::string h = open_section("curves", "Loss and accuracy");
  const auto& ep = d.epochs;
  if (ep.empty()) return h + note("No epochs were recorded.") + "</section>";
  const bool has_val =
      any_finite(ep, &ReportEpoch::val_loss) || any_finite(ep, &ReportEpoch::val_accuracy);
  h += "<p class=\"lead\">Mean training loss and accuracy of each epoch";
  h += has_val ? ", and the same measured on the validation split after it.</p>" : ".</p>";

  std::string charts = "<div class=\"charts\">";
  {
    std::vector<ChartSeries> s;
    if (any_finite(ep, &ReportEpoch::train_loss))
      s.push_back(make_series(ep, &ReportEpoch::train_loss, "train", "train", kTrainColor));
    if (any_finite(ep, &ReportEpoch::val_loss))
      s.push_back(make_series(ep, &ReportEpoch::val_loss, "validation", "val", kValColor));
    ChartOptions o;
    o.id = "chart-loss";
    o.title = "Loss per epoch";
    o.y_label = "cross-entropy loss";
    o.y_floor = 0;
    charts +=
        figure("loss", "Loss per epoch",
               s.empty() ? note("No loss was recorded.") : report_detail::render_line_chart(o, s));
  }
  {
    std::vector<ChartSeries> s;
    if (any_finite(ep, &ReportEpoch::train_accuracy))
      s.push_back(make_series(ep, &ReportEpoch::train_accuracy, "train", "train", kTrainColor));
    if (any_finite(ep, &ReportEpoch::val_accuracy))
      s.push_back(make_series(ep, &ReportEpoch::val_accuracy, "validation", "val", kValColor));
    ChartOptions o;
    o.id = "chart-accuracy";
    o.title = "Accuracy per epoch";
    o.y_label = "accuracy";
    o.percent = true;
    o.y_floor = 0;
    o.y_ceil = 1;
    charts += figure(
        "accuracy", "Accuracy per epoch",
        s.empty() ? note("No accuracy was recorded.") : report_detail::render_line_chart(o, s));
  }
  h += charts + "</div>";
  if (!has_val) h += note("No validation split was used: the charts show training values only.");
  return h + "</section>";
}

// ---------------------------------------------------------------------------------- schedule

std::string section_schedule(const ReportData& d) {
  std::string h = open_section("schedule", "Learning rate and time");
  const auto& ep = d.epochs;
  if (ep.empty()) return h + note("No epochs were recorded.") + "</section>";
  h += "<div class=\"charts\">";
  if (any_finite(ep, &ReportEpoch::lr)) {
    ChartOptions o;
    o.id = "chart-lr";
    o.title = "Learning rate per epoch";
    o.y_label = "learning rate";
    o.log_when_wide = true;
    o.y_floor = 0;
    h += figure("learning-rate", "Learning-rate schedule",
                report_detail::render_line_chart(
                    o, {make_series(ep, &ReportEpoch::lr, "learning rate", "lr", kTrainColor)}));
  } else {
    h += figure("learning-rate", "Learning-rate schedule", note("No learning rate was recorded."));
  }
  if (any_finite(ep, &ReportEpoch::seconds)) {
    ChartOptions o;
    o.id = "chart-time";
    o.title = "Wall time per epoch";
    o.y_label = "seconds";
    o.y_floor = 0;
    o.include_zero = true;
    h += figure("epoch-time", "Wall time per epoch",
                report_detail::render_line_chart(
                    o, {make_series(ep, &ReportEpoch::seconds, "seconds", "time", "#475569")}));
  }
  return h + "</div></section>";
}

// ---------------------------------------------------------------------------------- confusion

struct ClassStats {
  int64_t support = 0;    // row sum: examples of the class
  int64_t predicted = 0;  // column sum: predictions of the class
  int64_t correct = 0;
  double precision = kReportMissing, recall = kReportMissing, f1 = kReportMissing;
};

std::vector<ClassStats> class_stats(const std::vector<std::vector<int64_t>>& m) {
  const std::size_t c = m.size();
  std::vector<ClassStats> s(c);
  for (std::size_t t = 0; t < c; ++t)
    for (std::size_t p = 0; p < c; ++p) {
      s[t].support += m[t][p];
      s[p].predicted += m[t][p];
    }
  for (std::size_t k = 0; k < c; ++k) {
    s[k].correct = m[k][k];
    if (s[k].predicted > 0)
      s[k].precision = static_cast<double>(s[k].correct) / static_cast<double>(s[k].predicted);
    if (s[k].support > 0)
      s[k].recall = static_cast<double>(s[k].correct) / static_cast<double>(s[k].support);
    if (std::isfinite(s[k].precision) && std::isfinite(s[k].recall))
      s[k].f1 = s[k].precision + s[k].recall > 0
                    ? 2 * s[k].precision * s[k].recall / (s[k].precision + s[k].recall)
                    : 0.0;
  }
  return s;
}

std::string heatmap_svg(const ReportData& d, const std::vector<ClassStats>& stats,
                        double max_error_share) {
  const auto& m = d.confusion;
  const auto c = static_cast<int64_t>(m.size());
  const double cell = std::clamp(std::floor(440.0 / static_cast<double>(c)), 4.0, 56.0);
  const bool names = cell >= 9;
  const double font = std::clamp(cell * 0.6, 8.0, 12.0);
  std::vector<std::string> labels(static_cast<std::size_t>(c));
  double label_w = 0;
  for (int64_t k = 0; k < c; ++k) {
    auto& l = labels[static_cast<std::size_t>(k)];
    l = names ? truncate_utf8(class_name(d, k), 16) : std::to_string(k);
    label_w = std::max(label_w, static_cast<double>(utf8_length(l)) * font * 0.6);
  }
  // Without names, label every `every`-th class index (1, 2, 5, 10...) so labels stay >= 20 px
  // apart.
  const auto every =
      names ? int64_t{1} : static_cast<int64_t>(report_detail::nice_step(20.0 / cell));
  const double left = 30 + label_w + 8;
  const double top = 8;
  const double grid = cell * static_cast<double>(c);
  const double below = names ? label_w * 0.55 + font + 8 : font + 12;
  const double width = left + grid + 14;
  const double height = top + grid + below + 26;
  const bool cell_titles = c <= 50;
  const double count_font = std::min(11.5, cell * 0.32);

  std::string s = "<svg class=\"heatmap\" id=\"confusion-matrix\" viewBox=\"0 0 " +
                  format_coord(width) + " " + format_coord(height) + "\" width=\"" +
                  format_coord(width) + "\" height=\"" + format_coord(height) +
                  "\" role=\"img\" aria-labelledby=\"confusion-matrix-title\">";
  s += "<title id=\"confusion-matrix-title\">Confusion matrix on the " +
       html_escape(d.confusion_split) + " split</title>";
  s += std::string("<g class=\"cells") + (cell >= 8 ? " outlined" : "") + "\">";
  for (int64_t t = 0; t < c; ++t) {
    const auto& st = stats[static_cast<std::size_t>(t)];
    for (int64_t p = 0; p < c; ++p) {
      const int64_t v = m[static_cast<std::size_t>(t)][static_cast<std::size_t>(p)];
      const double share =
          st.support > 0 ? static_cast<double>(v) / static_cast<double>(st.support) : 0.0;
      Rgb fill = kEmptyCell;
      double strength = 0;
      if (t == p && st.support > 0) {
        strength = share;
        fill = mix(kCorrectLow, kCorrectHigh, share);
      } else if (t != p && v > 0) {
        strength = max_error_share > 0 ? share / max_error_share : 0;
        fill = mix(kErrorLow, kErrorHigh, strength);
      }
      const double x = left + cell * static_cast<double>(p);
      const double y = top + cell * static_cast<double>(t);
      s += "<rect x=\"" + format_coord(x) + "\" y=\"" + format_coord(y) + "\" width=\"" +
           format_coord(cell) + "\" height=\"" + format_coord(cell) + "\" fill=\"" +
           css_color(fill) + "\"";
      if (cell_titles) {
        s += "><title>true " + html_escape(class_name(d, t)) + ", predicted " +
             html_escape(class_name(d, p)) + ": " + std::to_string(v) +
             (st.support > 0 ? " (" + format_percent(share, 1) + " of the class)" : "") +
             "</title></rect>";
      } else {
        s += "/>";
      }
      const std::string count = std::to_string(v);
      const bool fits =
          cell >= 22 && static_cast<double>(count.size()) * count_font * 0.62 <= cell - 4;
      if (fits && (v > 0 || t == p)) {
        s += "<text class=\"count" + std::string(strength > 0.55 ? " on-dark" : "") + "\" x=\"" +
             format_coord(x + cell / 2) + "\" y=\"" +
             format_coord(y + cell / 2 + count_font * 0.36) + "\" font-size=\"" +
             format_coord(count_font) + "\" text-anchor=\"middle\">" + count + "</text>";
      }
    }
  }
  s += "</g><g class=\"labels\" font-size=\"" + format_coord(font) + "\">";
  for (int64_t k = 0; k < c; k += every) {
    const std::string& l = labels[static_cast<std::size_t>(k)];
    const double mid = cell * (static_cast<double>(k) + 0.5);
    s += "<text x=\"" + format_coord(left - 6) + "\" y=\"" + format_coord(top + mid + font * 0.35) +
         "\" text-anchor=\"end\">" + html_escape(l) + "</text>";
    const double bx = left + mid, by = top + grid + 6 + font * 0.35;
    if (names) {
      s += "<text x=\"" + format_coord(bx) + "\" y=\"" + format_coord(by) +
           "\" text-anchor=\"end\" transform=\"rotate(-45 " + format_coord(bx) + " " +
           format_coord(by) + ")\">" + html_escape(l) + "</text>";
    } else {
      s += "<text x=\"" + format_coord(bx) + "\" y=\"" + format_coord(by + font * 0.7) +
           "\" text-anchor=\"middle\">" + html_escape(l) + "</text>";
    }
  }
  s += "</g>";
  s += "<text class=\"axis-label\" transform=\"translate(12 " + format_coord(top + grid / 2) +
       ") rotate(-90)\" text-anchor=\"middle\">true class</text>";
  s += "<text class=\"axis-label\" x=\"" + format_coord(left + grid / 2) + "\" y=\"" +
       format_coord(height - 8) + "\" text-anchor=\"middle\">predicted class</text>";
  return s + "</svg>";
}

std::string bar_cell(double v, const std::string& css_class) {
  if (!std::isfinite(v))
    return "<td class=\"num " + css_class + "\">" + std::string(report_detail::kMissingText) +
           "</td>";
  return "<td class=\"num bar " + css_class +
         "\" style=\"--v:" + format_fixed(std::clamp(v, 0.0, 1.0), 3) + "\">" +
         format_percent(v, 1) + "</td>";
}

std::string section_confusion(const ReportData& d) {
  if (d.confusion.empty())
    return open_section("confusion", "Confusion matrix") +
           note("No labelled evaluation was run, so there is no confusion matrix.") + "</section>";
  const auto& m = d.confusion;
  const auto c = static_cast<int64_t>(m.size());
  const auto stats = class_stats(m);
  int64_t total = 0, correct = 0;
  double max_error_share = 0;
  struct Confusion {
    int64_t count, t, p;
  };
  std::vector<Confusion> errors;
  for (int64_t t = 0; t < c; ++t) {
    const auto& st = stats[static_cast<std::size_t>(t)];
    total += st.support;
    correct += st.correct;
    for (int64_t p = 0; p < c; ++p) {
      const int64_t v = m[static_cast<std::size_t>(t)][static_cast<std::size_t>(p)];
      if (t == p || v == 0) continue;
      errors.push_back({v, t, p});
      max_error_share =
          std::max(max_error_share, static_cast<double>(v) / static_cast<double>(st.support));
    }
  }

  std::string h =
      open_section("confusion", "Confusion matrix", "(" + d.confusion_split + " split)");
  h += "<p class=\"lead\">Rows are true classes, columns predicted classes; each cell counts " +
       std::string(
           "examples. Blue cells (the diagonal) are shaded by the share of the class that ") +
       "was predicted correctly, red cells by the share predicted as another class, relative to " +
       "the largest such share (" + format_percent(max_error_share, 1) + ").</p>";
  h += "<div class=\"split\"><div class=\"heatmap-box\">";
  if (c <= 100) {
    h += heatmap_svg(d, stats, max_error_share);
    h += "<div class=\"ramps\"><span class=\"ramp-label\">correct</span><span class=\"ramp\" " +
         std::string("style=\"background:linear-gradient(90deg, ") + css_color(kCorrectLow) + ", " +
         css_color(kCorrectHigh) + ")\"></span><span class=\"ramp-ends\">0 – 100%</span>" +
         "<span class=\"ramp-label\">errors</span><span class=\"ramp\" " +
         "style=\"background:linear-gradient(90deg, " + css_color(kErrorLow) + ", " +
         css_color(kErrorHigh) + ")\"></span><span class=\"ramp-ends\">0 – " +
         format_percent(max_error_share, 1) + "</span></div>";
  } else {
    h += note("With " + std::to_string(c) +
              " classes the matrix is too large to draw; the table lists every class.");
  }
  h += std::string("</div><div class=\"table-box") + (c > 16 ? " scroll" : "") +
       "\"><table class=\"data\" id=\"per-class\"><thead><tr>" +
       std::string("<th>class</th><th class=\"num\">support</th><th class=\"num\">predicted") +
       "</th><th class=\"num\">precision</th><th class=\"num\">recall</th><th class=\"num\">F1" +
       "</th></tr></thead><tbody>";
  double sum_p = 0, sum_r = 0, sum_f = 0;
  int64_t n_p = 0, n_r = 0, n_f = 0;
  for (int64_t k = 0; k < c; ++k) {
    const auto& st = stats[static_cast<std::size_t>(k)];
    if (std::isfinite(st.precision)) sum_p += st.precision, ++n_p;
    if (std::isfinite(st.recall)) sum_r += st.recall, ++n_r;
    if (std::isfinite(st.f1)) sum_f += st.f1, ++n_f;
    h += "<tr id=\"class-row-" + std::to_string(k) + "\"><td>" + html_escape(class_name(d, k)) +
         "</td><td class=\"num support\">" + std::to_string(st.support) +
         "</td><td class=\"num predicted\">" + std::to_string(st.predicted) + "</td>" +
         bar_cell(st.precision, "precision") + bar_cell(st.recall, "recall") +
         bar_cell(st.f1, "f1") + "</tr>";
  }
  auto mean = [](double sum, int64_t n) {
    return n > 0 ? sum / static_cast<double>(n) : kReportMissing;
  };
  h += "</tbody><tfoot><tr id=\"macro-average\"><td>macro average</td><td class=\"num\">" +
       std::to_string(total) + "</td><td class=\"num\"></td>" +
       bar_cell(mean(sum_p, n_p), "precision") + bar_cell(mean(sum_r, n_r), "recall") +
       bar_cell(mean(sum_f, n_f), "f1") + "</tr>";
  const double accuracy =
      total > 0 ? static_cast<double>(correct) / static_cast<double>(total) : kReportMissing;
  h += "<tr id=\"overall-accuracy\"><td>accuracy</td><td class=\"num\">" + std::to_string(total) +
       "</td><td class=\"num\"></td><td class=\"num accuracy\" colspan=\"3\">" +
       format_percent(accuracy, 1) + " <span class=\"muted\">(" + std::to_string(correct) +
       " correct)</span></td></tr></tfoot></table></div></div>";

  std::sort(errors.begin(), errors.end(), [](const Confusion& a, const Confusion& b) {
    return std::tie(b.count, a.t, a.p) < std::tie(a.count, b.t, b.p);
  });
  if (!errors.empty()) {
    h += "<h3>Most frequent confusions</h3><ol class=\"confusions\">";
    for (std::size_t i = 0; i < errors.size() && i < 6; ++i) {
      const auto& e = errors[i];
      const auto& st = stats[static_cast<std::size_t>(e.t)];
      h += "<li><b>" + html_escape(class_name(d, e.t)) + "</b> predicted as <b>" +
           html_escape(class_name(d, e.p)) + "</b>: " + std::to_string(e.count) + " (" +
           format_percent(static_cast<double>(e.count) / static_cast<double>(st.support), 1) +
           " of " + html_escape(class_name(d, e.t)) + ")</li>";
    }
    h += "</ol>";
  }
  return h + "</section>";
}

// ---------------------------------------------------------------------------------- norms

// ------------------------------------------------------------------------- tabular diagnostics

std::string section_tabular(const ReportData& d) {
  static const char* colors[] = {"#2563eb", "#ea580c", "#16a34a", "#9333ea", "#dc2626",
                                 "#0891b2", "#ca8a04", "#db2777", "#4b5563", "#65a30d"};
  std::string h = open_section("tabular", "Ranking, calibration and column importance",
                               "(" + d.confusion_split + " split)");
  h += "<div class=\"charts\">";
  auto curves = [&](const std::vector<ReportData::Curve>& cs, const char* id, const char* title,
                    const char* xl, const char* yl, const char* area, bool diagonal) {
    std::vector<ChartSeries> s;
    for (std::size_t k = 0; k < cs.size(); ++k) {
      ChartSeries c;
      char buf[32] = "";
      if (area != nullptr) std::snprintf(buf, sizeof buf, " (%s %.3f)", area, cs[k].area);
      c.label = cs[k].label + buf;
      c.css_class = std::string(id) + "-" + std::to_string(k);
      c.color = colors[k % 10];
      c.x = cs[k].x;
      c.y = cs[k].y;
      s.push_back(std::move(c));
    }
    if (diagonal) {
      ChartSeries c;
      c.label = "chance";
      c.css_class = "chance";
      c.color = "#9aa5b1";
      c.dashed = true;
      c.x = {0, 1};
      c.y = {0, 1};
      s.push_back(std::move(c));
    }
    ChartOptions o;
    o.id = id;
    o.title = title;
    o.x_label = xl;
    o.y_label = yl;
    o.integer_x = false;
    o.y_floor = 0;
    o.y_ceil = 1;
    o.include_zero = true;
    return figure(id, title, report_detail::render_line_chart(o, s));
  };
  if (!d.roc.empty())
    h += curves(d.roc, "roc-curve", "ROC curve", "false positive rate", "true positive rate", "AUC",
                true);
  if (!d.pr.empty())
    h += curves(d.pr, "pr-curve", "Precision-recall curve", "recall", "precision", "AP", false);
  if (!d.calibration.x.empty()) {
    ReportData::Curve c = d.calibration;
    h += curves({c}, "calibration", "Reliability: predicted class probability against accuracy",
                "mean predicted probability (bins of 0.1)", "accuracy", nullptr, true);
  }
  h += "</div>";
  if (!d.importance.empty()) {
    h += "<table class=\"importance\" id=\"importance\"><thead><tr><th>column</th>"
         "<th>accuracy lost when shuffled</th></tr></thead><tbody>";
    for (const auto& [name, drop] : d.importance) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%+.4f", drop);
      h += "<tr><td>" + html_escape(name) + "</td><td class=\"num\">" + buf + "</td></tr>";
    }
    h += "</tbody></table>" +
         note(
             "Permutation importance: each column's values shuffled across the examples "
             "(one shuffle, seed 0, at most 5,000 examples), the model evaluated again.");
  }
  return h + "</section>";
}

std::string section_norms(const ReportData& d) {
  std::string h = open_section("norms", "Weight and gradient norms");
  const auto& ep = d.epochs;
  std::size_t layers = 0;
  for (const auto& e : ep) layers = std::max({layers, e.weight_norms.size(), e.grad_norms.size()});
  if (layers == 0) return h + note("No per-layer norms were recorded.") + "</section>";
  h += "<p class=\"lead\">Frobenius norm of each layer's weight matrix at the end of every epoch, "
       "and of its data-loss gradient at the epoch's last optimizer step (one minibatch, so it "
       "is noisy). A log scale is used when the values span more than "
       "a factor of 30.</p><div class=\"charts\">";
  auto layer_name = [&](std::size_t l) {
    return l < d.layer_names.size() ? d.layer_names[l] : "W" + std::to_string(l + 1);
  };
  auto chart = [&](std::vector<double> ReportEpoch::*field, const std::string& id,
                   const std::string& title, const std::string& y_label) {
    std::vector<ChartSeries> series;
    for (std::size_t l = 0; l < layers; ++l) {
      ChartSeries s;
      s.label = layer_name(l);
      s.css_class = "layer layer-" + std::to_string(l + 1);
      s.color = kLayerColors[l % kLayerColors.size()];
      s.dashed = l >= kLayerColors.size();
      s.x = epoch_axis(ep);
      for (const auto& e : ep)
        s.y.push_back(l < (e.*field).size() ? (e.*field)[l] : kReportMissing);
      series.push_back(std::move(s));
    }
    ChartOptions o;
    o.id = "chart-" + id;
    o.title = title;
    o.y_label = y_label;
    o.log_when_wide = true;
    o.y_floor = 0;
    const bool any = std::any_of(ep.begin(), ep.end(), [&](const ReportEpoch& e) {
      return std::any_of((e.*field).begin(), (e.*field).end(),
                         [](double v) { return std::isfinite(v); });
    });
    return figure(id, title,
                  any ? report_detail::render_line_chart(o, series) : note("Not recorded."));
  };
  h +=
      chart(&ReportEpoch::weight_norms, "weight-norms", "Weight norm ‖W‖ per layer", "weight norm");
  h += chart(&ReportEpoch::grad_norms, "grad-norms", "Gradient norm ‖dW‖ per layer",
             "gradient norm");
  return h + "</div></section>";
}

// ---------------------------------------------------------------------------------- images

// CSS scale that shows an image of the given size at about `target` px.
int64_t display_scale(int64_t h, int64_t w, double target) {
  return std::max<int64_t>(1, std::llround(target / static_cast<double>(std::max(h, w))));
}

std::string section_first_layer(const ReportData& d) {
  std::string h = open_section("first-layer", "First-layer weights");
  if (d.first_layer_weights.empty())
    return h + note("The first layer's weights were not recorded.") + "</section>";
  if (d.image_shape.empty())
    return h +
           note(
               "The inputs are not images (no image shape), so the first layer's weights are "
               "not drawn.") +
           "</section>";
  const int64_t rows = d.image_shape[0], cols = d.image_shape[1];
  const int64_t units = d.first_layer_units;
  const int64_t shown = std::min(units, kReportMaxUnits);
  const int64_t scale = display_scale(rows, cols, 56);

  std::vector<std::array<uint8_t, 3>> palette(256);
  for (int i = 0; i < 256; ++i) {
    const Rgb c = diverging(i / 255.0 * 2.0 - 1.0);
    palette[static_cast<std::size_t>(i)] = {c.r, c.g, c.b};
  }
  h += "<p class=\"lead\">Each tile is one hidden unit's " + std::to_string(d.first_layer_inputs) +
       " input weights drawn as a " + std::to_string(rows) + "×" + std::to_string(cols) +
       " image: red is positive, blue negative, white zero, each tile scaled to its own largest " +
       "|weight|. " +
       (shown < units ? "The first " + std::to_string(shown) + " of " + std::to_string(units) +
                            " units are shown."
                      : "All " + std::to_string(units) + " units are shown.") +
       "</p>";
  h += "<div class=\"colorbar\"><span>−max</span><span class=\"ramp\" style=\"background:" +
       diverging_gradient_css() + "\"></span><span>+max</span></div>";
  h += "<div class=\"tiles\" id=\"first-layer-weights\">";
  std::vector<uint8_t> samples(static_cast<std::size_t>(rows * cols));
  const auto& w = d.first_layer_weights;
  for (int64_t u = 0; u < shown; ++u) {
    double max_abs = 0;
    for (int64_t i = 0; i < rows * cols; ++i) {
      const double v = w[static_cast<std::size_t>(i * units + u)];
      if (std::isfinite(v)) max_abs = std::max(max_abs, std::fabs(v));
    }
    for (int64_t i = 0; i < rows * cols; ++i) {
      const double v = w[static_cast<std::size_t>(i * units + u)];
      const double t = max_abs > 0 && std::isfinite(v) ? v / max_abs : 0.0;
      samples[static_cast<std::size_t>(i)] =
          static_cast<uint8_t>(std::lround((std::clamp(t, -1.0, 1.0) + 1.0) * 0.5 * 255.0));
    }
    const std::string tip =
        "unit " + std::to_string(u + 1) + ", largest |w| " + format_general(max_abs, 3);
    h += "<img class=\"unit pix\" src=\"" +
         report_detail::png_data_uri(cols, rows, samples, palette) + "\" width=\"" +
         std::to_string(cols * scale) + "\" height=\"" + std::to_string(rows * scale) +
         "\" alt=\"" + tip + "\" title=\"" + tip + "\">";
  }
  return h + "</div></section>";
}

std::string section_misclassified(const ReportData& d) {
  const std::string split = d.confusion_split.empty() ? "" : "(" + d.confusion_split + " split)";
  std::string h = open_section("misclassified", "Misclassified examples", split);
  if (d.misclassified.empty())
    return h + note("No misclassified examples were recorded.") + "</section>";
  const auto total = static_cast<int64_t>(d.misclassified.size());
  const int64_t shown = std::min(total, kReportMaxExamples);
  h += "<p class=\"lead\">" +
       (shown < total ? "The first " + std::to_string(shown) + " of " + std::to_string(total)
                      : std::to_string(shown)) +
       " examples the final network got wrong, with the true class, the predicted class and the " +
       "network's probability for its prediction.</p>";
  const auto confidence = [](const ReportExample& ex) {
    return std::isfinite(ex.confidence) ? format_percent(ex.confidence, 0)
                                        : std::string(report_detail::kMissingText);
  };
  if (d.image_shape.empty()) {
    h += note("The inputs are not images (no image shape), so the examples are listed, not drawn.");
    h += "<table class=\"data compact auto\" id=\"misclassified-table\"><thead><tr><th "
         "class=\"num\">"
         "example</th><th>true class</th><th>predicted</th><th class=\"num\">confidence</th></tr>"
         "</thead><tbody>";
    for (int64_t i = 0; i < shown; ++i) {
      const auto& ex = d.misclassified[static_cast<std::size_t>(i)];
      h += "<tr><td class=\"num\">" +
           (ex.index >= 0 ? std::to_string(ex.index) : std::string(report_detail::kMissingText)) +
           "</td><td>" + html_escape(class_name(d, ex.true_label)) + "</td><td>" +
           html_escape(class_name(d, ex.predicted_label)) + "</td><td class=\"num\">" +
           confidence(ex) + "</td></tr>";
    }
    return h + "</tbody></table></section>";
  }
  const int64_t rows = d.image_shape[0], cols = d.image_shape[1];
  const int64_t scale = display_scale(rows, cols, 84);
  std::vector<uint8_t> samples(static_cast<std::size_t>(rows * cols));
  h += "<div class=\"examples\" id=\"misclassified-grid\">";
  for (int64_t i = 0; i < shown; ++i) {
    const auto& ex = d.misclassified[static_cast<std::size_t>(i)];
    const std::string truth = html_escape(class_name(d, ex.true_label));
    const std::string pred = html_escape(class_name(d, ex.predicted_label));
    const std::string tip = (ex.index >= 0 ? "example " + std::to_string(ex.index) + ": " : "") +
                            "true " + truth + ", predicted " + pred + " (" + confidence(ex) + ")";
    h += "<figure class=\"example\" title=\"" + tip + "\">";
    if (ex.pixels.empty()) {
      h += "<div class=\"no-pixels\" style=\"width:" + std::to_string(cols * scale) +
           "px;height:" + std::to_string(rows * scale) + "px\">no pixels</div>";
    } else {
      for (std::size_t k = 0; k < samples.size(); ++k) {
        const double v = ex.pixels[k];
        samples[k] = static_cast<uint8_t>(
            std::lround(std::clamp(std::isfinite(v) ? v : 0.0, 0.0, 1.0) * 255.0));
      }
      h += "<img class=\"pix\" src=\"" + report_detail::png_data_uri(cols, rows, samples) +
           "\" width=\"" + std::to_string(cols * scale) + "\" height=\"" +
           std::to_string(rows * scale) + "\" alt=\"" + tip + "\">";
    }
    h += "<figcaption><span class=\"truth\"><span class=\"k\">true</span> " + truth +
         "</span><span class=\"pred\"><span class=\"k\">pred</span> " + pred +
         "</span><span class=\"conf\">" + confidence(ex) + " confidence</span></figcaption>" +
         "</figure>";
  }
  return h + "</div></section>";
}

// ---------------------------------------------------------------------------------- epochs

std::string section_epochs(const ReportData& d) {
  const auto& ep = d.epochs;
  std::string h = open_section("epochs", "Per-epoch values");
  if (ep.empty()) return h + note("No epochs were recorded.") + "</section>";
  struct Col {
    const char* name;
    double ReportEpoch::*field;
    int kind;  // 0 general, 1 percent, 2 duration
  };
  const std::array<Col, 6> all = {Col{"train loss", &ReportEpoch::train_loss, 0},
                                  Col{"train accuracy", &ReportEpoch::train_accuracy, 1},
                                  Col{"val loss", &ReportEpoch::val_loss, 0},
                                  Col{"val accuracy", &ReportEpoch::val_accuracy, 1},
                                  Col{"learning rate", &ReportEpoch::lr, 0},
                                  Col{"time", &ReportEpoch::seconds, 2}};
  std::vector<Col> cols;
  for (const auto& c : all)
    if (any_finite(ep, c.field)) cols.push_back(c);
  h += std::string("<details") + (ep.size() <= 30 ? " open" : "") + "><summary>" +
       std::to_string(ep.size()) + (ep.size() == 1 ? " epoch" : " epochs") +
       "</summary><table class=\"data compact auto\" id=\"epoch-table\"><thead><tr>"
       "<th class=\"num\">epoch</th>";
  for (const auto& c : cols) h += std::string("<th class=\"num\">") + c.name + "</th>";
  h += "</tr></thead><tbody>";
  for (const auto& e : ep) {
    h += "<tr><td class=\"num\">" + std::to_string(e.epoch) + "</td>";
    for (const auto& c : cols) {
      const double v = e.*(c.field);
      h += "<td class=\"num\">" +
           (c.kind == 1   ? format_percent(v, 2)
            : c.kind == 2 ? format_duration(v)
                          : format_general(v, 4)) +
           "</td>";
    }
    h += "</tr>";
  }
  return h + "</tbody></table></details></section>";
}

constexpr std::string_view kStyle = R"css(
:root { color-scheme: light; --fg: #1f2933; --muted: #616e7c; --line: #e4e7eb; --bg: #f3f5f8;
  --card: #ffffff; --accent: #2563eb; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
    "Noto Sans", "Liberation Sans", sans-serif; }
.wrap { max-width: 1160px; margin: 0 auto; padding: 0 24px; }
header.page { background: var(--card); border-bottom: 1px solid var(--line); }
header.page .wrap { padding-top: 26px; padding-bottom: 0; }
.brand { font-size: 12px; font-weight: 700; letter-spacing: .12em; text-transform: uppercase;
  color: var(--accent); }
h1 { font-size: 26px; line-height: 1.25; margin: 4px 0 4px; font-weight: 700; }
.subtitle { margin: 0 0 14px; color: var(--muted); font-size: 14px; }
nav { display: flex; flex-wrap: wrap; gap: 2px 4px; margin: 0 -10px; }
nav a { color: var(--muted); text-decoration: none; font-size: 13.5px; font-weight: 500;
  padding: 8px 10px 10px; border-bottom: 2px solid transparent; }
nav a:hover { color: var(--accent); border-bottom-color: var(--accent); }
main.wrap { padding-top: 22px; padding-bottom: 8px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 12px;
  padding: 20px 24px 22px; margin: 0 0 20px; box-shadow: 0 1px 2px rgba(15, 23, 42, .04); }
h2 { font-size: 18px; margin: 0 0 4px; font-weight: 650; }
h3 { font-size: 14.5px; margin: 20px 0 6px; font-weight: 650; }
.muted { color: var(--muted); font-weight: 400; }
p.lead { color: var(--muted); font-size: 13.5px; margin: 0 0 14px; max-width: 860px; }
p.note { background: #f8fafc; border: 1px dashed #cbd2d9; border-radius: 8px; padding: 10px 14px;
  color: var(--muted); font-size: 13.5px; margin: 12px 0 0; }
.metrics { display: grid; grid-template-columns: repeat(auto-fill, minmax(196px, 1fr)); gap: 12px;
  margin: 12px 0 18px; }
.metric { background: #f8fafc; border: 1px solid var(--line); border-radius: 10px;
  padding: 12px 14px; }
.metric-label { font-size: 12.5px; color: var(--muted); font-weight: 600; white-space: nowrap;
  overflow: hidden; text-overflow: ellipsis; }
.metric-value { font-size: 24px; font-weight: 650; font-variant-numeric: tabular-nums;
  margin-top: 2px; }
.metric-sub { font-size: 12px; color: var(--muted); }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
table.kv { width: 100%; font-size: 14px; }
table.kv th { text-align: left; font-weight: 500; color: var(--muted); width: 210px;
  vertical-align: top; padding: 6px 16px 6px 0; border-top: 1px solid var(--line); }
table.kv td { padding: 6px 0; border-top: 1px solid var(--line); overflow-wrap: anywhere; }
table.data { width: 100%; font-size: 13.5px; }
table.data th { text-align: left; font-weight: 600; color: #3e4c59; padding: 6px 10px;
  border-bottom: 2px solid var(--line); white-space: nowrap; }
table.data td { padding: 5px 10px; border-bottom: 1px solid #eef1f5; }
table.data .num { text-align: right; }
table.data tfoot td { font-weight: 600; border-top: 2px solid var(--line); border-bottom: 0; }
table.compact td { padding: 3px 10px; }
td.bar { background: linear-gradient(#8fb0f4, #8fb0f4) no-repeat left 10px bottom 3px /
  calc((100% - 20px) * var(--v)) 3px; padding-bottom: 7px; }
table.data td:first-child { white-space: nowrap; }
table.auto { width: auto; min-width: 50%; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(440px, 1fr)); gap: 20px; }
figure { margin: 0; }
figcaption { font-size: 13px; font-weight: 600; color: #3e4c59; margin: 0 0 4px; }
svg { display: block; font-family: inherit; }
svg.chart { width: 100%; height: auto; }
svg text { font-size: 11.5px; fill: #52606d; }
svg .axis line { stroke: #9aa5b1; stroke-width: 1; }
svg .grid line { stroke: #e6eaf0; stroke-width: 1; }
svg .grid line.minor { stroke: #f2f4f7; }
svg .axis-label { fill: #3e4c59; font-weight: 600; font-size: 12px; }
svg .legend text { fill: var(--fg); font-size: 12px; }
svg.heatmap { max-width: 100%; height: auto; }
table.importance { border-collapse: collapse; margin: 12px 0; }
table.importance th, table.importance td { padding: 4px 14px 4px 0; text-align: left; }
table.importance td.num { text-align: right; font-variant-numeric: tabular-nums; }
svg .cells.outlined rect { stroke: #ffffff; stroke-width: 1; }
svg .labels text { fill: #3e4c59; }
svg text.count { fill: #1f2933; font-weight: 600; }
svg text.count.on-dark { fill: #ffffff; }
.split { display: grid; grid-template-columns: repeat(auto-fit, minmax(440px, 1fr)); gap: 24px;
  align-items: start; }
.table-box.scroll { max-height: 560px; overflow-y: auto; border-bottom: 1px solid var(--line); }
.table-box.scroll thead { position: sticky; top: 0; z-index: 1; }
.table-box.scroll tfoot { position: sticky; bottom: 0; z-index: 1; }
.table-box.scroll thead th, .table-box.scroll tfoot td { background: var(--card); }
.ramps { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 8px; font-size: 12px;
  color: var(--muted); margin-top: 6px; }
.ramp { display: inline-block; width: 110px; height: 10px; border-radius: 3px;
  border: 1px solid var(--line); }
.ramp-ends { margin-right: 12px; }
.colorbar { display: flex; align-items: center; gap: 8px; font-size: 12px; color: var(--muted);
  margin: 0 0 12px; }
.colorbar .ramp { width: 180px; }
ol.confusions { margin: 0; padding-left: 22px; font-size: 13.5px; }
ol.confusions li { margin: 2px 0; }
.tiles { display: flex; flex-wrap: wrap; gap: 6px; }
img.pix { image-rendering: pixelated; display: block; border-radius: 3px; }
.tiles img { border: 1px solid var(--line); }
.examples { display: grid; grid-template-columns: repeat(auto-fill, minmax(118px, 1fr));
  gap: 14px 10px; }
.example { display: flex; flex-direction: column; align-items: center; text-align: center; }
.example img, .no-pixels { background: #000; }
.no-pixels { color: #cbd2d9; font-size: 11px; display: flex; align-items: center;
  justify-content: center; border-radius: 3px; }
.example figcaption { font-weight: 400; font-size: 12px; line-height: 1.35; margin: 5px 0 0;
  display: flex; flex-direction: column; max-width: 118px; overflow-wrap: anywhere; }
.example .k { color: #9aa5b1; font-size: 10.5px; text-transform: uppercase; letter-spacing: .04em;
  margin-right: 2px; }
.example .truth { color: #15803d; font-weight: 600; }
.example .pred { color: #b91c1c; }
.example .conf { color: var(--muted); font-size: 11px; }
details summary { cursor: pointer; color: var(--muted); font-size: 13.5px; margin: 4px 0 8px; }
footer.wrap { color: #9aa5b1; font-size: 12.5px; padding-top: 4px; padding-bottom: 28px; }
@media (max-width: 720px) {
  .charts, .split { grid-template-columns: minmax(0, 1fr); }
  .wrap { padding: 0 12px; }
}
@media print {
  body { background: #fff; }
  .card { box-shadow: none; break-inside: avoid; }
  nav { display: none; }
}
)css";

}  // namespace

std::string render_report_html(const ReportData& data) {
  validate(data);
  const std::string title = data.title.empty() ? "fcnet training report" : data.title;

  std::vector<Section> sections = {
      {"summary", "Summary", section_summary(data)},
      {"curves", "Loss & accuracy", section_curves(data)},
      {"schedule", "Learning rate", section_schedule(data)},
      {"confusion", "Confusion matrix", section_confusion(data)},
      {"norms", "Norms", section_norms(data)},
      {"first-layer", "First layer", section_first_layer(data)},
      {"misclassified", "Misclassified", section_misclassified(data)},
      {"epochs", "Per epoch", section_epochs(data)},
  };

  if (!data.roc.empty() || !data.importance.empty())
    sections.insert(sections.begin() + 4, {"tabular", "Ranking & columns", section_tabular(data)});

  std::vector<std::string> facts;
  if (!data.epochs.empty())
    facts.push_back(std::to_string(data.epochs.size()) +
                    (data.epochs.size() == 1 ? " epoch" : " epochs"));
  if (num_classes(data) > 0) facts.push_back(std::to_string(num_classes(data)) + " classes");
  if (data.first_layer_inputs > 0)
    facts.push_back(std::to_string(data.first_layer_inputs) + " input features");
  std::string subtitle;
  for (const auto& f : facts) subtitle += (subtitle.empty() ? "" : " · ") + f;

  std::string h;
  h.reserve(1 << 16);
  h += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
       "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
       "img-src data:; style-src 'unsafe-inline'\">\n"
       "<meta name=\"generator\" content=\"fcnet\">\n<title>" +
       html_escape(title) + "</title>\n<style>" + std::string(kStyle) +
       "</style>\n</head>\n<body>\n";
  h += "<header class=\"page\"><div class=\"wrap\"><div class=\"brand\">fcnet · training report"
       "</div><h1>" +
       html_escape(title) + "</h1>";
  if (!subtitle.empty()) h += "<p class=\"subtitle\">" + html_escape(subtitle) + "</p>";
  h += "<nav>";
  for (const auto& s : sections) h += "<a href=\"#" + s.id + "\">" + html_escape(s.nav) + "</a>";
  h += "</nav></div></header>\n<main class=\"wrap\">\n";
  for (const auto& s : sections) h += s.html + "\n";
  h += "</main>\n<footer class=\"wrap\">Generated by fcnet. This page is self-contained: no "
       "scripts, no network access.</footer>\n</body>\n</html>\n";
  return h;
}

}  // namespace fcnet
