// The shared-memory layout of one supervisor instance ("opfleet-<instance>" in /dev/shm).
//
//   Header | WorkerSlot[max_workers]  (each WorkerSlot holds its ClaimSlot[max_claims])
//
// Ownership (one writer per field, so no lock is ever needed):
//   - Header: written by the supervisor only (workers read desired state and flags).
//   - WorkerSlot w and its claims: written by the worker running in slot w; after that
//     worker has died (the supervisor reaped it), by the supervisor, which recovers the
//     claims and then frees the slot for the next worker.
// Every shared field is a lock-free std::atomic (static_asserted below), so readers in
// other processes never see torn values; multi-field records (a claim: key, receipt
// handle, fencing token, time) are published with a seqlock (shm/seqlock.h).
// A change to any struct here must bump kLayoutVersion: attach() refuses a mismatch.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace opfleet::shm {

inline constexpr std::uint64_t kMagic = 0x31544C4645504F00ULL;  // "\0OPFLEET1" little-endian-ish
// 2: ClaimState::kReceived (a received message recorded before its key is claimed).
inline constexpr std::uint32_t kLayoutVersion = 2;
inline constexpr std::uint32_t kMaxWorkers = 64;
inline constexpr std::uint32_t kMaxClaimsPerWorker = 16;
inline constexpr std::size_t kKeyWords = 16;       // 128 bytes: run_id#step_key
inline constexpr std::size_t kReceiptWords = 128;  // 1024 bytes: an SQS receipt handle

enum class WorkerState : std::uint32_t {
  kFree = 0,      // no process
  kStarting = 1,  // forked, not yet attached
  kRunning = 2,   // attached and polling
  kDraining = 3,  // finishing in-flight ops, not receiving
  kExited = 4,    // reaped; claims being recovered by the supervisor
};

// kReceived: a message SQS handed to the worker, recorded (receipt handle only: no key,
// token 0) the moment the receive returns, so that crash recovery can make it visible again
// before the worker got round to claiming it. kClaimed: the key is claimed on this host.
enum class ClaimState : std::uint32_t { kEmpty = 0, kClaimed = 1, kReceived = 2 };

// A fixed-size string stored as relaxed atomic words (copied under the slot's seqlock).
template <std::size_t Words>
struct AtomicText {
  std::atomic<std::uint64_t> words[Words];
  static constexpr std::size_t kCapacity = Words * 8 - 1;  // keeps a terminating NUL
};

struct ClaimSlot {
  std::atomic<std::uint64_t> seq;            // seqlock sequence: odd while being written
  std::atomic<std::uint32_t> state;          // ClaimState
  std::atomic<std::uint32_t> key_hash32;     // quick filter before comparing keys (0: no key)
  std::atomic<std::int64_t> fencing_token;   // from the PostgreSQL claim (0 until then)
  std::atomic<std::uint64_t> claimed_at_ns;  // CLOCK_MONOTONIC
  AtomicText<kKeyWords> key;
  AtomicText<kReceiptWords> receipt_handle;
};

struct WorkerSlot {
  std::atomic<std::int32_t> pid;
  std::atomic<std::uint32_t> state;         // WorkerState
  std::atomic<std::uint64_t> generation;    // bumped on every (re)start of this slot
  std::atomic<std::uint64_t> heartbeat_ns;  // CLOCK_MONOTONIC, refreshed by the worker loop
  std::atomic<std::uint64_t> started_ns;
  std::atomic<std::uint32_t> slots_total;  // concurrent ops this worker may run
  std::atomic<std::uint32_t> slots_busy;
  std::atomic<std::uint64_t> ops_started;
  std::atomic<std::uint64_t> ops_succeeded;
  std::atomic<std::uint64_t> ops_failed;
  std::atomic<std::uint64_t> ops_handed_back;
  std::atomic<std::uint64_t> duplicates_dropped;  // caught in shm, no database round trip
  ClaimSlot claims[kMaxClaimsPerWorker];
};

struct Header {
  std::uint64_t magic;  // written last at creation (release), checked on attach
  std::uint32_t layout_version;
  std::uint32_t header_size;
  std::uint64_t segment_size;
  std::uint32_t max_workers;
  std::uint32_t max_claims_per_worker;
  std::atomic<std::int32_t> supervisor_pid;
  std::atomic<std::uint64_t> supervisor_start_ticks;  // /proc/<pid>/stat field 22 (pid reuse)
  std::atomic<std::uint32_t> receiving;  // 0 = workers stop receiving (drain), 1 = receive
  std::atomic<std::uint32_t> desired_workers;
  std::atomic<std::uint64_t> recoveries;  // claims recovered after worker deaths
  std::atomic<std::uint64_t> worker_restarts;
};

struct Segment {
  Header header;
  WorkerSlot workers[kMaxWorkers];
};

// The lock-free and layout guarantees the cross-process protocol relies on.
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<std::int64_t>::is_always_lock_free);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);
static_assert(std::atomic<std::int32_t>::is_always_lock_free);
static_assert(std::is_standard_layout_v<Segment>);
static_assert(std::is_standard_layout_v<ClaimSlot>);
static_assert(std::is_standard_layout_v<WorkerSlot>);
static_assert(std::is_standard_layout_v<Header>);
static_assert(offsetof(Segment, header) == 0);

inline constexpr std::size_t kSegmentSize = sizeof(Segment);

}  // namespace opfleet::shm
