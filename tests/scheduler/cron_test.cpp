// Cron expressions by table: parsing errors, next and previous ticks (UTC), and the
// day-of-month / day-of-week rule. 2024-01-01 is a Monday; 2024 is a leap year, 2100 is not.
#include "scheduler/cron.h"

#include <gtest/gtest.h>

#include "scheduler/scaled_clock.h"

namespace opfleet::scheduler {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

SysSeconds at(std::string_view text) {
  auto t = parse_utc(text);
  if (!t) throw std::runtime_error(t.error().message);
  return std::chrono::floor<seconds>(*t);
}

CronExpr cron(std::string_view text) {
  auto e = CronExpr::parse(text);
  if (!e) throw std::runtime_error(e.error().message);
  return *e;
}

struct NextCase {
  const char* expr;
  const char* from;
  const char* next;
};

class CronNext : public ::testing::TestWithParam<NextCase> {};

TEST_P(CronNext, FindsTheFirstTickStrictlyAfter) {
  const auto& c = GetParam();
  const CronExpr e = cron(c.expr);
  EXPECT_EQ(format_utc(e.next_after(at(c.from))), c.next) << c.expr << " after " << c.from;
  EXPECT_TRUE(e.matches(at(c.next)));
}

INSTANTIATE_TEST_SUITE_P(
    Table, CronNext,
    ::testing::Values(
        NextCase{"*/10 * * * *", "2024-01-01T00:00:00Z", "2024-01-01T00:10:00Z"},
        NextCase{"*/10 * * * *", "2024-01-01T00:09:59Z", "2024-01-01T00:10:00Z"},
        NextCase{"*/10 * * * *", "2024-01-01T00:10:30Z", "2024-01-01T00:20:00Z"},
        NextCase{"*/10 * * * *", "2024-01-01T23:55:00Z", "2024-01-02T00:00:00Z"},
        NextCase{"* * * * *", "2024-01-01T00:00:30Z", "2024-01-01T00:01:00Z"},
        NextCase{"0 0 * * *", "2024-12-31T12:00:00Z", "2025-01-01T00:00:00Z"},
        // UTC: no daylight-saving gap on the US/EU change dates.
        NextCase{"30 2 * * *", "2024-03-10T02:31:00Z", "2024-03-11T02:30:00Z"},
        NextCase{"30 2 * * *", "2024-03-31T00:00:00Z", "2024-03-31T02:30:00Z"},
        NextCase{"0 0 29 2 *", "2024-03-01T00:00:00Z", "2028-02-29T00:00:00Z"},
        NextCase{"0 0 29 2 *", "2096-03-01T00:00:00Z", "2104-02-29T00:00:00Z"},
        NextCase{"0 0 31 * *", "2024-04-01T00:00:00Z", "2024-05-31T00:00:00Z"},
        NextCase{"59 23 31 12 *", "2024-01-01T00:00:00Z", "2024-12-31T23:59:00Z"},
        NextCase{"15 14 1 * *", "2024-01-01T14:15:00Z", "2024-02-01T14:15:00Z"},
        NextCase{"0 12 * JAN,jul *", "2024-02-01T00:00:00Z", "2024-07-01T12:00:00Z"},
        NextCase{"0 9 * * MON-FRI", "2024-01-05T10:00:00Z", "2024-01-08T09:00:00Z"},
        NextCase{"0 9 * * mon-fri", "2024-01-08T08:00:00Z", "2024-01-08T09:00:00Z"},
        NextCase{"5/20 * * * *", "2024-01-01T10:26:00Z", "2024-01-01T10:45:00Z"},
        NextCase{"10-40/10 * * * *", "2024-01-01T10:41:00Z", "2024-01-01T11:10:00Z"},
        NextCase{"0,30 8-9 * * *", "2024-01-01T09:30:00Z", "2024-01-02T08:00:00Z"},
        NextCase{"*/15 */6 * * *", "2024-01-01T06:45:00Z", "2024-01-01T12:00:00Z"},
        // Sunday is 0 and 7 (and SUN); `?` stands for `*` in the day fields.
        NextCase{"0 0 * * 7", "2024-01-01T00:00:00Z", "2024-01-07T00:00:00Z"},
        NextCase{"0 0 * * 0", "2024-01-01T00:00:00Z", "2024-01-07T00:00:00Z"},
        NextCase{"0 0 ? * SUN", "2024-01-01T00:00:00Z", "2024-01-07T00:00:00Z"},
        NextCase{"0 0 * * 5-7", "2024-01-06T12:00:00Z", "2024-01-07T00:00:00Z"},
        // Both day fields restricted: either one matching is enough (the 1st is a Thursday).
        NextCase{"0 0 1,15 * MON", "2024-01-29T00:00:00Z", "2024-02-01T00:00:00Z"},
        NextCase{"0 0 1,15 * MON", "2024-01-01T00:00:00Z", "2024-01-08T00:00:00Z"},
        // Day-of-month starting with '*' is unrestricted for that rule: both must match
        // (odd days that are Mondays; January 8 is even).
        NextCase{"0 0 */2 * MON", "2024-01-01T00:00:00Z", "2024-01-15T00:00:00Z"},
        // A restricted day-of-week with `*` day-of-month: the weekday alone.
        NextCase{"0 0 * 2 MON", "2024-01-15T00:00:00Z", "2024-02-05T00:00:00Z"},
        // Day-of-month that exists only in some listed months.
        NextCase{"0 0 31 2,3 *", "2024-01-01T00:00:00Z", "2024-03-31T00:00:00Z"}));

struct PrevCase {
  const char* expr;
  const char* at;
  const char* prev;
};

class CronPrev : public ::testing::TestWithParam<PrevCase> {};

TEST_P(CronPrev, FindsTheLastTickAtOrBefore) {
  const auto& c = GetParam();
  EXPECT_EQ(format_utc(cron(c.expr).last_at_or_before(at(c.at))), c.prev)
      << c.expr << " at or before " << c.at;
}

INSTANTIATE_TEST_SUITE_P(
    Table, CronPrev,
    ::testing::Values(PrevCase{"*/10 * * * *", "2024-01-01T00:10:00Z", "2024-01-01T00:10:00Z"},
                      PrevCase{"*/10 * * * *", "2024-01-01T00:19:59Z", "2024-01-01T00:10:00Z"},
                      PrevCase{"*/10 * * * *", "2024-01-01T00:00:59Z", "2024-01-01T00:00:00Z"},
                      PrevCase{"0 0 1 * *", "2024-03-01T00:00:00Z", "2024-03-01T00:00:00Z"},
                      PrevCase{"0 0 1 * *", "2024-02-29T23:59:59Z", "2024-02-01T00:00:00Z"},
                      PrevCase{"0 0 29 2 *", "2027-01-01T00:00:00Z", "2024-02-29T00:00:00Z"},
                      PrevCase{"0 9 * * MON-FRI", "2024-01-07T12:00:00Z", "2024-01-05T09:00:00Z"},
                      PrevCase{"59 23 31 12 *", "2024-06-01T00:00:00Z", "2023-12-31T23:59:00Z"},
                      PrevCase{"0,30 8-9 * * *", "2024-01-02T07:59:00Z", "2024-01-01T09:30:00Z"},
                      PrevCase{"0 0 1,15 * MON", "2024-01-31T00:00:00Z", "2024-01-29T00:00:00Z"}));

// next_after, last_at_or_before and matches agree minute by minute over two weeks around
// a leap day and a month end.
TEST(CronConsistency, NextPreviousAndMatchAgreeEveryMinute) {
  for (const char* expr : {"*/10 * * * *", "0 9 * * MON-FRI", "0 0 1,15 * MON", "7 */5 * * *",
                           "0 0 29 2 *", "30 23 */3 * SUN", "0 12 31 * *"}) {
    const CronExpr e = cron(expr);
    const SysSeconds begin = at("2024-02-22T00:00:00Z");
    const SysSeconds end = at("2024-03-07T00:00:00Z");
    SysSeconds expected_next = e.next_after(begin - minutes(1));
    SysSeconds last = e.last_at_or_before(begin);
    for (SysSeconds m = begin; m < end; m += minutes(1)) {
      const bool tick = e.matches(m);
      ASSERT_EQ(tick, expected_next == m) << expr << " at " << format_utc(m);
      if (tick) {
        last = m;
        expected_next = e.next_after(m);
        ASSERT_GT(expected_next, m);
      }
      ASSERT_EQ(e.last_at_or_before(m + seconds(30)), last) << expr << " at " << format_utc(m);
    }
  }
}

struct BadCase {
  const char* expr;
  const char* message;  // a substring of the error
};

class CronRejects : public ::testing::TestWithParam<BadCase> {};

TEST_P(CronRejects, NamesTheField) {
  const auto& c = GetParam();
  auto e = CronExpr::parse(c.expr);
  ASSERT_FALSE(e) << c.expr;
  EXPECT_EQ(e.error().kind, ErrorKind::kInvalid);
  EXPECT_NE(e.error().message.find(c.message), std::string::npos) << e.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    Table, CronRejects,
    ::testing::Values(
        BadCase{"", "expected 5 fields (minute hour day-of-month month day-of-week), got 0"},
        BadCase{"* * * *", "got 4 in '* * * *'"}, BadCase{"* * * * * *", "got 6"},
        BadCase{"@hourly", "expected 5 fields"},
        BadCase{"60 * * * *", "minute: '60' is out of range 0-59 (in '60 * * * *')"},
        BadCase{"* 24 * * *", "hour: '24' is out of range 0-23"},
        BadCase{"* * 0 * *", "day-of-month: '0' is out of range 1-31"},
        BadCase{"* * 32 * *", "day-of-month: '32' is out of range 1-31"},
        BadCase{"* * * 13 *", "month: '13' is out of range 1-12"},
        BadCase{"* * * 0 *", "month: '0' is out of range 1-12"},
        BadCase{"* * * * 8", "day-of-week: '8' is out of range 0-7"},
        BadCase{"* * * foo *", "month: 'foo' is not a month name (jan-dec)"},
        BadCase{"* * * * MOX", "day-of-week: 'MOX' is not a day-of-week name (sun-sat)"},
        BadCase{"* * * * monday", "day-of-week: 'monday' is not a day-of-week name"},
        BadCase{"MON * * * *", "minute: 'MON' is not a number"},
        BadCase{"? * * * *", "minute: '?' is not a number"},
        BadCase{"* * * ? *", "month: '?' is not a number"},
        BadCase{"-5 * * * *", "minute: a value is missing"},
        BadCase{"*/0 * * * *", "minute: step '0' must be between 1 and 60"},
        BadCase{"*/61 * * * *", "minute: step '61' must be between 1 and 60"},
        BadCase{"* */25 * * *", "hour: step '25' must be between 1 and 24"},
        BadCase{"*/ * * * *", "minute: step '' is not a number"},
        BadCase{"*/x * * * *", "minute: step 'x' is not a number"},
        BadCase{"/5 * * * *", "minute: '/5' has no range before '/'"},
        BadCase{"5-1 * * * *", "minute: range '5-1' runs backwards"},
        BadCase{"* * * * FRI-SUN", "day-of-week: range 'FRI-SUN' runs backwards"},
        BadCase{"1,,2 * * * *", "minute: empty item in the list"},
        BadCase{"1, * * * *", "minute: empty item in the list"},
        BadCase{"1.5 * * * *", "minute: '1.5' is not a number"},
        BadCase{"0 0 30 2 *", "day-of-month: '30' never occurs in the months '2'"},
        BadCase{"0 0 31 4,6,9,11 *", "the schedule would never fire"}));

TEST(CronParse, AcceptsTheUsualSpellings) {
  for (const char* expr :
       {"*/10 * * * *", "0 0 * * *", "  0   0 * *   *  ", "0\t0\t*\t*\t*", "0 0 30 2 MON",
        "0 0 * * 5-7", "0 0 * * FRI-SAT,sun", "0 0 1 JAN-DEC/3 *", "59 23 31 12 7",
        "0-59/59 0-23/23 1-31/31 1-12/12 0-7/7", "*/60 * * * *", "0 0 ? * ?"}) {
    auto e = CronExpr::parse(expr);
    EXPECT_TRUE(e) << expr << ": " << (e ? "" : e.error().message);
    if (e) {
      EXPECT_EQ(e->text(), expr);
    }
  }
}

TEST(CronParse, StepsAndListsSelectTheRightValues) {
  // 0-59/59: 0 and 59 only.
  const CronExpr e = cron("0-59/59 0 1 1 *");
  EXPECT_TRUE(e.matches(at("2024-01-01T00:00:00Z")));
  EXPECT_TRUE(e.matches(at("2024-01-01T00:59:00Z")));
  EXPECT_FALSE(e.matches(at("2024-01-01T00:58:00Z")));
  // Quarterly: January, April, July, October.
  const CronExpr q = cron("0 0 1 JAN-DEC/3 *");
  EXPECT_EQ(format_utc(q.next_after(at("2024-01-01T00:00:00Z"))), "2024-04-01T00:00:00Z");
  EXPECT_EQ(format_utc(q.next_after(at("2024-07-01T00:00:00Z"))), "2024-10-01T00:00:00Z");
  EXPECT_EQ(format_utc(q.next_after(at("2024-10-01T00:00:00Z"))), "2025-01-01T00:00:00Z");
}

}  // namespace
}  // namespace opfleet::scheduler
