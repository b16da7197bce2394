#include "ecs/types.h"

#include <fmt/format.h>

namespace opfleet::ecs {

const char* to_string(InstanceStatus s) {
  switch (s) {
    case InstanceStatus::kActive:
      return "ACTIVE";
    case InstanceStatus::kDraining:
      return "DRAINING";
  }
  return "ACTIVE";
}

Error Failure::to_error(std::string_view action) const {
  // "MISSING": no such item (API failure reasons in the ECS API reference). The other
  // reasons (TASK_NOT_VALID, INACTIVE, ...) say the item cannot take this call.
  const ErrorKind kind = reason == "MISSING" ? ErrorKind::kNotFound : ErrorKind::kInvalid;
  Error e = Error::make(kind, fmt::format("ECS {}: {} {}{}{}", action, arn.empty() ? "-" : arn,
                                          reason, detail.empty() ? "" : ": ", detail));
  e.code = reason;
  return e;
}

}  // namespace opfleet::ecs
