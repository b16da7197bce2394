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

ClaimResult WorkerClaims::claim(std::string_view key, std::string_view receipt_handle) {
  const std::uint32_t hash = key_hash32(key);
  // Our own slots first: a redelivery to this very worker.
  for (std::uint32_t i = 0; i < kMaxClaimsPerWorker; ++i) {
    if (slot_holds(slot_.claims[i], hash, key)) {
      return {ClaimOutcome::kDuplicate, -1, static_cast<int>(index_)};
    }
  }
  int free_slot = -1;
  for (std::uint32_t i = 0; i < kMaxClaimsPerWorker; ++i) {
    if (slot_.claims[i].state.load(std::memory_order_relaxed) ==
        static_cast<std::uint32_t>(ClaimState::kEmpty)) {
      free_slot = static_cast<int>(i);
      break;
    }
  }
  if (free_slot < 0) return {ClaimOutcome::kFull, -1, -1};

  ClaimSlot& c = slot_.claims[free_slot];
  seq_write_begin(c.seq);
  store_text(c.key, key);
  store_text(c.receipt_handle, receipt_handle);
  c.fencing_token.store(0, std::memory_order_relaxed);
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
        release(free_slot);
        return {ClaimOutcome::kDuplicate, -1, static_cast<int>(w)};
      }
    }
  }
  return {ClaimOutcome::kClaimed, free_slot, -1};
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

std::vector<ClaimRecord> read_claims(const WorkerSlot& worker) {
  std::vector<ClaimRecord> out;
  for (std::uint32_t i = 0; i < kMaxClaimsPerWorker; ++i) {
    const ClaimSlot& c = worker.claims[i];
    if (c.state.load(std::memory_order_acquire) != static_cast<std::uint32_t>(ClaimState::kClaimed))
      continue;
    ClaimRecord r;
    r.slot = static_cast<int>(i);
    bool stable = seq_read(c.seq, [&] {
      r.key = load_text(c.key);
      r.receipt_handle = load_text(c.receipt_handle);
      r.fencing_token = c.fencing_token.load(std::memory_order_relaxed);
      r.claimed_at_ns = c.claimed_at_ns.load(std::memory_order_relaxed);
    });
    // A torn record can only come from a writer killed mid-write; its last published
    // fields were overwritten, so the best we have is the raw read (still all atomics).
    if (!stable) {
      r.key = load_text(c.key);
      r.receipt_handle = load_text(c.receipt_handle);
      r.fencing_token = c.fencing_token.load(std::memory_order_relaxed);
      r.claimed_at_ns = c.claimed_at_ns.load(std::memory_order_relaxed);
    }
    if (!r.key.empty()) out.push_back(std::move(r));
  }
  return out;
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
