#include "fcnet/error.hpp"

namespace fcnet {

std::string error_message(const std::string& where, const std::string& what,
                          const std::string& expected) {
  std::string m;
  if (!where.empty()) m = where + ": ";
  m += what;
  if (!expected.empty()) m += ", expected " + expected;
  return m;
}

void fail(const std::string& where, const std::string& what, const std::string& expected) {
  throw Error(error_message(where, what, expected));
}

}  // namespace fcnet
