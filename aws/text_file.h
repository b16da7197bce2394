// Internal to aws/: reading small configuration files (shared credentials, token files)
// with O_CLOEXEC, so a concurrent fork+exec in the supervisor never inherits them.
#pragma once

#include <cstddef>
#include <string>

#include "common/result.h"

namespace opfleet::aws::detail {

// The whole file; kNotFound when it does not exist, kInvalid when larger than max_bytes
// (these files are tiny: a huge one is a mistake, not something to load into memory).
Result<std::string> read_text_file(const std::string& path, std::size_t max_bytes = 1 << 20);

// "~/x" -> "$HOME/x" (or the passwd entry's home when HOME is unset), as the AWS SDKs
// expand the file variables. Other paths are returned unchanged.
std::string expand_home(const std::string& path);

}  // namespace opfleet::aws::detail
