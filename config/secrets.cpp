#include "config/secrets.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace opfleet::config {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// postgresql://user:secret@host:5432/db -> postgresql://user:****@host:5432/db, for every URL
// in `value` (a value can hold several, e.g. a list).
std::string mask_url_passwords(std::string_view value) {
  std::string out;
  size_t pos = 0;
  while (pos < value.size()) {
    size_t scheme_end = value.find("://", pos);
    if (scheme_end == std::string_view::npos) break;
    size_t authority = scheme_end + 3;
    // As libpq reads it: the authority runs to the first '/', the user info to the first '@',
    // so a password may hold '?', '#' or ',' unencoded and is still masked whole.
    size_t end = value.find_first_of("/ \t", authority);
    if (end == std::string_view::npos) end = value.size();
    std::string_view auth = value.substr(authority, end - authority);
    size_t at = auth.find('@');
    size_t colon = at == std::string_view::npos ? std::string_view::npos : auth.find(':');
    out.append(value.substr(pos, authority - pos));
    if (colon != std::string_view::npos && colon < at && at > colon + 1) {
      out.append(auth.substr(0, colon + 1));
      out.append(kMask);
      out.append(auth.substr(at));
    } else {
      out.append(auth);
    }
    pos = end;
  }
  out.append(value.substr(std::min(pos, value.size())));
  return out;
}

// password=VALUE (libpq "host=h password=p", URL "?sslmode=x&password=p"), case-insensitive;
// a quoted libpq value ('p a s s') is masked whole.
std::string mask_password_pairs(std::string_view value) {
  static constexpr std::string_view kKey = "password";
  std::string low = lower(value);
  std::string out;
  size_t pos = 0;
  for (;;) {
    size_t k = low.find(kKey, pos);
    if (k == std::string::npos) break;
    size_t eq = k + kKey.size();
    while (eq < low.size() && (low[eq] == ' ' || low[eq] == '\t')) ++eq;
    bool starts_key = k == 0 || std::string_view(" \t&?;").find(low[k - 1]) != std::string::npos;
    if (!starts_key || eq >= low.size() || low[eq] != '=') {
      out.append(value.substr(pos, k + kKey.size() - pos));
      pos = k + kKey.size();
      continue;
    }
    size_t start = eq + 1;
    while (start < low.size() && (low[start] == ' ' || low[start] == '\t')) ++start;
    size_t end = start;
    if (start < value.size() && value[start] == '\'') {
      end = start + 1;
      while (end < value.size() && value[end] != '\'') end += value[end] == '\\' ? 2 : 1;
      end = std::min(end + 1, value.size());
    } else {
      end = value.find_first_of(" \t&;#", start);
      if (end == std::string_view::npos) end = value.size();
    }
    out.append(value.substr(pos, start - pos));
    if (end > start) out.append(kMask);
    pos = end;
  }
  out.append(value.substr(pos));
  return out;
}

}  // namespace

bool is_secret_key(std::string_view key) {
  static constexpr std::array<std::string_view, 5> kWords = {"password", "secret", "token",
                                                             "credential", "authorization"};
  std::string low = lower(key);
  return std::any_of(kWords.begin(), kWords.end(),
                     [&](std::string_view w) { return low.find(w) != std::string::npos; });
}

std::string mask_secrets_in_value(std::string_view value) {
  return mask_password_pairs(mask_url_passwords(value));
}

std::string displayable(std::string_view key, std::string_view value) {
  if (is_secret_key(key)) return value.empty() ? std::string() : std::string(kMask);
  return mask_secrets_in_value(value);
}

}  // namespace opfleet::config
