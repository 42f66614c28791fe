#include "report/text.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace fcnet::report_detail {

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 8);
  for (char ch : s) {
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      case '\t':
      case '\n':
        out += ch;
        break;
      default:
        if (static_cast<unsigned char>(ch) >= 0x20 && ch != 0x7f) out += ch;
    }
  }
  return out;
}

namespace {

// Drops the sign of a result that rounds to zero ("-0.00" → "0.00").
void drop_negative_zero(std::string& s) {
  if (!s.empty() && s[0] == '-' && s.find_first_not_of("-0.") == std::string::npos) s.erase(0, 1);
}

}  // namespace

std::string format_fixed(double v, int decimals) {
  if (!std::isfinite(v)) return std::string(kMissingText);
  std::array<char, 512> buf{};
  auto res = std::to_chars(buf.data(), buf.data() + buf.size(), v, std::chars_format::fixed,
                           std::clamp(decimals, 0, 17));
  if (res.ec != std::errc()) return format_general(v, 6);
  std::string s(buf.data(), res.ptr);
  drop_negative_zero(s);
  return s;
}

std::string format_general(double v, int significant) {
  if (!std::isfinite(v)) return std::string(kMissingText);
  std::array<char, 64> buf{};
  auto res = std::to_chars(buf.data(), buf.data() + buf.size(), v, std::chars_format::general,
                           std::clamp(significant, 1, 17));
  std::string s(buf.data(), res.ptr);
  drop_negative_zero(s);
  return s;
}

std::string format_percent(double fraction, int decimals) {
  if (!std::isfinite(fraction)) return std::string(kMissingText);
  return format_fixed(fraction * 100.0, decimals) + "%";
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return std::string(kMissingText);
  if (seconds < 60) return format_fixed(seconds, seconds < 10 ? 2 : 1) + " s";
  auto total = static_cast<int64_t>(std::llround(seconds));
  std::array<char, 64> buf{};
  if (total < 3600) {
    std::snprintf(buf.data(), buf.size(), "%lld min %02lld s", static_cast<long long>(total / 60),
                  static_cast<long long>(total % 60));
  } else {
    std::snprintf(buf.data(), buf.size(), "%lld h %02lld min", static_cast<long long>(total / 3600),
                  static_cast<long long>((total % 3600) / 60));
  }
  return buf.data();
}

std::string format_coord(double v) {
  std::string s = format_fixed(v, 1);
  if (s.size() > 2 && s.compare(s.size() - 2, 2, ".0") == 0) s.resize(s.size() - 2);
  return s;
}

std::string css_color(Rgb c) {
  std::array<char, 8> buf{};
  std::snprintf(buf.data(), buf.size(), "#%02x%02x%02x", c.r, c.g, c.b);
  return buf.data();
}

Rgb mix(Rgb a, Rgb b, double t) {
  t = std::isfinite(t) ? std::clamp(t, 0.0, 1.0) : 0.0;
  auto lerp = [t](uint8_t x, uint8_t y) {
    return static_cast<uint8_t>(std::lround(x + (static_cast<double>(y) - x) * t));
  };
  return {lerp(a.r, b.r), lerp(a.g, b.g), lerp(a.b, b.b)};
}

}  // namespace fcnet::report_detail
