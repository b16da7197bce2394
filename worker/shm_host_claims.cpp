#include "worker/shm_host_claims.h"

#include <unistd.h>

#include <fmt/format.h>

#include "common/proc.h"

namespace opfleet::worker {

namespace {

// Counters are written by this process only, so a relaxed increment is exact; readers
// (status, /metrics) only need an eventually fresh value.
void bump(std::atomic<std::uint64_t>& counter) {
  counter.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

Result<std::unique_ptr<ShmHostClaims>> ShmHostClaims::attach(std::string_view instance,
                                                             std::uint32_t index,
                                                             std::uint64_t generation) {
  if (index >= shm::kMaxWorkers) {
    return fail(Error::invalid(fmt::format("--worker-index {}: at most {} workers per instance",
                                           index, shm::kMaxWorkers)));
  }
  OPFLEET_TRY(auto segment, shm::SegmentHandle::attach(instance));
  const shm::WorkerSlot& ws = segment->workers[index];
  const auto state = static_cast<shm::WorkerState>(ws.state.load(std::memory_order_acquire));
  const std::uint64_t slot_generation = ws.generation.load(std::memory_order_acquire);
  // A slot that is not waiting for exactly this start belongs to another worker (or to
  // nobody): writing into it would break the one-writer rule the segment relies on.
  if (state != shm::WorkerState::kStarting || slot_generation != generation) {
    return fail(Error::invalid(fmt::format(
        "slot {} of instance '{}' is not waiting for this worker (state {}, generation {}; "
        "expected starting, generation {}): workers are started by `opfleet supervise`",
        index, instance, static_cast<std::uint32_t>(state), slot_generation, generation)));
  }
  return std::unique_ptr<ShmHostClaims>(new ShmHostClaims(std::move(segment), index));
}

ShmHostClaims::ShmHostClaims(shm::SegmentHandle segment, std::uint32_t index)
    : segment_(std::move(segment)),
      claims_(*segment_.get(), index),
      slot_(segment_->workers[index]) {}

void ShmHostClaims::mark_running(std::uint32_t slots_total) {
  slot_.pid.store(static_cast<std::int32_t>(getpid()), std::memory_order_relaxed);
  slot_.slots_total.store(slots_total, std::memory_order_relaxed);
  slot_.slots_busy.store(0, std::memory_order_relaxed);
  slot_.heartbeat_ns.store(monotonic_ns(), std::memory_order_relaxed);
  // seq_cst (not just release, which already publishes the fields above): the caller
  // reads Header.receiving next, and the supervisor writes that flag and then reads this
  // state; sequential consistency guarantees one of the two sees the other.
  slot_.state.store(static_cast<std::uint32_t>(shm::WorkerState::kRunning),
                    std::memory_order_seq_cst);
}

void ShmHostClaims::mark_draining() {
  slot_.state.store(static_cast<std::uint32_t>(shm::WorkerState::kDraining),
                    std::memory_order_release);
}

bool ShmHostClaims::receiving() const {
  return segment_->header.receiving.load(std::memory_order_seq_cst) != 0;
}

pid_t ShmHostClaims::supervisor_pid() const {
  return segment_->header.supervisor_pid.load(std::memory_order_acquire);
}

std::optional<int> ShmHostClaims::reserve(std::string_view receipt_handle) {
  std::lock_guard lock(mu_);
  const int slot = claims_.reserve(receipt_handle);
  if (slot < 0) return std::nullopt;
  return slot;
}

bool ShmHostClaims::claim(int slot, std::string_view key) {
  std::lock_guard lock(mu_);
  return claims_.claim_reserved(slot, key).outcome == shm::ClaimOutcome::kClaimed;
}

void ShmHostClaims::set_fencing_token(int slot, std::int64_t token) {
  std::lock_guard lock(mu_);
  claims_.set_fencing_token(slot, token);
}

void ShmHostClaims::set_receipt_handle(int slot, std::string_view receipt_handle) {
  std::lock_guard lock(mu_);
  claims_.set_receipt_handle(slot, receipt_handle);
}

void ShmHostClaims::release(int slot) {
  std::lock_guard lock(mu_);
  claims_.release(slot);
}

void ShmHostClaims::heartbeat(std::uint32_t busy_slots) {
  slot_.slots_busy.store(busy_slots, std::memory_order_relaxed);
  slot_.heartbeat_ns.store(monotonic_ns(), std::memory_order_release);
}

void ShmHostClaims::count_started() {
  bump(slot_.ops_started);
}
void ShmHostClaims::count_succeeded() {
  bump(slot_.ops_succeeded);
}
void ShmHostClaims::count_failed() {
  bump(slot_.ops_failed);
}
void ShmHostClaims::count_handed_back() {
  bump(slot_.ops_handed_back);
}
void ShmHostClaims::count_duplicate() {
  bump(slot_.duplicates_dropped);
}

}  // namespace opfleet::worker
