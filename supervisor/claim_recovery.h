// Fast crash recovery (DESIGN.md, docs/supervisor.md): when a worker dies, every op it
// had in flight is handed back at once instead of after its lease and visibility timeout.
// For each claim left in the dead worker's slot:
//   1. Ledger::release(key, fencing token, "crashed"): the step is queued again and its
//      attempt closed as crashed — guarded by the token, so a step that was meanwhile
//      completed or taken over is left alone;
//   2. ChangeMessageVisibility(receipt handle, 0): another worker receives it now.
// In that order: a message made visible first could be received and refused while the
// dead worker's lease still held it, and would then hide for a whole visibility timeout.
// A claim with fencing token 0 was never claimed in PostgreSQL (or its token was not yet
// published): only its message is made visible; if the step was in fact claimed, the
// next worker finds the lease held and the step is taken over after lease expiry. That
// includes a slot in state kReceived (a message received, its key not claimed yet): it
// has a receipt handle and no key.
// The slot's claims are cleared first of all (from a snapshot), so that the worker that
// receives a handed-back message does not take the dead claim for a live duplicate.
//
// Blocking: runs on the supervisor's loop with short timeouts (a few seconds at worst
// when PostgreSQL or SQS is unreachable); what cannot be handed back now falls back to
// lease expiry and the visibility timeout, so nothing is lost.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common/result.h"
#include "shm/layout.h"
#include "sqs/client.h"
#include "store/connection.h"
#include "supervisor/child_table.h"
#include "worker/ledger.h"

namespace opfleet::supervisor {

struct RecoveryReport {
  int claims = 0;
  int leases_released = 0;               // the lease was ours to release
  int messages_visible = 0;              // visibility set to 0
  int failures = 0;                      // PostgreSQL or SQS calls that failed
  std::chrono::microseconds latency{0};  // from `since` (the SIGCHLD) to all handed back
};

class ClaimRecovery {
 public:
  ClaimRecovery(store::ConnectionOptions db, sqs::ClientConfig sqs, std::string queue_name);

  // Connects to PostgreSQL and resolves the queue URL ahead of the first recovery (a
  // failure is logged and retried at the next recovery).
  void warm_up();

  // Hands back every claim of worker slot `index` (whose process is gone) and clears it.
  RecoveryReport recover(shm::Segment& segment, std::uint32_t index, TimePoint since,
                         const std::string& note);

  // Upserts this supervisor's row in `supervisors` (the dashboard's fleet page, the scaler
  // and `status --all` read it). Best effort on the same session as recovery: a failure
  // is returned for the caller to log, and the next beat tries again.
  Status publish_heartbeat(const std::string& host, const std::string& instance, int pid,
                           int workers, int busy_slots, int total_slots, const std::string& state,
                           const nlohmann::json& details);

 private:
  Result<std::string> queue_url();

  std::unique_ptr<store::Connection> db_;
  std::unique_ptr<worker::Ledger> ledger_;
  std::optional<sqs::Client> sqs_;
  std::string sqs_error_;  // why there is no client (bad configuration)
  std::string queue_name_;
  std::string queue_url_;
};

}  // namespace opfleet::supervisor
