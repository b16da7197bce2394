#include "common/log.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace opfleet::log {
namespace {

TEST(Log, JsonLineIsOneParsableObjectWithFields) {
  configure(Level::kInfo, Format::kJson, "test");
  std::string line = format_line(Level::kWarn, "claimed", {{"key", "run#a \"b\""}, {"attempt", 2},
                                                           {"ok", true}, {"ratio", 0.5}},
                                 Format::kJson);
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["event"], "claimed");
  EXPECT_EQ(j["level"], "warn");
  EXPECT_EQ(j["component"], "test");
  EXPECT_EQ(j["key"], "run#a \"b\"");
  EXPECT_EQ(j["attempt"], 2);
  EXPECT_EQ(j["ok"], true);
  EXPECT_DOUBLE_EQ(j["ratio"].get<double>(), 0.5);
}

TEST(Log, SecretsAreRedactedInBothFormats) {
  for (Format f : {Format::kJson, Format::kText}) {
    std::string line = format_line(Level::kInfo, "creds",
                                   {{"aws_secret_access_key", "AKIA-SECRET"},
                                    {"session_token", "tok"}, {"Authorization", "AWS4 x"}},
                                   f);
    EXPECT_EQ(line.find("AKIA-SECRET"), std::string::npos) << line;
    EXPECT_EQ(line.find("tok\""), std::string::npos) << line;
    EXPECT_EQ(line.find("AWS4 x"), std::string::npos) << line;
    EXPECT_NE(line.find("[redacted]"), std::string::npos) << line;
  }
}

TEST(Log, TextQuotesValuesWithSpaces) {
  std::string line =
      format_line(Level::kInfo, "e", {{"plain", "abc"}, {"spaced", "a b"}}, Format::kText);
  EXPECT_NE(line.find("plain=abc"), std::string::npos) << line;
  EXPECT_NE(line.find("spaced=\"a b\""), std::string::npos) << line;
}

TEST(Log, LevelsParse) {
  Level l{};
  EXPECT_TRUE(parse_level("debug", &l));
  EXPECT_EQ(l, Level::kDebug);
  EXPECT_FALSE(parse_level("loud", &l));
  Format f{};
  EXPECT_TRUE(parse_format("json", &f));
  EXPECT_FALSE(parse_format("xml", &f));
}

}  // namespace
}  // namespace opfleet::log
