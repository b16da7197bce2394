// HostClaims over the supervisor's shared-memory segment (shm/): the worker in slot K of
// instance NAME claims each key in its own claim slots, so that a duplicate delivery to any
// worker on this host is dropped without a database round trip, and so that the
// supervisor finds every op this worker had in flight if it dies (crash recovery,
// docs/supervisor.md).
//
// Ownership: the supervisor prepares WorkerSlot K before it forks the worker (state
// kStarting, generation, zeroed counters); from then on this process is the slot's only
// writer until the supervisor has reaped it. Within this process two threads write claim
// slots (the receiver reserves, the coordinator claims and releases): `mu_` serializes
// them, so each slot's seqlock still sees one writer at a time. The mutex lives in this
// process, not in shared memory: no other process ever waits on it, and a killed worker
// leaves nothing locked behind.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>

#include "common/result.h"
#include "shm/claims.h"
#include "shm/segment.h"
#include "worker/host_claims.h"

namespace opfleet::worker {

class ShmHostClaims final : public HostClaims {
 public:
  // Attaches the segment of `instance` and checks that slot `index` is the one the
  // supervisor prepared for this process: in state kStarting with `generation`.
  // kNotFound when no segment exists, kInvalid on a header (layout) mismatch or a slot
  // that is not waiting for this worker.
  static Result<std::unique_ptr<ShmHostClaims>> attach(std::string_view instance,
                                                       std::uint32_t index,
                                                       std::uint64_t generation);

  // Publishes this process in its slot (pid, slot count, first heartbeat) and sets the
  // state to kRunning: from here on the supervisor counts the worker as up.
  void mark_running(std::uint32_t slots_total);
  // The worker stopped receiving for good (SIGTERM/SIGINT): status shows it draining.
  void mark_draining();

  // The supervisor's receive switch (Header.receiving): a worker started while the
  // instance is paused starts paused.
  bool receiving() const override;
  // The pid the supervisor recorded in the header (for the parent check).
  pid_t supervisor_pid() const;

  std::optional<int> reserve(std::string_view receipt_handle) override;
  bool claim(int slot, std::string_view key) override;
  void set_fencing_token(int slot, std::int64_t token) override;
  void set_receipt_handle(int slot, std::string_view receipt_handle) override;
  void release(int slot) override;
  void heartbeat(std::uint32_t busy_slots) override;
  void count_started() override;
  void count_succeeded() override;
  void count_failed() override;
  void count_handed_back() override;
  void count_duplicate() override;

 private:
  ShmHostClaims(shm::SegmentHandle segment, std::uint32_t index);

  shm::SegmentHandle segment_;
  std::mutex mu_;  // every write to claims_ (see the top of this file)
  shm::WorkerClaims claims_;
  shm::WorkerSlot& slot_;
};

}  // namespace opfleet::worker
