#include "common/log.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <chrono>
#include <ctime>
#include <mutex>

#include <fmt/format.h>

namespace opfleet::log {
namespace {

struct Settings {
  std::atomic<int> min_level{static_cast<int>(Level::kInfo)};
  std::atomic<Format> format{Format::kText};
  std::mutex mu;  // guards component and serializes writes
  std::string component = "opfleet";
};

Settings& settings() {
  static Settings s;
  return s;
}

const char* level_name(Level level) {
  switch (level) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "info";
}

bool is_secret_key(std::string_view key) {
  std::string lower(key);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static constexpr std::array<std::string_view, 5> kWords = {"password", "secret", "token",
                                                             "authorization", "credential"};
  return std::any_of(kWords.begin(), kWords.end(),
                     [&](std::string_view w) { return lower.find(w) != std::string::npos; });
}

void append_json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += fmt::format("\\u{:04x}", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

bool needs_quotes(std::string_view s) {
  if (s.empty()) return true;
  return std::any_of(s.begin(), s.end(), [](unsigned char c) {
    return c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f;
  });
}

void append_value(std::string& out, const Value& value, bool json, bool redact) {
  if (redact) {
    if (json) {
      out += "\"[redacted]\"";
    } else {
      out += "[redacted]";
    }
    return;
  }
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string_view> || std::is_same_v<T, std::string>) {
          std::string_view sv(v);
          if (json || needs_quotes(sv)) {
            append_json_string(out, sv);
          } else {
            out.append(sv);
          }
        } else if constexpr (std::is_same_v<T, bool>) {
          out += v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, double>) {
          out += fmt::format("{:.6g}", v);
        } else {
          out += fmt::format("{}", v);
        }
      },
      value.v);
}

std::string timestamp() {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto secs = time_point_cast<seconds>(now);
  auto ms = duration_cast<milliseconds>(now - secs).count();
  std::time_t t = system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

}  // namespace

void configure(Level min_level, Format format, std::string_view component) {
  auto& s = settings();
  s.min_level = static_cast<int>(min_level);
  s.format = format;
  std::lock_guard lock(s.mu);
  s.component = std::string(component);
}

bool parse_level(std::string_view text, Level* out) {
  if (text == "debug") *out = Level::kDebug;
  else if (text == "info") *out = Level::kInfo;
  else if (text == "warn" || text == "warning") *out = Level::kWarn;
  else if (text == "error") *out = Level::kError;
  else return false;
  return true;
}

bool parse_format(std::string_view text, Format* out) {
  if (text == "text") *out = Format::kText;
  else if (text == "json") *out = Format::kJson;
  else return false;
  return true;
}

bool enabled(Level level) { return static_cast<int>(level) >= settings().min_level.load(); }

std::string format_line(Level level, std::string_view event, Fields fields, Format format) {
  auto& s = settings();
  std::string component;
  {
    std::lock_guard lock(s.mu);
    component = s.component;
  }
  std::string out;
  out.reserve(128);
  if (format == Format::kJson) {
    out += "{\"ts\":";
    append_json_string(out, timestamp());
    out += ",\"level\":";
    append_json_string(out, level_name(level));
    out += ",\"component\":";
    append_json_string(out, component);
    out += fmt::format(",\"pid\":{},\"event\":", getpid());
    append_json_string(out, event);
    for (const auto& f : fields) {
      out.push_back(',');
      append_json_string(out, f.key);
      out.push_back(':');
      append_value(out, f.value, true, is_secret_key(f.key));
    }
    out += "}\n";
  } else {
    out += fmt::format("{} {:<5} {}[{}] {}", timestamp(), level_name(level), component, getpid(),
                       event);
    for (const auto& f : fields) {
      out.push_back(' ');
      out.append(f.key);
      out.push_back('=');
      append_value(out, f.value, false, is_secret_key(f.key));
    }
    out.push_back('\n');
  }
  return out;
}

void write(Level level, std::string_view event, Fields fields) {
  if (!enabled(level)) return;
  auto& s = settings();
  std::string line = format_line(level, event, fields, s.format.load());
  // One write(2) per line keeps lines whole when several processes share stderr.
  std::lock_guard lock(s.mu);
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n <= 0) break;
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace opfleet::log
