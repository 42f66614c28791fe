// SVG line charts of the HTML report: per-epoch series with axes, nice ticks, grid and legend.
#pragma once

#include <limits>
#include <string>
#include <vector>

namespace fcnet::report_detail {

// One line of a chart. Points whose y is not finite break the line.
struct ChartSeries {
  std::string label;      // legend text (plain text, escaped when drawn)
  std::string css_class;  // appended to "series " on the series' <g>
  std::string color;      // CSS colour of line and markers
  bool dashed = false;
  std::vector<double> x;  // same length as y
  std::vector<double> y;
};

struct ChartOptions {
  std::string id;     // id of the <svg> element
  std::string title;  // accessible title (<title> of the svg)
  std::string x_label = "epoch";
  std::string y_label;
  bool percent = false;        // y values are fractions shown as percentages
  bool log_when_wide = false;  // logarithmic y axis when all y > 0 and they span >= 30x
  bool integer_x = true;       // x ticks only at integers (epochs)
  bool include_zero = false;   // linear y axis always reaches 0
  double y_floor = -std::numeric_limits<double>::infinity();  // y axis never extends below
  double y_ceil = std::numeric_limits<double>::infinity();    // ... nor above
  int width = 560;
  int height = 300;
};

// Axis ticks: the rounded domain [lo, hi] and the tick positions inside it.
struct Ticks {
  double lo = 0, hi = 1;
  double step = 0;  // linear spacing (0 for a log axis)
  std::vector<double> values;
};

// "Nice" spacing (1, 2 or 5 times a power of ten) of at least `raw`.
double nice_step(double raw);
// About `target` ticks on 1-2-5 steps covering [lo, hi]; a zero-width range is widened.
Ticks linear_ticks(double lo, double hi, int target, bool integer_steps);
// Decades (and 2, 5 multiples when the range is narrow) covering [lo, hi], lo > 0.
Ticks log_ticks(double lo, double hi);

// The chart as an <svg> element (no XML prologue, no namespace: it is meant for inline HTML).
std::string render_line_chart(const ChartOptions& options, const std::vector<ChartSeries>& series);

}  // namespace fcnet::report_detail
