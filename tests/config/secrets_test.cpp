#include "config/secrets.h"

#include <gtest/gtest.h>

namespace opfleet::config {
namespace {

TEST(ConfigSecrets, KeyNames) {
  for (const char* k :
       {"db-password", "PASSWORD", "client-secret", "api-token", "aws-credential"}) {
    EXPECT_TRUE(is_secret_key(k)) << k;
  }
  for (const char* k : {"database-url", "queue-name", "aws-profile", "region"}) {
    EXPECT_FALSE(is_secret_key(k)) << k;
  }
}

TEST(ConfigSecrets, UrlPasswordsAreMasked) {
  struct Case {
    const char* in;
    const char* out;
  };
  for (const Case& c : {
           Case{"postgresql://opfleet:hunter2@127.0.0.1:5432/opfleet",
                "postgresql://opfleet:****@127.0.0.1:5432/opfleet"},
           Case{"postgresql://u:p?a#s,s@h1:5432,h2/db", "postgresql://u:****@h1:5432,h2/db"},
           Case{"postgres://u:pw@host", "postgres://u:****@host"},
           Case{"postgresql://opfleet@127.0.0.1/opfleet", "postgresql://opfleet@127.0.0.1/opfleet"},
           Case{"postgresql://host:5432/db", "postgresql://host:5432/db"},
           Case{"postgresql://h/db?sslmode=require&password=pw&x=1",
                "postgresql://h/db?sslmode=require&password=****&x=1"},
           Case{"host=h password=pw dbname=x", "host=h password=**** dbname=x"},
           Case{"host=h PASSWORD = 'p w' dbname=x", "host=h PASSWORD = **** dbname=x"},
           Case{"http://127.0.0.1:4566", "http://127.0.0.1:4566"},
           Case{"oldpassword-rotation", "oldpassword-rotation"},
       }) {
    EXPECT_EQ(mask_secrets_in_value(c.in), c.out) << c.in;
  }
}

TEST(ConfigSecrets, Displayable) {
  EXPECT_EQ(displayable("api-token", "abc"), "****");
  EXPECT_EQ(displayable("api-token", ""), "");
  EXPECT_EQ(displayable("database-url", "postgresql://u:pw@h/d"), "postgresql://u:****@h/d");
  EXPECT_EQ(displayable("queue-name", "q.fifo"), "q.fifo");
}

}  // namespace
}  // namespace opfleet::config
