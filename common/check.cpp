#include "common/check.h"

#include <cstdlib>

#include "common/log.h"

namespace opfleet {

void check_failed(const char* expr, const char* file, int line, const char* why) {
  log::error("invariant_broken", {{"check", expr}, {"file", file}, {"line", line}, {"why", why}});
  std::abort();
}

}  // namespace opfleet
