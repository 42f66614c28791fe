// Errors: the one exception type the library throws.
#pragma once

#include <stdexcept>
#include <string>

namespace fcnet {

// Thrown for every recoverable failure: bad input, bad shapes, I/O. The message says what was
// wrong, where (file, line or tensor name) and what was expected.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Builds "<where>: <what>, expected <expected>" (parts left empty are omitted).
std::string error_message(const std::string& where, const std::string& what,
                          const std::string& expected = "");

[[noreturn]] void fail(const std::string& where, const std::string& what,
                       const std::string& expected = "");

}  // namespace fcnet

// Checks an invariant of the caller's input; throws fcnet::Error when it does not hold.
#define FCNET_CHECK(cond, where, what, expected)       \
  do {                                                 \
    if (!(cond)) ::fcnet::fail(where, what, expected); \
  } while (0)
