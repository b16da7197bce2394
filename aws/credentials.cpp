// Static and environment credentials, and the timestamp parser the HTTP sources share.
#include "aws/credentials.h"

#include <cstdlib>
#include <ctime>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace opfleet::aws {
namespace {

class StaticProvider final : public CredentialsProvider {
 public:
  explicit StaticProvider(Credentials creds) : creds_(std::move(creds)) {
    if (creds_.source.empty()) creds_.source = "static";
  }
  Result<Credentials> get() override {
    if (creds_.access_key_id.empty() || creds_.secret_access_key.empty()) {
      return fail(Error::make(ErrorKind::kAuth, "static credentials are empty"));
    }
    return creds_;  // immutable after construction: no lock needed
  }

 private:
  Credentials creds_;
};

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

class EnvironmentProvider final : public CredentialsProvider {
 public:
  Result<Credentials> get() override {
    Credentials c;
    c.access_key_id = env_or_empty("AWS_ACCESS_KEY_ID");
    c.secret_access_key = env_or_empty("AWS_SECRET_ACCESS_KEY");
    c.session_token = env_or_empty("AWS_SESSION_TOKEN");
    c.source = "environment";
    if (c.access_key_id.empty() && c.secret_access_key.empty()) {
      return fail(Error::not_found("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set"));
    }
    // Half a key pair is a configuration mistake worth reporting, not skipping.
    if (c.access_key_id.empty()) {
      return fail(Error::make(ErrorKind::kAuth,
                              "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not"));
    }
    if (c.secret_access_key.empty()) {
      return fail(Error::make(ErrorKind::kAuth,
                              "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"));
    }
    return c;
  }
};

bool parse_digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

}  // namespace

std::shared_ptr<CredentialsProvider> static_credentials(Credentials creds) {
  return std::make_shared<StaticProvider>(std::move(creds));
}

std::shared_ptr<CredentialsProvider> environment_credentials() {
  return std::make_shared<EnvironmentProvider>();
}

Result<std::chrono::system_clock::time_point> parse_iso8601(std::string_view text) {
  auto bad = [&] { return fail(Error::invalid(fmt::format("bad ISO 8601 time '{}'", text))); };
  // YYYY-MM-DDTHH:MM:SS[.fff][Z|+hh:mm|-hh:mm]
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!parse_digits(text, 0, 4, &year) || text.size() < 19 || text[4] != '-' ||
      !parse_digits(text, 5, 2, &month) || text[7] != '-' || !parse_digits(text, 8, 2, &day) ||
      (text[10] != 'T' && text[10] != 't' && text[10] != ' ') ||
      !parse_digits(text, 11, 2, &hour) || text[13] != ':' || !parse_digits(text, 14, 2, &minute) ||
      text[16] != ':' || !parse_digits(text, 17, 2, &second)) {
    return bad();
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return bad();
  }
  size_t pos = 19;
  std::chrono::nanoseconds fraction{0};
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    long long scale = 100'000'000;
    size_t start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      fraction += std::chrono::nanoseconds((text[pos] - '0') * scale);
      scale /= 10;
      ++pos;
    }
    if (pos == start) return bad();
  }
  int offset_minutes = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int oh = 0, om = 0;
    if (!parse_digits(text, pos + 1, 2, &oh) || pos + 3 >= text.size() || text[pos + 3] != ':' ||
        !parse_digits(text, pos + 4, 2, &om)) {
      return bad();
    }
    offset_minutes = (text[pos] == '+' ? 1 : -1) * (oh * 60 + om);
    pos += 6;
  } else {
    return bad();  // a local time would be ambiguous
  }
  if (pos != text.size()) return bad();
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  std::time_t t = timegm(&tm);
  auto tp = std::chrono::system_clock::from_time_t(t) - std::chrono::minutes(offset_minutes);
  return tp + std::chrono::duration_cast<std::chrono::system_clock::duration>(fraction);
}

}  // namespace opfleet::aws
