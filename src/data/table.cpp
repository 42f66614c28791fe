// The table schema: how a CSV's columns become features (data.hpp).
#include <algorithm>

#include "fcnet/data.hpp"

namespace fcnet {

const std::vector<std::string>& default_na_values() {
  static const std::vector<std::string> v = {"NA", "", "NaN", "nan", "null", "NULL", "?"};
  return v;
}

int64_t ColumnSpec::width() const {
  if (kind == Kind::numeric) return indicator ? 2 : 1;
  return static_cast<int64_t>(categories.size()) + (missing_category ? 1 : 0);
}

int64_t TableSchema::width() const {
  int64_t d = 0;
  for (const auto& c : columns) d += c.width();
  return d;
}

std::vector<std::string> TableSchema::feature_names() const {
  std::vector<std::string> out;
  for (const auto& c : columns) {
    if (c.kind == ColumnSpec::Kind::numeric) {
      out.push_back(c.name);
      if (c.indicator) out.push_back(c.name + "=missing");
    } else {
      for (const auto& k : c.categories) out.push_back(c.name + "=" + k);
      if (c.missing_category) out.push_back(c.name + "=missing");
    }
  }
  return out;
}

uint64_t TableSchema::encoding_hash() const {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  auto mix = [&](const std::string& s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    h = (h ^ 0xFF) * 1099511628211ull;  // a separator no UTF-8 text holds
  };
  mix(header ? "h" : "-");
  for (const auto& c : columns) {
    mix(c.name);
    mix(c.kind == ColumnSpec::Kind::numeric ? (c.indicator ? "n+" : "n") : "c");
    for (const auto& k : c.categories) mix(k);
    mix(c.missing_category ? "m" : "-");
  }
  return h;
}

}  // namespace fcnet
