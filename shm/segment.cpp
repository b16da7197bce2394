#include "shm/segment.h"

#include <algorithm>
#include <cctype>
#include <new>

#include <fmt/format.h>
#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>

#include "common/log.h"
#include "common/proc.h"

namespace opfleet::shm {

namespace bip = boost::interprocess;

struct SegmentHandle::Mapping {
  bip::mapped_region region;
};

std::string segment_name(std::string_view instance) {
  return fmt::format("opfleet-{}", instance);
}

bool valid_instance_name(std::string_view instance) {
  if (instance.empty() || instance.size() > 64) return false;
  return std::all_of(instance.begin(), instance.end(), [](unsigned char c) {
    return std::isalnum(c) != 0 || c == '_' || c == '-' || c == '.';
  });
}

Status check_header(const Header& h, std::size_t mapped_size) {
  if (mapped_size < sizeof(Header)) {
    return fail(
        Error::invalid(fmt::format("segment is {} bytes, smaller than a header", mapped_size)));
  }
  if (h.magic != kMagic) return fail(Error::invalid("bad magic: not an opfleet segment"));
  if (h.layout_version != kLayoutVersion) {
    return fail(Error::invalid(
        fmt::format("layout version {} (this build speaks {})", h.layout_version, kLayoutVersion)));
  }
  if (h.header_size != sizeof(Header) || h.segment_size != kSegmentSize ||
      mapped_size < kSegmentSize || h.max_workers != kMaxWorkers ||
      h.max_claims_per_worker != kMaxClaimsPerWorker) {
    return fail(Error::invalid(fmt::format(
        "layout sizes differ (segment {} bytes, header {}; this build expects {} and {})",
        h.segment_size, h.header_size, kSegmentSize, sizeof(Header))));
  }
  return ok();
}

namespace {

// Maps an existing segment read-write; kNotFound if there is none.
Result<bip::mapped_region> map_existing(const std::string& name) {
  try {
    bip::shared_memory_object obj(bip::open_only, name.c_str(), bip::read_write);
    return bip::mapped_region(obj, bip::read_write);
  } catch (const bip::interprocess_exception& e) {
    if (e.get_error_code() == bip::not_found_error) {
      return fail(Error::not_found(fmt::format("no shared-memory segment '{}'", name)));
    }
    return fail(Error::make(ErrorKind::kInternal,
                            fmt::format("cannot map segment '{}': {}", name, e.what())));
  }
}

}  // namespace

Result<SegmentHandle> SegmentHandle::create(std::string_view instance, pid_t owner_pid) {
  if (!valid_instance_name(instance)) {
    return fail(Error::invalid(fmt::format("invalid instance name '{}'", instance)));
  }
  SegmentHandle handle;
  handle.name_ = segment_name(instance);

  if (auto existing = map_existing(handle.name_)) {
    const auto* h = static_cast<const Header*>(existing->get_address());
    if (check_header(*h, existing->get_size())) {
      pid_t pid = h->supervisor_pid.load();
      std::uint64_t ticks = h->supervisor_start_ticks.load();
      if (pid != owner_pid && process_alive(pid, ticks)) {
        return fail(Error::make(
            ErrorKind::kConflict,
            fmt::format("instance '{}' is already run by supervisor pid {}", instance, pid)));
      }
      log::warn("shm_stale_segment",
                {{"segment", handle.name_}, {"old_supervisor_pid", pid}, {"action", "rebuild"}});
    } else {
      log::warn("shm_stale_segment",
                {{"segment", handle.name_}, {"reason", "foreign layout"}, {"action", "rebuild"}});
    }
    bip::shared_memory_object::remove(handle.name_.c_str());
    handle.rebuilt_stale_ = true;
  } else if (existing.error().kind != ErrorKind::kNotFound) {
    return fail(existing.error());
  }

  try {
    bip::permissions perms(0600);
    bip::shared_memory_object obj(bip::create_only, handle.name_.c_str(), bip::read_write, perms);
    obj.truncate(static_cast<bip::offset_t>(kSegmentSize));
    handle.mapping_ = std::make_unique<Mapping>(Mapping{bip::mapped_region(obj, bip::read_write)});
  } catch (const bip::interprocess_exception& e) {
    return fail(Error::make(ErrorKind::kInternal,
                            fmt::format("cannot create segment '{}': {}", handle.name_, e.what())));
  }
  void* addr = handle.mapping_->region.get_address();
  // ftruncate gave us zeroed memory; construct the atomics in place (all start at zero).
  handle.segment_ = new (addr) Segment();
  Header& h = handle.segment_->header;
  h.layout_version = kLayoutVersion;
  h.header_size = sizeof(Header);
  h.segment_size = kSegmentSize;
  h.max_workers = kMaxWorkers;
  h.max_claims_per_worker = kMaxClaimsPerWorker;
  h.supervisor_pid.store(owner_pid);
  h.supervisor_start_ticks.store(process_start_ticks(owner_pid).value_or(0));
  h.receiving.store(1);
  // The magic goes in last: a reader that sees it sees a fully initialized header.
  std::atomic_thread_fence(std::memory_order_release);
  h.magic = kMagic;
  std::atomic_thread_fence(std::memory_order_release);
  return handle;
}

Result<SegmentHandle> SegmentHandle::attach(std::string_view instance) {
  if (!valid_instance_name(instance)) {
    return fail(Error::invalid(fmt::format("invalid instance name '{}'", instance)));
  }
  SegmentHandle handle;
  handle.name_ = segment_name(instance);
  OPFLEET_TRY(auto region, map_existing(handle.name_));
  std::atomic_thread_fence(std::memory_order_acquire);
  if (auto st = check_header(*static_cast<const Header*>(region.get_address()), region.get_size());
      !st) {
    Error e = st.error();
    e.message = fmt::format("segment '{}' unusable: {}", handle.name_, e.message);
    return fail(std::move(e));
  }
  handle.mapping_ = std::make_unique<Mapping>(Mapping{std::move(region)});
  handle.segment_ = static_cast<Segment*>(handle.mapping_->region.get_address());
  return handle;
}

SegmentHandle::SegmentHandle(SegmentHandle&&) noexcept = default;
SegmentHandle& SegmentHandle::operator=(SegmentHandle&&) noexcept = default;
SegmentHandle::~SegmentHandle() = default;

void SegmentHandle::remove() {
  if (!name_.empty()) bip::shared_memory_object::remove(name_.c_str());
}

}  // namespace opfleet::shm
