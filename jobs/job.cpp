#include "jobs/job.h"

#include <type_traits>

namespace opfleet::jobs {

// OpDef::kind() reads the kind off the variant's index.
static_assert(std::is_same_v<std::variant_alternative_t<static_cast<int>(OpKind::kSleep), OpParams>,
                             SleepParams>);
static_assert(std::is_same_v<std::variant_alternative_t<static_cast<int>(OpKind::kFail), OpParams>,
                             FailParams>);
static_assert(
    std::is_same_v<std::variant_alternative_t<static_cast<int>(OpKind::kCommand), OpParams>,
                   CommandParams>);

const char* to_string(OpKind kind) {
  switch (kind) {
    case OpKind::kSleep:
      return "sleep";
    case OpKind::kFail:
      return "fail";
    case OpKind::kCommand:
      return "command";
  }
  return "unknown";
}

bool valid_key(std::string_view key) {
  if (key.empty() || key.size() > kMaxKeyLength) return false;
  for (char c : key) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool fails_on_attempt(const FailParams& p, int attempt) {
  return p.always || attempt <= p.fail_attempts;
}

nlohmann::json op_spec(const OpDef& op) {
  nlohmann::json spec = {{"kind", to_string(op.kind())}};
  if (const auto* s = std::get_if<SleepParams>(&op.params)) {
    spec["mean_s"] = s->mean_s;
    spec["jitter_s"] = s->jitter_s;
  } else if (const auto* f = std::get_if<FailParams>(&op.params)) {
    if (f->always) {
      spec["fail_attempts"] = "always";
    } else {
      spec["fail_attempts"] = f->fail_attempts;
    }
    spec["mean_s"] = f->sleep.mean_s;
    spec["jitter_s"] = f->sleep.jitter_s;
  } else {
    const auto& c = std::get<CommandParams>(op.params);
    spec["argv"] = c.argv;
    spec["timeout_s"] = c.timeout_s;
    spec["max_output_bytes"] = c.max_output_bytes;
  }
  return spec;
}

}  // namespace opfleet::jobs
