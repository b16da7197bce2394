// The seam for step 1 of the claim protocol: recording each received message on this host
// the moment the receive returns, then claiming its key there before going to PostgreSQL.
// Under a supervisor it is the shared-memory claim table (shm/); a worker run alone for
// debugging has no host peers and uses StandaloneHostClaims.
//
// Thread safety: reserve() is called by the worker's receiver thread, everything else by
// its coordinator; implementations serialize their slot writes themselves.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string_view>

namespace opfleet::worker {

class HostClaims {
 public:
  virtual ~HostClaims() = default;
  // Records a message just received (its receipt handle; no key yet) so that the host can
  // hand it back if this process dies before claiming it. A slot, or nullopt when none is
  // free (a leak: the worker never holds more messages than it has slots).
  virtual std::optional<int> reserve(std::string_view receipt_handle) = 0;
  // Claims `key` in the reserved `slot`. False when another worker on this host (or this
  // one) holds the key: the slot is released and the delivery is dropped without a
  // database round trip.
  virtual bool claim(int slot, std::string_view key) = 0;
  virtual void set_fencing_token(int slot, std::int64_t token) = 0;
  virtual void set_receipt_handle(int slot, std::string_view receipt_handle) = 0;
  virtual void release(int slot) = 0;
  // Liveness and load, published for the supervisor (hung-worker detection, status).
  virtual void heartbeat(std::uint32_t busy_slots) = 0;
  // The supervisor's receive switch (drain without exit); always true when standalone.
  virtual bool receiving() const = 0;
  // Counters published for `opfleet status` and /metrics.
  virtual void count_started() {}
  virtual void count_succeeded() {}
  virtual void count_failed() {}
  virtual void count_handed_back() {}
  virtual void count_duplicate() {}
};

class StandaloneHostClaims final : public HostClaims {
 public:
  std::optional<int> reserve(std::string_view) override { return next_++; }
  bool claim(int, std::string_view) override { return true; }
  void set_fencing_token(int, std::int64_t) override {}
  void set_receipt_handle(int, std::string_view) override {}
  void release(int) override {}
  void heartbeat(std::uint32_t) override {}
  bool receiving() const override { return true; }

 private:
  std::atomic<int> next_{0};  // reserve() runs on the receiver thread
};

}  // namespace opfleet::worker
