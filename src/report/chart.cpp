#include "report/chart.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "report/text.hpp"

namespace fcnet::report_detail {

double nice_step(double raw) {
  if (!(raw > 0) || !std::isfinite(raw)) return 1.0;
  const double exponent = std::floor(std::log10(raw));
  const double base = std::pow(10.0, exponent);
  const double f = raw / base;
  const double n = f <= 1.0 + 1e-9 ? 1.0 : f <= 2.0 + 1e-9 ? 2.0 : f <= 5.0 + 1e-9 ? 5.0 : 10.0;
  return n * base;
}

Ticks linear_ticks(double lo, double hi, int target, bool integer_steps) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;
  if (lo > hi) std::swap(lo, hi);
  const double magnitude = std::max(std::fabs(lo), std::fabs(hi));
  if (hi - lo <= 1e-12 * std::max(magnitude, 1e-300)) {
    const double pad = integer_steps ? 0.5 : (magnitude > 0 ? 0.5 * magnitude : 1.0);
    lo -= pad;
    hi += pad;
  }
  Ticks t;
  double step = nice_step((hi - lo) / std::max(target - 1, 1));
  if (integer_steps) step = std::max(step, 1.0);
  t.step = step;
  if (integer_steps) {
    // The domain stays the data range (epochs 1..E); ticks are the integers on the step inside.
    t.lo = lo;
    t.hi = hi;
    for (double k = std::ceil(lo / step - 1e-9); k * step <= hi + 1e-9; k += 1.0)
      t.values.push_back(k * step);
    return t;
  }
  const double k0 = std::floor(lo / step + 1e-9);
  const double k1 = std::ceil(hi / step - 1e-9);
  t.lo = k0 * step;
  t.hi = k1 * step;
  for (double k = k0; k <= k1 + 0.5; k += 1.0) t.values.push_back(k * step);
  return t;
}

Ticks log_ticks(double lo, double hi) {
  Ticks t;
  const double d0 = std::floor(std::log10(lo) + 1e-9);
  const double d1 = std::max(std::ceil(std::log10(hi) - 1e-9), d0 + 1);
  t.lo = std::pow(10.0, d0);
  t.hi = std::pow(10.0, d1);
  const double decades = d1 - d0;
  const double every = decades > 8 ? std::ceil(decades / 6) : 1.0;
  for (double d = d0; d <= d1 + 0.5; d += every) {
    t.values.push_back(std::pow(10.0, d));
    if (decades <= 2 && d < d1 - 0.5) {
      t.values.push_back(2 * std::pow(10.0, d));
      t.values.push_back(5 * std::pow(10.0, d));
    }
  }
  return t;
}

namespace {

// Digits after the point that tell ticks `step` apart.
int decimals_for(double step) {
  if (!(step > 0)) return 0;
  return std::clamp(static_cast<int>(-std::floor(std::log10(step) + 1e-9)), 0, 12);
}

// Rough width of `text` in px at font size `px` (system sans-serif, average glyph).
double text_width(const std::string& text, double px) {
  return static_cast<double>(text.size()) * px * 0.58;
}

struct Axis {
  double d0, d1;  // domain
  double p0, p1;  // pixel range
  bool log = false;
  double operator()(double v) const {
    const double a = log ? std::log10(d0) : d0;
    const double b = log ? std::log10(d1) : d1;
    const double x = log ? std::log10(v) : v;
    return p0 + (x - a) / (b - a) * (p1 - p0);
  }
};

}  // namespace

std::string render_line_chart(const ChartOptions& opt, const std::vector<ChartSeries>& series) {
  const double width = opt.width;
  const double height = opt.height;
  constexpr double kFont = 11.5;

  // Data ranges over the finite points only.
  double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
  std::vector<const ChartSeries*> drawn;
  for (const auto& s : series) {
    std::size_t finite = 0;
    for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      ++finite;
      xlo = std::min(xlo, s.x[i]);
      xhi = std::max(xhi, s.x[i]);
      ylo = std::min(ylo, s.y[i]);
      yhi = std::max(yhi, s.y[i]);
    }
    if (finite > 0) drawn.push_back(&s);
  }
  if (drawn.empty()) xlo = 0, xhi = 1, ylo = 0, yhi = 1;

  // Legend rows, laid out left to right and wrapped to the chart width.
  constexpr double kLeft = 62, kRight = 18, kBottom = 46;
  struct LegendItem {
    const ChartSeries* s;
    double x, y;
  };
  std::vector<LegendItem> legend;
  double lx = kLeft, ly = 16;
  for (const ChartSeries* s : drawn) {
    const double w = 24 + text_width(s->label, kFont) + 18;
    if (lx + w > width - kRight && lx > kLeft) lx = kLeft, ly += 18;
    legend.push_back({s, lx, ly});
    lx += w;
  }
  const double top = ly + 16;
  const double plot_bottom = height - kBottom;

  // Axes.
  if (opt.include_zero) ylo = std::min(ylo, 0.0), yhi = std::max(yhi, 0.0);
  const bool log_y =
      !opt.include_zero && opt.log_when_wide && !drawn.empty() && ylo > 0 && yhi / ylo >= 30;
  Ticks yt = log_y ? log_ticks(ylo, yhi) : linear_ticks(ylo, yhi, 6, false);
  if (!log_y) {
    yt.lo = std::max(yt.lo, opt.y_floor);
    yt.hi = std::min(yt.hi, opt.y_ceil);
    if (!(yt.hi > yt.lo)) yt = linear_ticks(ylo, yhi, 6, false);
    std::erase_if(yt.values, [&](double v) {
      return v < yt.lo - 1e-9 * yt.step || v > yt.hi + 1e-9 * yt.step;
    });
  }
  Ticks xt = opt.integer_x ? linear_ticks(xlo, xhi, 9, true) : linear_ticks(xlo, xhi, 7, false);
  const Axis ax{xt.lo, xt.hi, kLeft, width - kRight, false};
  const Axis ay{yt.lo, yt.hi, plot_bottom, top, log_y};

  auto y_tick_label = [&](double v) {
    if (log_y) return format_general(opt.percent ? v * 100 : v, 3) + (opt.percent ? "%" : "");
    if (opt.percent) return format_fixed(v * 100, decimals_for(yt.step * 100)) + "%";
    return format_fixed(v, decimals_for(yt.step));
  };
  auto value_text = [&](double v) {
    return opt.percent ? format_percent(v, 2) : format_general(v, 4);
  };

  const std::string id = html_escape(opt.id);
  std::string svg;
  svg += "<svg class=\"chart\" id=\"" + id + "\" viewBox=\"0 0 " + std::to_string(opt.width) + " " +
         std::to_string(opt.height) + "\" width=\"" + std::to_string(opt.width) + "\" height=\"" +
         std::to_string(opt.height) + "\" role=\"img\" aria-labelledby=\"" + id + "-title\"" +
         (log_y ? " data-scale=\"log\"" : " data-scale=\"linear\"") + ">";
  svg += "<title id=\"" + id + "-title\">" + html_escape(opt.title) + "</title>";

  // Grid and tick labels.
  svg += "<g class=\"grid\">";
  for (double v : yt.values) {
    const std::string y = format_coord(ay(v));
    svg += "<line x1=\"" + format_coord(kLeft) + "\" x2=\"" + format_coord(width - kRight) +
           "\" y1=\"" + y + "\" y2=\"" + y + "\"/>";
  }
  for (double v : xt.values) {
    const std::string x = format_coord(ax(v));
    svg += "<line class=\"minor\" x1=\"" + x + "\" x2=\"" + x + "\" y1=\"" + format_coord(top) +
           "\" y2=\"" + format_coord(plot_bottom) + "\"/>";
  }
  svg += "</g>";

  svg += "<g class=\"axis axis-y\">";
  svg += "<line x1=\"" + format_coord(kLeft) + "\" x2=\"" + format_coord(kLeft) + "\" y1=\"" +
         format_coord(top) + "\" y2=\"" + format_coord(plot_bottom) + "\"/>";
  for (double v : yt.values) {
    const double y = ay(v);
    svg += "<line x1=\"" + format_coord(kLeft - 5) + "\" x2=\"" + format_coord(kLeft) + "\" y1=\"" +
           format_coord(y) + "\" y2=\"" + format_coord(y) + "\"/>";
    svg += "<text x=\"" + format_coord(kLeft - 8) + "\" y=\"" + format_coord(y + 4) +
           "\" text-anchor=\"end\">" + html_escape(y_tick_label(v)) + "</text>";
  }
  const double mid_y = (top + plot_bottom) / 2;
  svg += "<text class=\"axis-label\" transform=\"translate(14 " + format_coord(mid_y) +
         ") rotate(-90)\" text-anchor=\"middle\">" + html_escape(opt.y_label) +
         (log_y ? " (log scale)" : "") + "</text>";
  svg += "</g>";

  svg += "<g class=\"axis axis-x\">";
  svg += "<line x1=\"" + format_coord(kLeft) + "\" x2=\"" + format_coord(width - kRight) +
         "\" y1=\"" + format_coord(plot_bottom) + "\" y2=\"" + format_coord(plot_bottom) + "\"/>";
  const int x_decimals = opt.integer_x ? 0 : decimals_for(xt.step);
  for (double v : xt.values) {
    const double x = ax(v);
    svg += "<line x1=\"" + format_coord(x) + "\" x2=\"" + format_coord(x) + "\" y1=\"" +
           format_coord(plot_bottom) + "\" y2=\"" + format_coord(plot_bottom + 5) + "\"/>";
    svg += "<text x=\"" + format_coord(x) + "\" y=\"" + format_coord(plot_bottom + 18) +
           "\" text-anchor=\"middle\">" + format_fixed(v, x_decimals) + "</text>";
  }
  svg += "<text class=\"axis-label\" x=\"" + format_coord((kLeft + width - kRight) / 2) +
         "\" y=\"" + format_coord(height - 8) + "\" text-anchor=\"middle\">" +
         html_escape(opt.x_label) + "</text>";
  svg += "</g>";

  // Series: solid lines through consecutive measured epochs; where values are missing the
  // neighbouring points are joined by a faint dashed segment, so sparse measurements (validation
  // every k epochs) still read as a curve while the gap stays visible. Markers when a series has
  // few points.
  for (const ChartSeries* s : drawn) {
    const std::string color = html_escape(s->color);
    const std::size_t n = std::min(s->x.size(), s->y.size());
    auto ok = [&](std::size_t i) { return std::isfinite(s->x[i]) && std::isfinite(s->y[i]); };
    auto point = [&](std::size_t i) {
      return format_coord(ax(s->x[i])) + " " + format_coord(ay(s->y[i]));
    };
    std::string solid, gaps;
    std::size_t finite = 0;
    bool have_prev = false, prev_adjacent = false;
    std::size_t prev = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (!ok(i)) continue;
      ++finite;
      const bool adjacent = have_prev && prev + 1 == i;
      if (adjacent) {
        if (!prev_adjacent) solid += (solid.empty() ? "M" : " M") + point(prev);
        solid += " L" + point(i);
      } else if (have_prev) {
        gaps += (gaps.empty() ? "M" : " M") + point(prev) + " L" + point(i);
      }
      prev_adjacent = adjacent;
      have_prev = true;
      prev = i;
    }
    const std::string dash = s->dashed ? " stroke-dasharray=\"6 4\"" : "";
    svg += "<g class=\"series " + html_escape(s->css_class) + "\">";
    if (!gaps.empty())
      svg += "<path class=\"gap\" d=\"" + gaps + "\" fill=\"none\" stroke=\"" + color +
             "\" stroke-width=\"1.5\" stroke-opacity=\"0.55\" stroke-dasharray=\"3 3\"/>";
    if (!solid.empty())
      svg += "<path class=\"line\" d=\"" + solid + "\" fill=\"none\" stroke=\"" + color +
             "\" stroke-width=\"2.2\" stroke-linejoin=\"round\" stroke-linecap=\"round\"" + dash +
             "/>";
    const bool markers = finite <= 40;
    for (std::size_t i = 0; i < n; ++i) {
      if (!ok(i)) continue;
      const bool isolated = (i == 0 || !ok(i - 1)) && (i + 1 >= n || !ok(i + 1));
      if (!markers && !isolated) continue;
      svg += "<circle cx=\"" + format_coord(ax(s->x[i])) + "\" cy=\"" + format_coord(ay(s->y[i])) +
             "\" r=\"3.2\" fill=\"" + color + "\"><title>" + html_escape(s->label) + ", " +
             html_escape(opt.x_label) + " " + format_general(s->x[i], 6) + ": " +
             html_escape(value_text(s->y[i])) + "</title></circle>";
    }
    svg += "</g>";
  }

  svg += "<g class=\"legend\">";
  for (const auto& item : legend) {
    const std::string color = html_escape(item.s->color);
    svg += "<line x1=\"" + format_coord(item.x) + "\" x2=\"" + format_coord(item.x + 18) +
           "\" y1=\"" + format_coord(item.y - 4) + "\" y2=\"" + format_coord(item.y - 4) +
           "\" stroke=\"" + color + "\" stroke-width=\"3\"" +
           (item.s->dashed ? " stroke-dasharray=\"5 3\"" : "") + "/>";
    svg += "<text x=\"" + format_coord(item.x + 24) + "\" y=\"" + format_coord(item.y) + "\">" +
           html_escape(item.s->label) + "</text>";
  }
  svg += "</g></svg>";
  return svg;
}

}  // namespace fcnet::report_detail
