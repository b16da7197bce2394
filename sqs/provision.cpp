#include "sqs/provision.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include <fmt/format.h>

#include "common/log.h"
#include "sqs/queue_spec.h"

namespace opfleet::sqs {
namespace {

constexpr std::string_view kFifoSuffix = ".fifo";
constexpr const char* kNotSet = "(not set)";

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool is_boolean_attribute(std::string_view name) {
  return name == attr::kFifoQueue || name == attr::kContentBasedDeduplication ||
         name == "SqsManagedSseEnabled";
}

bool same_value(const std::string& name, const std::string& wanted, const std::string* actual) {
  if (name == attr::kRedrivePolicy) {
    if (actual == nullptr) return false;
    auto w = RedrivePolicy::parse(wanted);
    auto a = RedrivePolicy::parse(*actual);
    return w && a && *w == *a;
  }
  if (is_boolean_attribute(name)) {
    // SQS omits FifoQueue on standard queues and may omit ContentBasedDeduplication.
    return lower(wanted) == lower(actual == nullptr ? "false" : *actual);
  }
  return actual != nullptr && *actual == wanted;
}

Result<Attributes> queue_attributes(const ProvisionSpec& spec, const std::string& dlq_arn) {
  QueueSpec q;
  q.name = spec.queue_name;
  q.visibility_timeout_s = spec.visibility_timeout_s;
  q.receive_wait_s = spec.receive_wait_s;
  q.retention_s = spec.retention_s;
  q.redrive = RedrivePolicy{dlq_arn, spec.max_receive_count};
  return q.attributes();
}

Result<Attributes> dlq_attributes(const ProvisionSpec& spec) {
  QueueSpec q;
  q.name = spec.dlq_name.empty() ? default_dlq_name(spec.queue_name) : spec.dlq_name;
  q.retention_s = spec.dlq_retention_s;
  return q.attributes();
}

Error conflict_error(std::string_view name, const std::vector<AttributeConflict>& conflicts) {
  std::string detail;
  for (const auto& c : conflicts) {
    if (!detail.empty()) detail += "; ";
    detail += fmt::format("{} is {}, wanted {}", c.attribute, c.actual, c.wanted);
  }
  return Error::make(
      ErrorKind::kConflict,
      fmt::format("queue '{}' already exists with other settings: {}. opfleet does not change "
                  "an existing queue: change its attributes or the provision settings",
                  name, detail));
}

Result<std::string> arn_of(Client& client, const std::string& url) {
  const std::string names[] = {attr::kQueueArn};
  OPFLEET_TRY(Attributes a, client.get_queue_attributes(url, names));
  auto it = a.find(attr::kQueueArn);
  if (it == a.end() || it->second.empty()) {
    return fail(Error::internal(fmt::format("SQS gave no QueueArn for {}", url)));
  }
  return it->second;
}

// Makes `name` exist with `wanted`: created when absent, checked when present.
Result<ProvisionedQueue> ensure_queue(Client& client, const std::string& name,
                                      const Attributes& wanted) {
  ProvisionedQueue q;
  q.name = name;
  auto url = client.get_queue_url(name);
  if (!url && url.error().kind != ErrorKind::kNotFound) return fail(std::move(url).error());
  if (!url) {
    auto created = client.create_queue(name, wanted);
    if (!created && created.error().kind == ErrorKind::kConflict) {
      // Someone created it between our two calls, with other settings: describe them.
      url = client.get_queue_url(name);
      if (!url) return fail(std::move(created).error());
    } else if (!created) {
      return fail(std::move(created).error());
    } else {
      q.url = std::move(*created);
      q.created = true;
      OPFLEET_TRY(q.arn, arn_of(client, q.url));
      log::info("queue_created", {{"queue", name}, {"url", q.url}});
      return q;
    }
  }
  q.url = std::move(*url);
  OPFLEET_TRY(Attributes actual, client.get_queue_attributes(q.url));
  auto conflicts = attribute_conflicts(wanted, actual);
  if (!conflicts.empty()) return fail(conflict_error(name, conflicts));
  auto arn = actual.find(attr::kQueueArn);
  if (arn == actual.end() || arn->second.empty()) {
    return fail(Error::internal(fmt::format("SQS gave no QueueArn for {}", q.url)));
  }
  q.arn = arn->second;
  return q;
}

}  // namespace

std::string default_dlq_name(std::string_view queue_name) {
  if (queue_name.ends_with(kFifoSuffix)) {
    queue_name.remove_suffix(kFifoSuffix.size());
    return fmt::format("{}-dlq{}", queue_name, kFifoSuffix);
  }
  return fmt::format("{}-dlq", queue_name);
}

std::vector<AttributeConflict> attribute_conflicts(const Attributes& wanted,
                                                   const Attributes& actual) {
  std::vector<AttributeConflict> out;
  for (const auto& [name, value] : wanted) {
    auto it = actual.find(name);
    const std::string* a = it == actual.end() ? nullptr : &it->second;
    if (same_value(name, value, a)) continue;
    if (name == attr::kRedrivePolicy && a != nullptr) {
      // Name the field that differs rather than print two JSON documents side by side.
      auto w = RedrivePolicy::parse(value);
      auto have = RedrivePolicy::parse(*a);
      if (w && have) {
        if (w->dead_letter_target_arn != have->dead_letter_target_arn) {
          out.push_back({"RedrivePolicy.deadLetterTargetArn", w->dead_letter_target_arn,
                         have->dead_letter_target_arn});
        }
        if (w->max_receive_count != have->max_receive_count) {
          out.push_back({"RedrivePolicy.maxReceiveCount", std::to_string(w->max_receive_count),
                         std::to_string(have->max_receive_count)});
        }
        continue;
      }
    }
    out.push_back({name, value, a == nullptr ? std::string(kNotSet) : *a});
  }
  return out;
}

Status validate(const ProvisionSpec& spec) {
  const std::string dlq = spec.dlq_name.empty() ? default_dlq_name(spec.queue_name) : spec.dlq_name;
  if (dlq == spec.queue_name) {
    return fail(Error::invalid(fmt::format("the DLQ must be another queue than '{}'", dlq)));
  }
  // SQS requires a FIFO queue's dead-letter queue to be FIFO too, a standard one's standard.
  if (spec.queue_name.ends_with(kFifoSuffix) != dlq.ends_with(kFifoSuffix)) {
    return fail(Error::invalid(
        fmt::format("queue '{}' and its DLQ '{}' must both be FIFO (.fifo) or both standard",
                    spec.queue_name, dlq)));
  }
  if (spec.dlq_retention_s < spec.retention_s) {
    return fail(Error::invalid(fmt::format(
        "the DLQ retention ({} s) must not be shorter than the queue's ({} s): messages keep "
        "their first enqueue time in the DLQ",
        spec.dlq_retention_s, spec.retention_s)));
  }
  // Names and ranges: the same checks CreateQueue would make, before any call.
  OPFLEET_TRY_STATUS(dlq_attributes(spec));
  OPFLEET_TRY_STATUS(queue_attributes(spec, "arn:aws:sqs:region:000000000000:validate"));
  for (const std::string& n : {spec.queue_name, dlq}) {
    std::string_view stem = n;
    if (stem.ends_with(kFifoSuffix)) stem.remove_suffix(kFifoSuffix.size());
    const bool chars_ok = std::all_of(stem.begin(), stem.end(), [](unsigned char c) {
      return std::isalnum(c) != 0 || c == '-' || c == '_';
    });
    if (stem.empty() || n.size() > 80 || !chars_ok) {
      return fail(Error::invalid(fmt::format(
          "queue name '{}' must be 1-80 characters of A-Z a-z 0-9 - _ (FIFO: ending in .fifo)",
          n)));
    }
  }
  return ok();
}

Result<ProvisionResult> provision(Client& client, const ProvisionSpec& spec) {
  OPFLEET_TRY_STATUS(validate(spec));
  const std::string dlq_name =
      spec.dlq_name.empty() ? default_dlq_name(spec.queue_name) : spec.dlq_name;
  ProvisionResult result;
  OPFLEET_TRY(Attributes dlq_wanted, dlq_attributes(spec));
  OPFLEET_TRY(result.dlq, ensure_queue(client, dlq_name, dlq_wanted));
  OPFLEET_TRY(Attributes queue_wanted, queue_attributes(spec, result.dlq.arn));
  OPFLEET_TRY(result.queue, ensure_queue(client, spec.queue_name, queue_wanted));
  return result;
}

}  // namespace opfleet::sqs
