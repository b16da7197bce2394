#include "supervisor/claim_recovery.h"

#include <fmt/format.h>

#include "common/log.h"
#include "shm/claims.h"

namespace opfleet::supervisor {

ClaimRecovery::ClaimRecovery(store::ConnectionOptions db, sqs::ClientConfig sqs,
                             std::string queue_name)
    : queue_name_(std::move(queue_name)) {
  db_ = std::make_unique<store::Connection>(std::move(db));
  auto client = sqs::Client::make(std::move(sqs));
  if (client) {
    sqs_.emplace(std::move(*client));
  } else {
    sqs_error_ = client.error().describe();
  }
}

void ClaimRecovery::warm_up() {
  if (!ledger_) ledger_ = std::make_unique<worker::Ledger>(*db_);  // prepares (connects)
  if (auto st = db_->ensure_connected(); !st) {
    log::warn("recovery_postgres_unavailable",
              {{"error", st.error().describe()}, {"then", "retried at the next recovery"}});
  }
  if (auto url = queue_url(); !url) {
    log::warn("recovery_queue_unavailable", {{"queue", queue_name_},
                                             {"error", url.error().describe()},
                                             {"then", "retried at the next recovery"}});
  }
}

Status ClaimRecovery::publish_heartbeat(const std::string& host, const std::string& instance,
                                        int pid, int workers, int busy_slots, int total_slots,
                                        const std::string& state, const nlohmann::json& details) {
  namespace param = store::param;
  // A new pid on the same (host, instance) is a restart: its started_at starts over.
  OPFLEET_TRY_STATUS(
      db_->exec(R"SQL(
INSERT INTO supervisors (host, instance, pid, started_at, heartbeat_at, workers, busy_slots,
                         total_slots, state, details)
VALUES ($1, $2, $3::int, now(), now(), $4::int, $5::int, $6::int, $7, $8::jsonb)
ON CONFLICT (host, instance) DO UPDATE SET
  pid = EXCLUDED.pid,
  started_at = CASE WHEN supervisors.pid <> EXCLUDED.pid THEN now() ELSE supervisors.started_at END,
  heartbeat_at = now(), workers = EXCLUDED.workers, busy_slots = EXCLUDED.busy_slots,
  total_slots = EXCLUDED.total_slots, state = EXCLUDED.state, details = EXCLUDED.details
)SQL",
                {param::text(host), param::text(instance), param::int64(pid), param::int64(workers),
                 param::int64(busy_slots), param::int64(total_slots), param::text(state),
                 param::json(details)},
                store::Idempotent::kYes));
  return ok();
}

Result<std::string> ClaimRecovery::queue_url() {
  if (!queue_url_.empty()) return queue_url_;
  if (!sqs_) return fail(Error::invalid(sqs_error_));
  OPFLEET_TRY(queue_url_, sqs_->get_queue_url(queue_name_));
  return queue_url_;
}

RecoveryReport ClaimRecovery::recover(shm::Segment& segment, std::uint32_t index, TimePoint since,
                                      const std::string& note) {
  RecoveryReport report;
  // Received messages not claimed yet count too: they have a receipt handle, no key and
  // token 0, so only their visibility is reset below.
  const std::vector<shm::ClaimRecord> claims = shm::read_slots_in_use(segment.workers[index]);
  report.claims = static_cast<int>(claims.size());
  // The dead worker's slot is ours now (one writer). Clear it before any message becomes
  // visible: a worker receiving one would otherwise still find the dead claim in shared
  // memory, drop the delivery as a duplicate, and leave it hidden for a visibility timeout.
  shm::WorkerClaims(segment, index).release_all();
  if (!claims.empty()) {
    if (!ledger_) ledger_ = std::make_unique<worker::Ledger>(*db_);
    for (const auto& c : claims) {
      if (c.fencing_token <= 0) continue;
      auto released = ledger_->release(c.key, c.fencing_token, "crashed", note);
      if (!released) {
        ++report.failures;
        log::warn("recovery_release_failed", {{"key", c.key},
                                              {"error", released.error().describe()},
                                              {"then", "the lease expires on its own"}});
      } else if (*released) {
        ++report.leases_released;
      }
    }
    auto url = queue_url();
    std::vector<sqs::VisibilityEntry> entries;
    for (const auto& c : claims) {
      if (!c.receipt_handle.empty()) {
        entries.push_back({fmt::format("c{}", c.slot), c.receipt_handle, 0});
      }
    }
    if (!url) {
      report.failures += static_cast<int>(entries.size());
      log::warn("recovery_visibility_failed", {{"error", url.error().describe()},
                                               {"then", "messages reappear after their timeout"}});
    } else {
      for (std::size_t i = 0; i < entries.size(); i += 10) {
        std::span<const sqs::VisibilityEntry> chunk(entries.data() + i,
                                                    std::min<std::size_t>(10, entries.size() - i));
        auto res = sqs_->change_message_visibility_batch(*url, chunk);
        if (!res) {
          report.failures += static_cast<int>(chunk.size());
          log::warn("recovery_visibility_failed",
                    {{"error", res.error().describe()},
                     {"then", "messages reappear after their timeout"}});
          continue;
        }
        // A failed entry is usually a message already deleted (the op had completed).
        report.messages_visible += static_cast<int>(chunk.size() - res->failed.size());
      }
    }
  }
  report.latency = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - since);
  return report;
}

}  // namespace opfleet::supervisor
