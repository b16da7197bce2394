#include "scheduler/cron.h"

#include <array>
#include <cctype>
#include <cstdint>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "common/check.h"

namespace opfleet::scheduler {

namespace {

using namespace std::chrono;  // NOLINT(google-build-using-namespace): calendar arithmetic

constexpr std::array<std::string_view, 12> kMonthNames = {"jan", "feb", "mar", "apr", "may", "jun",
                                                          "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<std::string_view, 7> kDayNames = {"sun", "mon", "tue", "wed",
                                                       "thu", "fri", "sat"};

struct FieldSpec {
  std::string_view name;
  int min;
  int max;
  const std::string_view* names;  // nullptr: numbers only
  int name_count;
  int name_base;       // value of names[0]
  bool question_mark;  // accepts `?` for `*`
};

constexpr std::array<FieldSpec, 5> kFields = {{
    {"minute", 0, 59, nullptr, 0, 0, false},
    {"hour", 0, 23, nullptr, 0, 0, false},
    {"day-of-month", 1, 31, nullptr, 0, 0, true},
    {"month", 1, 12, kMonthNames.data(), 12, 1, false},
    // 7 is Sunday as well as 0 (both spellings are common); folded onto 0 after parsing.
    {"day-of-week", 0, 7, kDayNames.data(), 7, 0, true},
}};

// The longest month of each month number (February: 29, leap years).
constexpr std::array<int, 13> kMaxDays = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

// A month, day or hour boundary has to come up within this span: every restricted
// combination parse() accepts recurs within 28 years (the weekday cycle of the calendar),
// so failing to find one is a bug, not an input.
constexpr auto kSearchSpan = years(30);

struct ParseError {
  std::string why;
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::optional<int> to_number(std::string_view s) {
  if (s.empty() || s.size() > 4) return std::nullopt;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

Result<int> parse_value(std::string_view token, const FieldSpec& f) {
  if (token.empty()) return fail(Error::invalid("a value is missing"));
  if (std::isalpha(static_cast<unsigned char>(token.front())) != 0) {
    if (f.names == nullptr) {
      return fail(Error::invalid(fmt::format("'{}' is not a number", token)));
    }
    const std::string name = lower(token);
    for (int i = 0; i < f.name_count; ++i) {
      if (f.names[i] == name) return f.name_base + i;
    }
    return fail(Error::invalid(fmt::format("'{}' is not a {} name ({}-{})", token, f.name,
                                           f.names[0], f.names[f.name_count - 1])));
  }
  auto v = to_number(token);
  if (!v) return fail(Error::invalid(fmt::format("'{}' is not a number", token)));
  if (*v < f.min || *v > f.max) {
    return fail(Error::invalid(fmt::format("'{}' is out of range {}-{}", token, f.min, f.max)));
  }
  return *v;
}

// One item of a list: `*`, `v`, `a-b`, each optionally `/step`. Sets the bits of `mask`.
Status parse_item(std::string_view item, const FieldSpec& f, std::uint64_t* mask) {
  std::string_view base = item;
  std::optional<int> step;
  if (auto slash = item.find('/'); slash != std::string_view::npos) {
    base = item.substr(0, slash);
    std::string_view step_text = item.substr(slash + 1);
    step = to_number(step_text);
    if (!step) return fail(Error::invalid(fmt::format("step '{}' is not a number", step_text)));
    const int span = f.max - f.min + 1;
    if (*step < 1 || *step > span) {
      return fail(
          Error::invalid(fmt::format("step '{}' must be between 1 and {}", step_text, span)));
    }
    if (base.empty())
      return fail(Error::invalid(fmt::format("'{}' has no range before '/'", item)));
  }
  int lo = 0;
  int hi = 0;
  if (base == "*" || (f.question_mark && base == "?")) {
    lo = f.min;
    hi = f.max;
  } else if (auto dash = base.find('-'); dash != std::string_view::npos) {
    OPFLEET_TRY(lo, parse_value(base.substr(0, dash), f));
    OPFLEET_TRY(hi, parse_value(base.substr(dash + 1), f));
    if (lo > hi) {
      return fail(Error::invalid(fmt::format("range '{}' runs backwards", base)));
    }
  } else {
    OPFLEET_TRY(lo, parse_value(base, f));
    // `5/20` is shorthand for `5-max/20` (Vixie cron reads it so too).
    hi = step ? f.max : lo;
  }
  for (int v = lo; v <= hi; v += step.value_or(1)) *mask |= std::uint64_t{1} << v;
  return ok();
}

Result<std::uint64_t> parse_field(std::string_view text, const FieldSpec& f) {
  std::uint64_t mask = 0;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = text.find(',', start);
    const std::string_view item = text.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (item.empty()) return fail(Error::invalid("empty item in the list"));
    OPFLEET_TRY_STATUS(parse_item(item, f, &mask));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return mask;
}

std::vector<std::string_view> split_fields(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    const std::size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\t') ++i;
    if (i > start) out.push_back(text.substr(start, i - start));
  }
  return out;
}

template <std::size_t N>
std::bitset<N> to_bits(std::uint64_t mask) {
  return std::bitset<N>(static_cast<unsigned long long>(mask));
}

sys_days first_of_month(year_month ym) {
  return sys_days(ym / day(1));
}

}  // namespace

Result<CronExpr> CronExpr::parse(std::string_view text) {
  const auto fields = split_fields(text);
  if (fields.size() != kFields.size()) {
    return fail(Error::invalid(fmt::format(
        "expected 5 fields (minute hour day-of-month month day-of-week), got {} in '{}'",
        fields.size(), text)));
  }
  std::array<std::uint64_t, 5> masks{};
  for (std::size_t i = 0; i < kFields.size(); ++i) {
    auto mask = parse_field(fields[i], kFields[i]);
    if (!mask) {
      return fail(Error::invalid(
          fmt::format("{}: {} (in '{}')", kFields[i].name, mask.error().message, text)));
    }
    masks[i] = *mask;
  }
  CronExpr e;
  e.text_ = std::string(text);
  e.minutes_ = to_bits<60>(masks[0]);
  e.hours_ = to_bits<24>(masks[1]);
  e.days_of_month_ = to_bits<32>(masks[2]);
  e.months_ = to_bits<13>(masks[3]);
  // Bit 7 (Sunday spelled 7) folds onto bit 0.
  e.days_of_week_ = to_bits<7>((masks[4] | (masks[4] >> 7)) & 0x7f);
  e.dom_restricted_ = fields[2].front() != '*' && fields[2].front() != '?';
  e.dow_restricted_ = fields[4].front() != '*' && fields[4].front() != '?';

  // With day-of-week unrestricted, only day-of-month decides: some listed day must exist
  // in some listed month, or the expression never fires ("0 0 31 4 *", "0 0 30 2 *").
  if (e.dom_restricted_ && !e.dow_restricted_) {
    bool possible = false;
    for (int m = 1; m <= 12 && !possible; ++m) {
      if (!e.months_.test(static_cast<std::size_t>(m))) continue;
      for (int d = 1; d <= kMaxDays[static_cast<std::size_t>(m)] && !possible; ++d) {
        possible = e.days_of_month_.test(static_cast<std::size_t>(d));
      }
    }
    if (!possible) {
      return fail(Error::invalid(fmt::format(
          "day-of-month: '{}' never occurs in the months '{}' (in '{}'): the schedule would "
          "never fire",
          fields[2], fields[3], text)));
    }
  }
  return e;
}

bool CronExpr::day_matches(sys_days d) const {
  const year_month_day ymd(d);
  const bool dom = days_of_month_.test(static_cast<unsigned>(ymd.day()));
  const bool dow = days_of_week_.test(weekday(d).c_encoding());
  if (dom_restricted_ && dow_restricted_) return dom || dow;
  return dom && dow;
}

bool CronExpr::matches(SysSeconds t) const {
  const auto m = floor<minutes>(t);
  const auto d = floor<days>(m);
  const year_month_day ymd(d);
  const hh_mm_ss<minutes> hm(m - d);
  return months_.test(static_cast<unsigned>(ymd.month())) && day_matches(d) &&
         hours_.test(static_cast<std::size_t>(hm.hours().count())) &&
         minutes_.test(static_cast<std::size_t>(hm.minutes().count()));
}

SysSeconds CronExpr::next_after(SysSeconds t) const {
  // Walk forward, skipping a whole month, day or hour whenever that unit cannot match.
  sys_time<minutes> m = floor<minutes>(t) + minutes(1);
  const auto limit = m + kSearchSpan;
  while (m < limit) {
    const auto d = floor<days>(m);
    const year_month_day ymd(d);
    if (!months_.test(static_cast<unsigned>(ymd.month()))) {
      m = first_of_month(year_month(ymd.year(), ymd.month()) + months(1));
      continue;
    }
    if (!day_matches(d)) {
      m = d + days(1);
      continue;
    }
    const hh_mm_ss<minutes> hm(m - d);
    const auto h = static_cast<std::size_t>(hm.hours().count());
    if (!hours_.test(h)) {
      m = d + hours(h + 1);
      continue;
    }
    auto min = static_cast<std::size_t>(hm.minutes().count());
    while (min < 60 && !minutes_.test(min)) ++min;
    if (min == 60) {
      m = d + hours(h + 1);
      continue;
    }
    return d + hours(h) + minutes(min);
  }
  OPFLEET_CHECK(false, "cron: no tick within 30 years of an expression parse() accepted");
}

SysSeconds CronExpr::last_at_or_before(SysSeconds t) const {
  // The mirror image of next_after: step back to the last minute of the previous month,
  // day or hour whenever the current one cannot match.
  sys_time<minutes> m = floor<minutes>(t);
  const auto limit = m - kSearchSpan;
  while (m > limit) {
    const auto d = floor<days>(m);
    const year_month_day ymd(d);
    if (!months_.test(static_cast<unsigned>(ymd.month()))) {
      m = first_of_month(year_month(ymd.year(), ymd.month())) - minutes(1);
      continue;
    }
    if (!day_matches(d)) {
      m = d - minutes(1);
      continue;
    }
    const hh_mm_ss<minutes> hm(m - d);
    const auto h = static_cast<long>(hm.hours().count());
    if (!hours_.test(static_cast<std::size_t>(h))) {
      m = d + hours(h) - minutes(1);
      continue;
    }
    long min = hm.minutes().count();
    while (min >= 0 && !minutes_.test(static_cast<std::size_t>(min))) --min;
    if (min < 0) {
      m = d + hours(h) - minutes(1);
      continue;
    }
    return d + hours(h) + minutes(min);
  }
  OPFLEET_CHECK(false, "cron: no tick within 30 years of an expression parse() accepted");
}

}  // namespace opfleet::scheduler
