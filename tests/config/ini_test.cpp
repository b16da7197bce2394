#include "config/ini.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace opfleet::config::ini {
namespace {

using ::testing::HasSubstr;

TEST(ConfigIni, ReadsKeysSectionsAndLineNumbers) {
  auto doc = parse(
      "\xEF\xBB\xBF# comment\r\n"
      "log-level = debug\r\n"
      "\n"
      "  ; another comment\n"
      "[worker]\n"
      "slots=8\n"
      "  database-url =  postgresql://u:p#w=x@h/db  \n"
      "[ scaler ]\n"
      "empty =\n",
      "f.conf");
  ASSERT_TRUE(doc) << doc.error().message;
  ASSERT_EQ(doc->entries.size(), 4u);
  EXPECT_EQ(doc->entries[0].section, "");
  EXPECT_EQ(doc->entries[0].key, "log-level");
  EXPECT_EQ(doc->entries[0].value, "debug");
  EXPECT_EQ(doc->entries[0].line, 2);
  EXPECT_EQ(doc->entries[1].section, "worker");
  EXPECT_EQ(doc->entries[1].key, "slots");
  EXPECT_EQ(doc->entries[1].value, "8");
  EXPECT_EQ(doc->entries[1].line, 6);
  // '#' and '=' inside a value belong to the value: comments are whole lines only.
  EXPECT_EQ(doc->entries[2].value, "postgresql://u:p#w=x@h/db");
  EXPECT_EQ(doc->entries[3].section, "scaler");
  EXPECT_EQ(doc->entries[3].value, "");
  EXPECT_EQ(doc->entries[3].line, 9);
  ASSERT_EQ(doc->sections.size(), 2u);
  EXPECT_EQ(doc->sections[1].name, "scaler");
  EXPECT_EQ(doc->sections[1].line, 8);
}

TEST(ConfigIni, LineWithoutEqualsIsASyntaxErrorWithItsLine) {
  auto doc = parse("a = 1\n\nhunter2\n", "/etc/x.conf");
  ASSERT_FALSE(doc);
  EXPECT_THAT(doc.error().message, HasSubstr("/etc/x.conf line 3: expected 'key = value'"));
  // The offending text may be a pasted secret: it is not echoed.
  EXPECT_THAT(doc.error().message, ::testing::Not(HasSubstr("hunter2")));
}

TEST(ConfigIni, BadSectionHeadersAreRejected) {
  EXPECT_THAT(parse("[worker\n", "f").error().message, HasSubstr("f line 1: a section header"));
  EXPECT_THAT(parse("x = 1\n[]\n", "f").error().message, HasSubstr("f line 2: bad section name"));
  EXPECT_THAT(parse("= 1\n", "f").error().message, HasSubstr("f line 1: bad key"));
}

TEST(ConfigIni, EmptyTextIsAnEmptyDocument) {
  auto doc = parse("", "f");
  ASSERT_TRUE(doc);
  EXPECT_TRUE(doc->entries.empty());
}

}  // namespace
}  // namespace opfleet::config::ini
