#include "config/validate.h"

#include <gtest/gtest.h>

namespace opfleet::config {
namespace {

using std::chrono::milliseconds;

TEST(ConfigDuration, ParsesUnitsAndCombinations) {
  struct Case {
    const char* text;
    long long ms;
  };
  for (const Case& c :
       {Case{"0", 0}, Case{"250ms", 250}, Case{"30s", 30000}, Case{"5m", 300000},
        Case{"1h", 3600000}, Case{"2d", 172800000}, Case{"1m30s", 90000}, Case{"1s500ms", 1500}}) {
    auto d = parse_duration(c.text);
    ASSERT_TRUE(d) << c.text << ": " << d.error().message;
    EXPECT_EQ(d->count(), c.ms) << c.text;
  }
}

TEST(ConfigDuration, RejectsMissingUnitsAndGarbage) {
  for (const char* text :
       {"", "5", "s", "1.5s", "-1s", "5x", "1 s", "ms5", "10000000000000s", "400d"}) {
    EXPECT_FALSE(parse_duration(text)) << text;
  }
}

TEST(ConfigDuration, FormatReadsBack) {
  for (long long ms : {0LL, 1LL, 999LL, 1000LL, 1500LL, 60000LL, 90000LL, 3600000LL, 86400000LL}) {
    std::string text = format_duration(milliseconds(ms));
    auto back = parse_duration(text);
    ASSERT_TRUE(back) << text;
    EXPECT_EQ(back->count(), ms) << text;
  }
  EXPECT_EQ(format_duration(milliseconds(30000)), "30s");
  EXPECT_EQ(format_duration(milliseconds(1500)), "1500ms");
}

// Runs a value semantic the way program_options does and returns the error text ("" if ok).
template <class T>
std::string check(po::typed_value<T>* semantic, const std::string& token, T* out = nullptr) {
  std::unique_ptr<po::typed_value<T>> owned(semantic);
  boost::any store;
  try {
    const po::value_semantic& semantic_base = *owned;  // parse() is public only here
    semantic_base.parse(store, {token}, true);
  } catch (const po::error& e) {
    return e.what()[0] == '\0' ? "error" : e.what();
  }
  if (out != nullptr) *out = boost::any_cast<T>(store);
  return {};
}

TEST(ConfigValidators, Integers) {
  int v = 0;
  EXPECT_EQ(check(positive_int(), "3", &v), "");
  EXPECT_EQ(v, 3);
  EXPECT_EQ(check(positive_int(), "0"), "must be at least 1");
  EXPECT_EQ(check(non_negative_int(), "0"), "");
  EXPECT_EQ(check(in_range<int>(1, 10), "11"), "must be between 1 and 10");
  EXPECT_NE(check(positive_int(), "abc"), "");
}

TEST(ConfigValidators, EnumsUrlsQueuesRegions) {
  EXPECT_EQ(check(one_of({"ecs", "local"}), std::string("local")), "");
  EXPECT_EQ(check(one_of({"ecs", "local"}), std::string("k8s")), "expected one of: ecs, local");
  EXPECT_EQ(check(http_url(), std::string("")), "");
  EXPECT_EQ(check(http_url(), std::string("http://127.0.0.1:4566")), "");
  EXPECT_EQ(check(http_url(), std::string("https://sqs.eu-west-1.amazonaws.com/")), "");
  EXPECT_NE(check(http_url(), std::string("ftp://x")), "");
  EXPECT_NE(check(http_url(), std::string("http://")), "");
  EXPECT_EQ(check(sqs_queue_name(false), std::string("opfleet-tasks.fifo")), "");
  EXPECT_EQ(check(sqs_queue_name(false), std::string("tasks_2")), "");
  EXPECT_NE(check(sqs_queue_name(false), std::string("")), "");
  EXPECT_EQ(check(sqs_queue_name(true), std::string("")), "");
  EXPECT_NE(check(sqs_queue_name(false), std::string("a b")), "");
  EXPECT_NE(check(sqs_queue_name(false), std::string(81, 'q')), "");
  EXPECT_EQ(check(aws_region(), std::string("eu-west-1")), "");
  EXPECT_NE(check(aws_region(), std::string("EU West")), "");
}

TEST(ConfigValidators, DurationValue) {
  milliseconds d{};
  EXPECT_EQ(check(duration(milliseconds(1000)), std::string("1m"), &d), "");
  EXPECT_EQ(d, milliseconds(60000));
  EXPECT_EQ(check(duration(milliseconds(1000)), std::string("10ms")), "must be at least 1s");
  EXPECT_NE(check(duration(), std::string("10")), "");
  // Plain po::value<milliseconds>() parses durations too (the boost::validate overload).
  EXPECT_EQ(check(po::value<milliseconds>(), std::string("2h"), &d), "");
  EXPECT_EQ(d, milliseconds(7200000));
}

TEST(SplitList, TrimsItemsAndDropsEmptyOnes) {
  EXPECT_EQ(split_list("a, b,,c "), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(split_list("only"), (std::vector<std::string>{"only"}));
  EXPECT_TRUE(split_list("").empty());
  EXPECT_TRUE(split_list(" , ").empty());
}

}  // namespace
}  // namespace opfleet::config
