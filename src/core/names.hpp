// The names of an enum's values, listed in the order of the values (0, 1, …): one table serves
// both the parser of a name and its printer.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <utility>

#include "fcnet/error.hpp"

namespace fcnet::detail {

using NameAlias = std::pair<const char*, int>;  // another spelling, and the value it names

// The value named `name` in `names` (or by one of `aliases`); otherwise fails at `where` with
// "unknown <what> 'name'", expecting one of the names.
inline int parse_name(std::span<const char* const> names, const std::string& name,
                      const std::string& where, const char* what,
                      std::span<const NameAlias> aliases = {}) {
  for (std::size_t i = 0; i < names.size(); ++i)
    if (name == names[i]) return static_cast<int>(i);
  for (const auto& [alias, value] : aliases)
    if (name == alias) return value;
  std::string list;
  for (const char* n : names) list += (list.empty() ? "" : ", ") + std::string(n);
  fail(where, std::string("unknown ") + what + " '" + name + "'", "one of " + list);
}

// The name of value v, or "?" outside the table.
inline const char* name_at(std::span<const char* const> names, int v) {
  return v >= 0 && static_cast<std::size_t>(v) < names.size() ? names[static_cast<std::size_t>(v)]
                                                              : "?";
}

}  // namespace fcnet::detail
