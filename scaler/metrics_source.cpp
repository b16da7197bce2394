#include "scaler/metrics_source.h"

#include <array>
#include <charconv>

#include <fmt/format.h>

#include "store/params.h"

namespace opfleet::scaler {

namespace {

constexpr const char* kVisible = "ApproximateNumberOfMessages";
constexpr const char* kInFlight = "ApproximateNumberOfMessagesNotVisible";
constexpr const char* kDelayed = "ApproximateNumberOfMessagesDelayed";

Result<std::int64_t> count(const sqs::Attributes& a, const char* name) {
  auto it = a.find(name);
  if (it == a.end()) return fail(Error::invalid(fmt::format("queue attribute {} missing", name)));
  std::int64_t v = 0;
  const auto& s = it->second;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0) {
    return fail(Error::invalid(fmt::format("queue attribute {} is not a count: '{}'", name, s)));
  }
  return v;
}

}  // namespace

Result<QueueCounts> queue_counts(const sqs::Attributes& attributes) {
  QueueCounts c;
  OPFLEET_TRY(c.visible, count(attributes, kVisible));
  OPFLEET_TRY(c.in_flight, count(attributes, kInFlight));
  // Delayed is informational (no decision uses it) and older emulators omit it.
  if (attributes.contains(kDelayed)) {
    OPFLEET_TRY(c.delayed, count(attributes, kDelayed));
  }
  return c;
}

MetricsSource::MetricsSource(sqs::Client& sqs, store::Connection* db, std::string queue_url,
                             std::string queue_name)
    : sqs_(sqs), db_(db), queue_url_(std::move(queue_url)), queue_name_(std::move(queue_name)) {}

MetricsReading MetricsSource::read() {
  MetricsReading r;
  static const std::array<std::string, 3> kNames = {kVisible, kInFlight, kDelayed};
  auto attrs = sqs_.get_queue_attributes(queue_url_, kNames);
  r.metrics.observed_at = Clock::now();
  if (!attrs) {
    r.queue_error = attrs.error();
  } else if (auto c = queue_counts(*attrs); !c) {
    r.queue_error = c.error();
  } else {
    r.metrics.visible = c->visible;
    r.metrics.in_flight = c->in_flight;
    r.metrics.delayed = c->delayed;
  }
  if (db_ != nullptr) {
    auto rows = db_->exec(
        "SELECT extract(epoch FROM now() - min(queued_at))::float8 FROM steps "
        "WHERE status = 'queued'",
        {}, store::Idempotent::kYes);
    if (!rows) {
      r.db_error = rows.error();
    } else if (!rows->empty() && !rows->front().is_null(0)) {
      auto age = rows->front().get<double>(0);
      if (age) {
        r.metrics.oldest_queued_age_s = *age;
      } else {
        r.db_error = age.error();
      }
    }
  }
  return r;
}

Status MetricsSource::record_sample(const Metrics& m) {
  if (db_ == nullptr || !m.visible || !m.in_flight) return ok();
  auto rows = db_->exec(
      "INSERT INTO queue_samples (queue, visible, in_flight, delayed, oldest_queued_age_s) "
      "VALUES ($1, $2, $3, $4, $5)",
      {store::param::text(queue_name_), store::param::int64(*m.visible),
       store::param::int64(*m.in_flight), store::param::int64(m.delayed.value_or(0)),
       m.oldest_queued_age_s ? store::param::float64(*m.oldest_queued_age_s)
                             : store::param::null()});
  if (!rows) return fail(rows.error());
  return ok();
}

}  // namespace opfleet::scaler
