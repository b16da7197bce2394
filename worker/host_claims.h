// The seam for step 1 of the claim protocol: claiming a key on this host before going to
// PostgreSQL. Under a supervisor it is the shared-memory claim table (supervisor/);
// a worker run alone for debugging has no host peers and uses StandaloneHostClaims.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace opfleet::worker {

class HostClaims {
 public:
  virtual ~HostClaims() = default;
  // A claim slot, or nullopt when another worker on this host holds the key (or no slot
  // is free): the delivery is dropped without a database round trip.
  virtual std::optional<int> claim(std::string_view key, std::string_view receipt_handle) = 0;
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
  std::optional<int> claim(std::string_view, std::string_view) override { return next_++; }
  void set_fencing_token(int, std::int64_t) override {}
  void set_receipt_handle(int, std::string_view) override {}
  void release(int) override {}
  void heartbeat(std::uint32_t) override {}
  bool receiving() const override { return true; }

 private:
  int next_ = 0;
};

}  // namespace opfleet::worker
