// In-flight claims in shared memory: step 1 of the claim protocol (DESIGN.md).
// A worker records each message in one of its claim slots the moment SQS hands it over
// (reserve: state kReceived, receipt handle only), then turns that slot into the keyed
// claim (claim_reserved) before it goes to PostgreSQL, so that
//   - a second delivery of the same key to any worker on this host is dropped without a
//     database round trip, and
//   - when the worker dies, the supervisor finds the receipt handle of every message it
//     held, claimed or not yet, and the key and fencing token of every op it had in
//     flight, and hands them back at once.
// The host-wide duplicate check is best effort by design: it publishes first, then scans
// the other workers; the older claim keeps the key (on equal times, the lower worker
// index). Two workers that race can both pass (a claim timestamped earlier but published
// later); PostgreSQL's conditional claim (step 2) is the authority and lets
// only one of them run.
//
// WorkerClaims is not thread-safe: it is the single writer of one worker's slots. A worker
// that writes from two threads (receiver and coordinator) serializes them itself.
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
  ClaimState state = ClaimState::kClaimed;  // kReceived: no key yet, token 0
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

  // Records a message just received (receipt handle, no key, fencing token 0) in a free
  // slot, in state kReceived. Returns the slot, or -1 when every slot is taken.
  int reserve(std::string_view receipt_handle);
  // Turns the kReceived `slot` into the claim of `key` on this host: kClaimed (same slot),
  // or kDuplicate when this or another worker holds the key, in which case the slot has
  // been released.
  ClaimResult claim_reserved(int slot, std::string_view key);
  // reserve() and claim_reserved() in one go (kFull when no slot is free).
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

// A consistent snapshot of one worker's keyed claims (any process may call it): the ops
// it has in flight, as `opfleet status` shows them.
std::vector<ClaimRecord> read_claims(const WorkerSlot& worker);

// Every slot in use: the keyed claims and the received messages not claimed yet (state
// kReceived, empty key). What crash recovery must hand back.
std::vector<ClaimRecord> read_slots_in_use(const WorkerSlot& worker);

// The worker index (other than `except_worker`) holding a live claim on `key`, if any.
std::optional<std::uint32_t> find_holder(const Segment& segment, std::string_view key,
                                         std::uint32_t except_worker);

}  // namespace opfleet::shm
