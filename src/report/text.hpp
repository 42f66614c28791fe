// Text helpers of the HTML report: escaping and locale-independent number formatting, so that the
// same data always gives the same bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace fcnet::report_detail {

// What the report prints for a value that is NaN or infinite.
inline constexpr std::string_view kMissingText = "\u2014";

// Escapes & < > " ' for use in element text and quoted attribute values; drops control
// characters other than tab and newline.
std::string html_escape(std::string_view s);

// `decimals` digits after the point ("0.125"); kMissingText when v is not finite. Never "-0".
std::string format_fixed(double v, int decimals);
// Shortest of fixed/scientific with `significant` digits ("0.0012", "1.5e-05").
std::string format_general(double v, int significant);
// A fraction as a percentage: 0.8531 → "85.3%" with one decimal.
std::string format_percent(double fraction, int decimals);
// Seconds as "12.3 s", "4 min 05 s" or "2 h 03 min".
std::string format_duration(double seconds);
// SVG coordinate: one decimal, trailing ".0" dropped.
std::string format_coord(double v);

// Colour as "#rrggbb".
struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
};
std::string css_color(Rgb c);
// Linear blend of a (t = 0) and b (t = 1); t is clamped to 0..1.
Rgb mix(Rgb a, Rgb b, double t);

}  // namespace fcnet::report_detail
