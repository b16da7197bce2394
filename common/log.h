// Structured logging: one line per event, to stderr (journald and CloudWatch pick it up).
//   log::info("claimed", {{"key", key}, {"attempt", 2}});
// Text format is logfmt-like for people; `json` format is one JSON object per line.
// Values under keys that look like secrets (password, secret, token, authorization,
// credential) are replaced by "[redacted]" so a careless call site cannot leak them.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

namespace opfleet::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class Format { kText, kJson };

struct Value {
  std::variant<std::string_view, std::string, std::int64_t, std::uint64_t, double, bool> v;
  Value(std::string_view s) : v(s) {}  // NOLINT(google-explicit-constructor)
  Value(const char* s) : v(std::string_view(s)) {}  // NOLINT
  Value(const std::string& s) : v(std::string_view(s)) {}  // NOLINT
  Value(std::string&& s) : v(std::move(s)) {}  // NOLINT
  Value(bool b) : v(b) {}  // NOLINT
  Value(double d) : v(d) {}  // NOLINT
  template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool> &&
                                          std::is_signed_v<T>, int> = 0>
  Value(T i) : v(static_cast<std::int64_t>(i)) {}  // NOLINT
  template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool> &&
                                          std::is_unsigned_v<T>, int> = 0>
  Value(T i) : v(static_cast<std::uint64_t>(i)) {}  // NOLINT
};

struct Field {
  std::string_view key;
  Value value;
};

using Fields = std::initializer_list<Field>;

// Process-wide settings; call once early in main (safe to call again, e.g. on reload).
void configure(Level min_level, Format format, std::string_view component);
bool parse_level(std::string_view text, Level* out);
bool parse_format(std::string_view text, Format* out);
bool enabled(Level level);

void write(Level level, std::string_view event, Fields fields);

inline void debug(std::string_view event, Fields fields = {}) { write(Level::kDebug, event, fields); }
inline void info(std::string_view event, Fields fields = {}) { write(Level::kInfo, event, fields); }
inline void warn(std::string_view event, Fields fields = {}) { write(Level::kWarn, event, fields); }
inline void error(std::string_view event, Fields fields = {}) { write(Level::kError, event, fields); }

// Formats one line without writing it (used by tests).
std::string format_line(Level level, std::string_view event, Fields fields, Format format);

}  // namespace opfleet::log
