// Creating and attaching the shared-memory segment of a supervisor instance.
// The supervisor creates it (rebuilding a stale one left by a crashed supervisor),
// workers and the CLI attach to it; the header is checked on every attach so a worker
// of another build never reads a layout it does not understand.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "shm/layout.h"

namespace opfleet::shm {

// "opfleet-<instance>" (the POSIX name, without the leading slash).
std::string segment_name(std::string_view instance);
bool valid_instance_name(std::string_view instance);

class SegmentHandle {
 public:
  // Supervisor side: create a fresh segment (mode 0600), owned by `owner_pid`.
  // An existing segment whose supervisor is still alive is an error (kConflict);
  // one whose supervisor is gone, or with another layout, is stale: it is removed and
  // rebuilt (and `rebuilt_stale()` says so).
  static Result<SegmentHandle> create(std::string_view instance, pid_t owner_pid);

  // Worker / CLI side: attach and check magic, layout version and size.
  // kNotFound when no segment exists (no supervisor runs this instance).
  static Result<SegmentHandle> attach(std::string_view instance);

  SegmentHandle(SegmentHandle&&) noexcept;
  SegmentHandle& operator=(SegmentHandle&&) noexcept;
  SegmentHandle(const SegmentHandle&) = delete;
  SegmentHandle& operator=(const SegmentHandle&) = delete;
  ~SegmentHandle();  // unmaps; does not remove

  Segment* get() const { return segment_; }
  Segment* operator->() const { return segment_; }
  const std::string& name() const { return name_; }
  bool rebuilt_stale() const { return rebuilt_stale_; }

  // Unlinks the segment name (clean supervisor exit). Mappings stay valid until unmapped.
  void remove();

 private:
  SegmentHandle() = default;
  struct Mapping;
  std::unique_ptr<Mapping> mapping_;
  Segment* segment_ = nullptr;
  std::string name_;
  bool rebuilt_stale_ = false;
};

// Checks a mapped header: the reason it is unusable, or ok.
Status check_header(const Header& header, std::size_t mapped_size);

}  // namespace opfleet::shm
