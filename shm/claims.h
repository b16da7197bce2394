// In-flight claims in shared memory: step 1 of the claim protocol (DESIGN.md).
// A worker publishes each message it is about to run in one of its claim slots before it
// goes to PostgreSQL, so that
//   - a second delivery of the same key to any worker on this host is dropped without a
//     database round trip, and
//   - when the worker dies, the supervisor finds the key, fencing token and receipt handle
//     of every op it had in flight and hands them back at once.
// The host-wide duplicate check is best effort by design: it publishes first, then scans
// the other workers; the older claim keeps the key (on equal times, the lower worker
// index). Two workers that race can both pass (a claim timestamped earlier but published
// later); PostgreSQL's conditional claim (step 2) is the authority and lets
// only one of them run.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shm/layout.h"

namespace opfleet::shm {

struct ClaimRecord {
  int slot = -1;
  std::string key;
  std::string receipt_handle;
  std::int64_t fencing_token = 0;
  std::uint64_t claimed_at_ns = 0;
};

enum class ClaimOutcome { kClaimed, kDuplicate, kFull };

struct ClaimResult {
  ClaimOutcome outcome = ClaimOutcome::kFull;
  int slot = -1;           // with kClaimed
  int holder_worker = -1;  // with kDuplicate: the worker index that holds the key
};

std::uint32_t key_hash32(std::string_view key);

// The single writer of one worker's claim slots (the worker itself, or the supervisor
// after that worker died).
class WorkerClaims {
 public:
  WorkerClaims(Segment& segment, std::uint32_t worker_index);

  ClaimResult claim(std::string_view key, std::string_view receipt_handle);
  void set_fencing_token(int slot, std::int64_t token);
  void set_receipt_handle(int slot, std::string_view receipt_handle);
  void release(int slot);
  // Clears every slot (the supervisor, after recovering a dead worker's claims).
  void release_all();

  std::uint32_t worker_index() const { return index_; }

 private:
  Segment& segment_;
  std::uint32_t index_;
  WorkerSlot& slot_;
};

// A consistent snapshot of one worker's live claims (any process may call it).
std::vector<ClaimRecord> read_claims(const WorkerSlot& worker);

// The worker index (other than `except_worker`) holding a live claim on `key`, if any.
std::optional<std::uint32_t> find_holder(const Segment& segment, std::string_view key,
                                         std::uint32_t except_worker);

}  // namespace opfleet::shm
