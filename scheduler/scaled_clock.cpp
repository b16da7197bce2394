#include "scheduler/scaled_clock.h"

#include <cmath>
#include <optional>

#include <fmt/format.h>

namespace opfleet::scheduler {

namespace {

using namespace std::chrono;  // NOLINT(google-build-using-namespace): calendar arithmetic

// Scales a span, rounding to the nearest microsecond. The double keeps 15-16 significant
// digits: exact to the microsecond for spans up to about 300 years.
microseconds scale_span(microseconds span, double factor) {
  return microseconds(std::llround(static_cast<double>(span.count()) * factor));
}

std::optional<int> digits(std::string_view s, std::size_t pos, std::size_t n) {
  if (pos + n > s.size()) return std::nullopt;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

}  // namespace

SysMicros ScaledClock::to_schedule(SysMicros wall) const {
  return anchor + schedule_span(wall - anchor);
}

SysMicros ScaledClock::to_wall(SysMicros schedule) const {
  return anchor + wall_span(schedule - anchor);
}

microseconds ScaledClock::wall_span(microseconds schedule_span) const {
  return scale == 1.0 ? schedule_span : scale_span(schedule_span, scale);
}

microseconds ScaledClock::schedule_span(microseconds wall_span) const {
  return scale == 1.0 ? wall_span : scale_span(wall_span, 1.0 / scale);
}

SysMicros wall_now() {
  return time_point_cast<microseconds>(system_clock::now());
}

std::string format_utc(sys_seconds t) {
  const auto d = floor<days>(t);
  const year_month_day ymd(d);
  const hh_mm_ss<seconds> hms(t - d);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                     hms.hours().count(), hms.minutes().count(), hms.seconds().count());
}

std::string format_utc(SysMicros t) {
  return format_utc(floor<seconds>(t));
}

Result<SysMicros> parse_utc(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return fail(Error::invalid(
        fmt::format("'{}' is not a UTC time of the form 2030-01-02T03:04:05Z: {}", text, why)));
  };
  // YYYY-MM-DDTHH:MM
  auto y = digits(text, 0, 4);
  auto mo = digits(text, 5, 2);
  auto dd = digits(text, 8, 2);
  auto hh = digits(text, 11, 2);
  auto mi = digits(text, 14, 2);
  if (!y || !mo || !dd || !hh || !mi || text[4] != '-' || text[7] != '-' ||
      (text[10] != 'T' && text[10] != 't' && text[10] != ' ') || text[13] != ':') {
    return bad("expected YYYY-MM-DDTHH:MM");
  }
  std::size_t pos = 16;
  int ss = 0;
  microseconds fraction{0};
  if (pos < text.size() && text[pos] == ':') {
    auto s = digits(text, pos + 1, 2);
    if (!s) return bad("bad seconds");
    ss = *s;
    pos += 3;
    if (pos < text.size() && text[pos] == '.') {
      ++pos;
      long long us = 0;
      int n = 0;
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
        if (n < 6) {
          us = us * 10 + (text[pos] - '0');
          ++n;
        }
        ++pos;
      }
      if (n == 0) return bad("empty fraction of a second");
      for (; n < 6; ++n) us *= 10;
      fraction = microseconds(us);
    }
  }
  const std::string_view zone = text.substr(pos);
  if (!zone.empty() && zone != "Z" && zone != "z" && zone != "+00:00" && zone != "+0000" &&
      zone != "+00") {
    return bad(fmt::format("'{}' is not UTC (write Z or +00:00)", zone));
  }
  const year_month_day ymd{year(*y), month(static_cast<unsigned>(*mo)),
                           day(static_cast<unsigned>(*dd))};
  if (!ymd.ok()) return bad("no such date");
  if (*hh > 23 || *mi > 59 || ss > 59) return bad("no such time of day");
  return SysMicros(sys_days(ymd)) + hours(*hh) + minutes(*mi) + seconds(ss) + fraction;
}

}  // namespace opfleet::scheduler
