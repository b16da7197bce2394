#include "sqs/queue_spec.h"

#include <charconv>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace opfleet::sqs {
namespace {

Status put_int(Attributes& out, const char* name, const std::optional<int>& value, int lo, int hi) {
  if (!value) return ok();
  if (*value < lo || *value > hi) {
    return fail(Error::invalid(
        fmt::format("queue attribute {} must be between {} and {}, got {}", name, lo, hi, *value)));
  }
  out[name] = std::to_string(*value);
  return ok();
}

}  // namespace

std::string RedrivePolicy::to_json() const {
  // Compact and in this key order: AWS echoes the string back as given, which keeps the
  // comparison in provisioning simple to read in logs.
  nlohmann::ordered_json j;
  j["deadLetterTargetArn"] = dead_letter_target_arn;
  j["maxReceiveCount"] = max_receive_count;
  return j.dump();
}

Result<RedrivePolicy> RedrivePolicy::parse(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object())
    return fail(Error::invalid(fmt::format("RedrivePolicy is not a JSON object: {}", text)));
  RedrivePolicy p;
  auto arn = j.find("deadLetterTargetArn");
  if (arn == j.end() || !arn->is_string()) {
    return fail(Error::invalid(fmt::format("RedrivePolicy has no deadLetterTargetArn: {}", text)));
  }
  p.dead_letter_target_arn = arn->get<std::string>();
  auto count = j.find("maxReceiveCount");
  if (count != j.end() && count->is_number_integer()) {
    p.max_receive_count = count->get<int>();
  } else if (count != j.end() && count->is_string()) {
    const std::string s = count->get<std::string>();
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), p.max_receive_count);
    if (ec != std::errc() || ptr != s.data() + s.size()) {
      return fail(
          Error::invalid(fmt::format("RedrivePolicy maxReceiveCount '{}' is not a number", s)));
    }
  } else {
    return fail(Error::invalid(fmt::format("RedrivePolicy has no maxReceiveCount: {}", text)));
  }
  return p;
}

Result<Attributes> QueueSpec::attributes() const {
  Attributes out = extra;
  if (fifo()) out[attr::kFifoQueue] = "true";
  OPFLEET_TRY_STATUS(put_int(out, attr::kVisibilityTimeout, visibility_timeout_s, 0, 43200));
  OPFLEET_TRY_STATUS(put_int(out, attr::kReceiveMessageWaitTimeSeconds, receive_wait_s, 0, 20));
  OPFLEET_TRY_STATUS(put_int(out, attr::kMessageRetentionPeriod, retention_s, 60, 1209600));
  OPFLEET_TRY_STATUS(put_int(out, attr::kDelaySeconds, delay_s, 0, 900));
  if (content_based_deduplication) {
    if (!fifo()) {
      return fail(Error::invalid(
          fmt::format("queue '{}': ContentBasedDeduplication applies to FIFO queues only", name)));
    }
    out[attr::kContentBasedDeduplication] = *content_based_deduplication ? "true" : "false";
  }
  if (redrive) {
    if (redrive->dead_letter_target_arn.empty()) {
      return fail(Error::invalid(fmt::format("queue '{}': RedrivePolicy needs a DLQ ARN", name)));
    }
    if (redrive->max_receive_count < 1 || redrive->max_receive_count > 1000) {
      return fail(Error::invalid(fmt::format(
          "queue '{}': RedrivePolicy maxReceiveCount must be between 1 and 1000, got {}", name,
          redrive->max_receive_count)));
    }
    out[attr::kRedrivePolicy] = redrive->to_json();
  }
  return out;
}

}  // namespace opfleet::sqs
