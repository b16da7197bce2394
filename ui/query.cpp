#include "ui/query.h"

#include <cctype>
#include <charconv>

#include <fmt/format.h>

namespace opfleet::ui {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Result<std::string> percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '%') {
      const int hi = i + 2 < s.size() ? hex_value(s[i + 1]) : -1;
      const int lo = i + 2 < s.size() ? hex_value(s[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return fail(Error::invalid(fmt::format("bad percent-encoding at '{}'", s.substr(i, 3))));
      }
      const char decoded = static_cast<char>(hi * 16 + lo);
      if (decoded == '\0') return fail(Error::invalid("a NUL byte is not allowed"));
      out += decoded;
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::string percent_encode(std::string_view s) {
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += fmt::format("%{:02X}", u);
    }
  }
  return out;
}

Result<Query> Query::parse(std::string_view raw) {
  Query q;
  while (!raw.empty()) {
    const auto amp = raw.find('&');
    const std::string_view pair = raw.substr(0, amp);
    raw = amp == std::string_view::npos ? std::string_view() : raw.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    OPFLEET_TRY(auto name, percent_decode(pair.substr(0, eq), true));
    std::string value;
    if (eq != std::string_view::npos) {
      OPFLEET_TRY(value, percent_decode(pair.substr(eq + 1), true));
    }
    q.values_.emplace(std::move(name), std::move(value));
  }
  return q;
}

Status Query::only(const std::set<std::string, std::less<>>& known) const {
  for (const auto& [name, value] : values_) {
    if (known.count(name) == 0) {
      return fail(Error::invalid(
          fmt::format("unknown parameter '{}' (known: {})", name, fmt::join(known, ", "))));
    }
  }
  return ok();
}

std::string Query::text(std::string_view name) const {
  auto [first, last] = values_.equal_range(name);
  std::string out;
  for (auto it = first; it != last; ++it) out = it->second;
  return out;
}

std::vector<std::string> Query::all(std::string_view name) const {
  std::vector<std::string> out;
  auto [first, last] = values_.equal_range(name);
  for (auto it = first; it != last; ++it) {
    if (!it->second.empty()) out.push_back(it->second);
  }
  return out;
}

Result<int> Query::integer(std::string_view name, int fallback, int min, int max) const {
  const std::string v = text(name);
  if (v.empty()) return fallback;
  int out = 0;
  const auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || ptr != v.data() + v.size() || out < min || out > max) {
    return fail(Error::invalid(
        fmt::format("{}: '{}' is not a whole number between {} and {}", name, v, min, max)));
  }
  return out;
}

Result<std::string> Query::one_of(std::string_view name,
                                  const std::vector<std::string>& allowed) const {
  std::string v = text(name);
  if (v.empty()) return v;
  for (const auto& a : allowed) {
    if (a == v) return v;
  }
  return fail(
      Error::invalid(fmt::format("{}: '{}' is not one of {}", name, v, fmt::join(allowed, ", "))));
}

}  // namespace opfleet::ui
