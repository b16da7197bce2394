#include "store/params.h"

#include <cmath>

#include <fmt/format.h>

namespace opfleet::store::param {

Param int64(std::int64_t v) {
  return fmt::format("{}", v);
}

Param float64(double v) {
  if (std::isnan(v)) return std::string("NaN");
  if (std::isinf(v)) return std::string(v > 0 ? "Infinity" : "-Infinity");
  return fmt::format("{}", v);  // shortest round-trip representation
}

Param boolean(bool v) {
  return std::string(v ? "true" : "false");
}

Param json(const nlohmann::json& v) {
  // Replace invalid UTF-8 rather than throw: the server would reject it anyway, and a
  // value that reaches here comes from our own structures.
  return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Param text_array(const std::vector<std::string>& items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    // Quoting every element sidesteps the rules for when quotes are needed (spaces,
    // commas, braces, the word NULL); inside quotes only " and \ need a backslash.
    out += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

}  // namespace opfleet::store::param
