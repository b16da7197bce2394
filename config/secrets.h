// Keeping secrets out of what `opfleet config show` prints and of error messages.
#pragma once

#include <string>
#include <string_view>

namespace opfleet::config {

inline constexpr std::string_view kMask = "****";

// Does an option name look like it holds a secret (password, secret, token, credential,
// authorization; case-insensitive)? The same words common/log.h redacts.
bool is_secret_key(std::string_view key);

// Masks passwords inside a value: the password of a URL's user info
// (postgresql://user:PASS@host/db) and `password=VALUE` pairs (libpq key/value strings,
// URL query parameters). Everything else is returned unchanged.
std::string mask_secrets_in_value(std::string_view value);

// What may be shown for option `key`: kMask for a non-empty secret key, else the value with
// embedded passwords masked.
std::string displayable(std::string_view key, std::string_view value);

}  // namespace opfleet::config
