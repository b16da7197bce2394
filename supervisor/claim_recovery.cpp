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

Result<std::string> ClaimRecovery::queue_url() {
  if (!queue_url_.empty()) return queue_url_;
  if (!sqs_) return fail(Error::invalid(sqs_error_));
  OPFLEET_TRY(queue_url_, sqs_->get_queue_url(queue_name_));
  return queue_url_;
}

RecoveryReport ClaimRecovery::recover(shm::Segment& segment, std::uint32_t index, TimePoint since,
                                      const std::string& note) {
  RecoveryReport report;
  const std::vector<shm::ClaimRecord> claims = shm::read_claims(segment.workers[index]);
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
