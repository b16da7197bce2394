#include "worker/message.h"

#include "jobs/job.h"

#include <fmt/format.h>

namespace opfleet::worker {

std::string idempotency_key(std::string_view run_id, std::string_view step_key) {
  return fmt::format("{}#{}", run_id, step_key);
}

std::string deduplication_id(std::string_view idempotency_key, int attempt) {
  return fmt::format("{}#{}", idempotency_key, attempt);
}

std::string encode(const StepMessage& m) {
  nlohmann::json j = {{"v", m.version},
                      {"run_id", m.run_id},
                      {"step_key", m.step_key},
                      {"idempotency_key", m.idempotency_key},
                      {"attempt", m.attempt},
                      {"job", m.job},
                      {"op", m.op},
                      {"time_scale", m.time_scale},
                      {"enqueued_at", m.enqueued_at}};
  return j.dump();
}

namespace {

Result<std::string> string_field(const nlohmann::json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end()) return fail(Error::invalid(fmt::format("missing field '{}'", name)));
  if (!it->is_string() || it->get_ref<const std::string&>().empty()) {
    return fail(Error::invalid(fmt::format("field '{}' must be a non-empty string", name)));
  }
  return it->get<std::string>();
}

}  // namespace

Result<StepMessage> decode(std::string_view body) {
  if (body.size() > kMaxMessageBytes) {
    return fail(Error::invalid(fmt::format("message of {} bytes exceeds the {} byte limit",
                                           body.size(), kMaxMessageBytes)));
  }
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return fail(Error::invalid("body is not valid JSON"));
  if (!j.is_object()) return fail(Error::invalid("body is not a JSON object"));
  auto v = j.find("v");
  if (v == j.end() || !v->is_number_integer()) {
    return fail(Error::invalid("missing or non-integer version field 'v'"));
  }
  StepMessage m;
  m.version = v->get<int>();
  if (m.version != kMessageVersion) {
    return fail(Error::invalid(fmt::format("unknown message version {}", m.version)));
  }
  OPFLEET_TRY(m.run_id, string_field(j, "run_id"));
  OPFLEET_TRY(m.step_key, string_field(j, "step_key"));
  OPFLEET_TRY(m.idempotency_key, string_field(j, "idempotency_key"));
  // The job model's key rule keeps keys and dedup ids within SQS's limits.
  if (!jobs::valid_key(m.step_key)) {
    return fail(Error::invalid(fmt::format("invalid step key '{}'", m.step_key)));
  }
  if (m.idempotency_key != idempotency_key(m.run_id, m.step_key)) {
    return fail(Error::invalid("idempotency_key does not match run_id#step_key"));
  }
  if (auto a = j.find("attempt"); a != j.end()) {
    if (!a->is_number_integer() || a->get<int>() < 0) {
      return fail(Error::invalid("field 'attempt' must be a non-negative integer"));
    }
    m.attempt = a->get<int>();
  }
  if (auto jb = j.find("job"); jb != j.end() && jb->is_string()) m.job = jb->get<std::string>();
  if (auto op = j.find("op"); op != j.end()) {
    if (!op->is_object()) return fail(Error::invalid("field 'op' must be an object"));
    m.op = *op;
  }
  if (auto ts = j.find("time_scale"); ts != j.end()) {
    if (!ts->is_number() || !(ts->get<double>() > 0)) {
      return fail(Error::invalid("field 'time_scale' must be a positive number"));
    }
    m.time_scale = ts->get<double>();
  }
  if (auto e = j.find("enqueued_at"); e != j.end() && e->is_string()) {
    m.enqueued_at = e->get<std::string>();
  }
  return m;
}

}  // namespace opfleet::worker
