#include "shm/claims.h"

#include "common/check.h"
#include "common/proc.h"
#include "shm/seqlock.h"

namespace opfleet::shm {

std::uint32_t key_hash32(std::string_view key) {
  std::uint32_t h = 2166136261u;  // FNV-1a
  for (unsigned char c : key) {
    h ^= c;
    h *= 16777619u;
  }
  return h == 0 ? 1 : h;  // 0 means "no key"
}

WorkerClaims::WorkerClaims(Segment& segment, std::uint32_t worker_index)
    : segment_(segment), index_(worker_index), slot_(segment.workers[worker_index]) {
  OPFLEET_CHECK(worker_index < kMaxWorkers, "worker index out of range");
}

namespace {

bool slot_holds(const ClaimSlot& c, std::uint32_t hash, std::string_view key) {
  if (c.state.load(std::memory_order_acquire) != static_cast<std::uint32_t>(ClaimState::kClaimed))
    return false;
  if (c.key_hash32.load(std::memory_order_relaxed) != hash) return false;
  std::string held;
  if (!seq_read(c.seq, [&] { held = load_text(c.key); })) return false;
  return held == key;
}

}  // namespace

int WorkerClaims::reserve(std::string_view receipt_handle) {
  int free_slot = -1;
  for (std::uint32_t i = 0; i < kMaxClaimsPerWorker; ++i) {
    if (slot_.claims[i].state.load(std::memory_order_relaxed) ==
        static_cast<std::uint32_t>(ClaimState::kEmpty)) {
      free_slot = static_cast<int>(i);
      break;
    }
  }
  if (free_slot < 0) return -1;

  ClaimSlot& c = slot_.claims[free_slot];
  seq_write_begin(c.seq);
  store_text(c.key, "");
  store_text(c.receipt_handle, receipt_handle);
  c.fencing_token.store(0, std::memory_order_relaxed);
  c.claimed_at_ns.store(monotonic_ns(), std::memory_order_relaxed);
  c.key_hash32.store(0, std::memory_order_relaxed);
  seq_write_end(c.seq);
  // Published after the fields (release at least): a reader that sees kReceived sees the
  // receipt handle. kReceived never matches a key, so other workers' duplicate checks
  // ignore the slot until claim_reserved() gives it one.
  c.state.store(static_cast<std::uint32_t>(ClaimState::kReceived), std::memory_order_seq_cst);
  return free_slot;
}

ClaimResult WorkerClaims::claim_reserved(int slot, std::string_view key) {
  OPFLEET_CHECK(slot >= 0 && slot < static_cast<int>(kMaxClaimsPerWorker), "claim slot range");
  ClaimSlot& c = slot_.claims[slot];
  OPFLEET_CHECK(
      c.state.load(std::memory_order_relaxed) == static_cast<std::uint32_t>(ClaimState::kReceived),
      "claim_reserved on a slot that holds no received message");
  const std::uint32_t hash = key_hash32(key);
  // Our own slots first: a redelivery to this very worker.
  for (std::uint32_t i = 0; i < kMaxClaimsPerWorker; ++i) {
    if (static_cast<int>(i) != slot && slot_holds(slot_.claims[i], hash, key)) {
      release(slot);
      return {ClaimOutcome::kDuplicate, -1, static_cast<int>(index_)};
    }
  }

  seq_write_begin(c.seq);
  store_text(c.key, key);
  // The claim time (not the receive time) orders racing claims below, as before.
  c.claimed_at_ns.store(monotonic_ns(), std::memory_order_relaxed);
  c.key_hash32.store(hash, std::memory_order_relaxed);
  seq_write_end(c.seq);
  c.state.store(static_cast<std::uint32_t>(ClaimState::kClaimed), std::memory_order_seq_cst);

  // Publish, then look: whoever publishes second sees the first (seq_cst store/load).
  // The older claim wins (ties: the lower worker index), so a worker that has been running
  // the key for a while keeps it and the newcomer drops the redelivery.
  const std::uint64_t mine = c.claimed_at_ns.load(std::memory_order_relaxed);
  for (std::uint32_t w = 0; w < kMaxWorkers; ++w) {
    if (w == index_) continue;
    for (const ClaimSlot& other : segment_.workers[w].claims) {
      if (!slot_holds(other, hash, key)) continue;
      const std::uint64_t theirs = other.claimed_at_ns.load(std::memory_order_relaxed);
      if (theirs < mine || (theirs == mine && w < index_)) {
        release(slot);
        return {ClaimOutcome::kDuplicate, -1, static_cast<int>(w)};
      }
    }
  }
  return {ClaimOutcome::kClaimed, slot, -1};
}

ClaimResult WorkerClaims::claim(std::string_view key, std::string_view receipt_handle) {
  // A redelivery to this very worker is caught before a slot is taken, so a full worker
  // still reports duplicates as such.
  const std::uint32_t hash = key_hash32(key);
  for (std::uint32_t i = 0; i < kMaxClaimsPerWorker; ++i) {
    if (slot_holds(slot_.claims[i], hash, key)) {
      return {ClaimOutcome::kDuplicate, -1, static_cast<int>(index_)};
    }
  }
  const int slot = reserve(receipt_handle);
  if (slot < 0) return {ClaimOutcome::kFull, -1, -1};
  return claim_reserved(slot, key);
}

void WorkerClaims::set_fencing_token(int slot, std::int64_t token) {
  OPFLEET_CHECK(slot >= 0 && slot < static_cast<int>(kMaxClaimsPerWorker), "claim slot range");
  ClaimSlot& c = slot_.claims[slot];
  seq_write_begin(c.seq);
  c.fencing_token.store(token, std::memory_order_relaxed);
  seq_write_end(c.seq);
}

void WorkerClaims::set_receipt_handle(int slot, std::string_view receipt_handle) {
  OPFLEET_CHECK(slot >= 0 && slot < static_cast<int>(kMaxClaimsPerWorker), "claim slot range");
  ClaimSlot& c = slot_.claims[slot];
  seq_write_begin(c.seq);
  store_text(c.receipt_handle, receipt_handle);
  seq_write_end(c.seq);
}

void WorkerClaims::release(int slot) {
  OPFLEET_CHECK(slot >= 0 && slot < static_cast<int>(kMaxClaimsPerWorker), "claim slot range");
  ClaimSlot& c = slot_.claims[slot];
  c.state.store(static_cast<std::uint32_t>(ClaimState::kEmpty), std::memory_order_seq_cst);
  seq_write_begin(c.seq);
  c.key_hash32.store(0, std::memory_order_relaxed);
  seq_write_end(c.seq);
}

void WorkerClaims::release_all() {
  for (std::uint32_t i = 0; i < kMaxClaimsPerWorker; ++i) {
    ClaimSlot& c = slot_.claims[i];
    c.state.store(static_cast<std::uint32_t>(ClaimState::kEmpty), std::memory_order_seq_cst);
    // A writer killed mid-write left the sequence odd: make it even again.
    if (c.seq.load(std::memory_order_relaxed) & 1) seq_write_end(c.seq);
    seq_write_begin(c.seq);
    c.key_hash32.store(0, std::memory_order_relaxed);
    seq_write_end(c.seq);
  }
}

namespace {

std::vector<ClaimRecord> read_slots(const WorkerSlot& worker, bool with_received) {
  std::vector<ClaimRecord> out;
  for (std::uint32_t i = 0; i < kMaxClaimsPerWorker; ++i) {
    const ClaimSlot& c = worker.claims[i];
    const auto state = static_cast<ClaimState>(c.state.load(std::memory_order_acquire));
    if (state != ClaimState::kClaimed && !(with_received && state == ClaimState::kReceived)) {
      continue;
    }
    ClaimRecord r;
    r.slot = static_cast<int>(i);
    r.state = state;
    auto copy = [&] {
      r.key = load_text(c.key);
      r.receipt_handle = load_text(c.receipt_handle);
      r.fencing_token = c.fencing_token.load(std::memory_order_relaxed);
      r.claimed_at_ns = c.claimed_at_ns.load(std::memory_order_relaxed);
    };
    // A torn record can only come from a writer killed mid-write; its last published
    // fields were overwritten, so the best we have is the raw read (still all atomics).
    if (!seq_read(c.seq, copy)) copy();
    // A received message has no key yet; what recovery needs of it is its receipt handle.
    const bool usable = state == ClaimState::kClaimed ? !r.key.empty() : !r.receipt_handle.empty();
    if (usable) out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

std::vector<ClaimRecord> read_claims(const WorkerSlot& worker) {
  return read_slots(worker, false);
}

std::vector<ClaimRecord> read_slots_in_use(const WorkerSlot& worker) {
  return read_slots(worker, true);
}

std::optional<std::uint32_t> find_holder(const Segment& segment, std::string_view key,
                                         std::uint32_t except_worker) {
  const std::uint32_t hash = key_hash32(key);
  for (std::uint32_t w = 0; w < kMaxWorkers; ++w) {
    if (w == except_worker) continue;
    const WorkerSlot& ws = segment.workers[w];
    for (std::uint32_t i = 0; i < kMaxClaimsPerWorker; ++i) {
      if (slot_holds(ws.claims[i], hash, key)) return w;
    }
  }
  return std::nullopt;
}

}  // namespace opfleet::shm
