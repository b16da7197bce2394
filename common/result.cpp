#include "common/result.h"

#include <fmt/format.h>

namespace opfleet {

const char* to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kNetwork: return "network";
    case ErrorKind::kTimeout: return "timeout";
    case ErrorKind::kThrottled: return "throttled";
    case ErrorKind::kUnavailable: return "unavailable";
    case ErrorKind::kNotFound: return "not_found";
    case ErrorKind::kInvalid: return "invalid";
    case ErrorKind::kConflict: return "conflict";
    case ErrorKind::kAuth: return "auth";
    case ErrorKind::kInternal: return "internal";
  }
  return "unknown";
}

std::string Error::describe() const {
  std::string out = fmt::format("{}: {}", to_string(kind), message);
  if (!code.empty() && http_status != 0) {
    out += fmt::format(" [{}, HTTP {}]", code, http_status);
  } else if (!code.empty()) {
    out += fmt::format(" [{}]", code);
  } else if (http_status != 0) {
    out += fmt::format(" [HTTP {}]", http_status);
  }
  return out;
}

}  // namespace opfleet
