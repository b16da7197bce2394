// The PostgreSQL side of the claim protocol (docs/claim-protocol.md): every statement that
// changes a step's ownership or outcome. Each one is guarded — by the step's status and
// lease for a claim, by the fencing token for everything after — so a worker that lost its
// lease can never overwrite the work of the one that took over.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "store/connection.h"
#include "store/transaction.h"

namespace opfleet::worker {

// Who is executing: recorded on the step (lease owner) and in the attempts log.
struct Executor {
  std::string worker_id;  // "<host>/<instance>/<slot>#<generation>" or "<host>/<pid>"
  std::string host;
  int pid = 0;
};

// A step as it goes into an SQS message.
struct QueuedStep {
  std::string run_id;
  std::string step_key;
  std::string key;  // idempotency key
  int attempt = 0;  // executions started so far (the dedup id uses it)
  std::string job;
  nlohmann::json op;
  double time_scale = 1.0;
};

struct ClaimedStep {
  std::string run_id;
  std::string step_key;
  std::string key;
  std::string job;
  int attempt = 0;  // this execution's number (1-based)
  int max_attempts = 0;
  std::int64_t fencing_token = 0;
  nlohmann::json op;
  double time_scale = 1.0;
};

enum class NotClaimed {
  kFinished,     // succeeded, failed or skipped: delete the message, run nothing
  kLeaseHeld,    // running elsewhere with a live lease: leave the message
  kBackingOff,   // queued, waiting for its retry time: delay the message
  kExhausted,    // out of attempts: the step was failed now; delete the message
  kNotReady,     // pending (dependencies not done): should not have been sent; leave it
  kUnknown,      // no such step (run deleted, or a foreign message): poison
};

struct ClaimOutcome {
  std::optional<ClaimedStep> claimed;
  NotClaimed reason = NotClaimed::kUnknown;  // when not claimed
  std::chrono::milliseconds wait{0};         // kLeaseHeld/kBackingOff: time left
};

struct CompletionOutcome {
  bool applied = false;  // false: the fencing token no longer matches (fenced)
  std::vector<QueuedStep> newly_queued;
  std::optional<std::string> run_finished;  // the run's final status, if it just ended
};

struct FailureOutcome {
  bool applied = false;
  bool will_retry = false;
  std::chrono::milliseconds retry_in{0};
  std::optional<QueuedStep> requeued;  // with will_retry: the step to send again
  bool run_failed = false;
};

struct RetryPolicy {
  std::chrono::milliseconds base{1000};
  std::chrono::milliseconds cap{60000};
};

class Ledger {
 public:
  // Prepares the statements on `conn` (lazily re-prepared after reconnects).
  explicit Ledger(store::Connection& conn);

  // Step 2 of the protocol: one conditional statement.
  Result<ClaimOutcome> claim(const std::string& key, const Executor& who,
                             std::chrono::milliseconds lease);

  // Step 3: extends the leases of all `held` (key, fencing token) pairs in one statement;
  // returns the keys still held (the others were taken over: stop their ops).
  Result<std::vector<std::string>> renew(
      const std::vector<std::pair<std::string, std::int64_t>>& held,
      std::chrono::milliseconds lease);

  // Step 4: fenced completion, downstream release and run completion in one transaction.
  Result<CompletionOutcome> complete(const ClaimedStep& step, const nlohmann::json& result);

  // A failed execution: re-queued with back-off below max_attempts, else the step and its
  // run fail and pending steps are skipped. Fenced like completion.
  Result<FailureOutcome> fail(const ClaimedStep& step, const std::string& error,
                              const RetryPolicy& retry);

  // Hands a step back (shutdown, crash recovery): the lease is released, the attempt is
  // closed with `outcome` (handed_back, crashed, fenced). Fenced; false if not held.
  Result<bool> release(const std::string& key, std::int64_t fencing_token,
                       const std::string& outcome, const std::string& note = {});

  // Records that the message of each step was sent (sent_at = now()).
  Status mark_sent(const std::vector<std::string>& keys);

  // The sweeper: steps queued but never sent (older than `grace`), and running steps
  // whose lease expired long ago (`stale_after`: their message is gone, e.g. to the
  // DLQ), locked with SKIP LOCKED so concurrent sweepers split the work. `send` gets the
  // batch and returns the keys it sent; those are marked sent in the same transaction.
  Result<int> sweep(std::chrono::milliseconds grace, std::chrono::milliseconds stale_after,
                    int limit,
                    const std::function<std::vector<std::string>(const std::vector<QueuedStep>&)>&
                        send);

 private:
  Result<ClaimOutcome> inspect(const std::string& key);
  Result<bool> fail_exhausted(const std::string& key);

  store::Connection& conn_;
};

const char* to_string(NotClaimed r);

}  // namespace opfleet::worker
