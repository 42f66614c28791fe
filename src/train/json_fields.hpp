// Typed reading of the JSON objects in fcnet's files (checkpoints, their training options), with
// messages that name the file and the field's path.
#pragma once

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fcnet/error.hpp"

namespace fcnet::detail {

// Typed access to a JSON object with messages naming the file and the field's path.
class Fields {
  using json = nlohmann::json;

 public:
  const json& raw() const { return j_; }
  const std::string& where() const { return where_; }
  Fields(const json& j, std::string where, std::string path)
      : j_(j), where_(std::move(where)), path_(std::move(path)) {
    if (!j_.is_object()) fail(where_, "checkpoint field '" + path_ + "' is not an object", "{...}");
  }
  const json& at(const std::string& key, bool (json::*is)() const, const char* type) const {
    auto it = j_.find(key);
    if (it == j_.end())
      fail(where_, "checkpoint lacks field '" + name(key) + "'",
           "a complete checkpoint written by fcnet train");
    if (!((*it).*is)())
      fail(where_, "checkpoint field '" + name(key) + "' is " + it->dump().substr(0, 40),
           std::string(type));
    return *it;
  }
  double num(const std::string& key) const {
    return at(key, &json::is_number, "a number").get<double>();
  }
  // A finite number, or NaN for null (JSON has no NaN; records store absent values as null).
  double num_or_nan(const std::string& key) const {
    auto it = j_.find(key);
    if (it != j_.end() && it->is_null()) return std::numeric_limits<double>::quiet_NaN();
    return num(key);
  }
  int64_t int64(const std::string& key, int64_t lo = std::numeric_limits<int64_t>::min()) const {
    const json& v = at(key, &json::is_number_integer, "an integer");
    const int64_t x = v.is_number_unsigned() && v.get<uint64_t>() > INT64_MAX
                          ? std::numeric_limits<int64_t>::max()
                          : v.get<int64_t>();
    if (x < lo)
      fail(where_, "checkpoint field '" + name(key) + "' is " + std::to_string(x),
           "a value >= " + std::to_string(lo));
    return x;
  }
  std::string str(const std::string& key) const {
    return at(key, &json::is_string, "a string").get<std::string>();
  }
  Fields obj(const std::string& key) const {
    return Fields(at(key, &json::is_object, "an object"), where_, name(key));
  }
  const json& arr(const std::string& key) const { return at(key, &json::is_array, "a list"); }
  std::string name(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

 private:
  const json& j_;
  std::string where_;
  std::string path_;
};

}  // namespace fcnet::detail
