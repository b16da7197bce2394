// Credential sources, each alone and in the default chain, against temp files and the
// local test server standing in for the ECS agent and the EC2 metadata service.
#include "aws/credentials.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "aws/http.h"
#include "tests/support/http_server.h"

namespace opfleet::aws {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::HttpServer;
using testing::HttpServerRequest;
using testing::HttpServerResponse;
using Clock = std::chrono::system_clock;

const char* const kAwsVariables[] = {"AWS_ACCESS_KEY_ID",
                                     "AWS_SECRET_ACCESS_KEY",
                                     "AWS_SESSION_TOKEN",
                                     "AWS_PROFILE",
                                     "AWS_SHARED_CREDENTIALS_FILE",
                                     "AWS_CONFIG_FILE",
                                     "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                                     "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                                     "AWS_CONTAINER_AUTHORIZATION_TOKEN",
                                     "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                                     "AWS_EC2_METADATA_SERVICE_ENDPOINT",
                                     "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
                                     "AWS_EC2_METADATA_DISABLED",
                                     "http_proxy",
                                     "HTTP_PROXY",
                                     "no_proxy",
                                     "NO_PROXY"};

std::string iso8601(Clock::time_point t) {
  std::time_t secs = Clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string credentials_json(const std::string& key, Clock::time_point expiration) {
  return fmt::format(R"({{"AccessKeyId":"{}","SecretAccessKey":"secret-{}","Token":"token-{}",)"
                     R"("Expiration":"{}","RoleArn":"arn:aws:iam::123456789012:role/opfleet"}})",
                     key, key, key, iso8601(expiration));
}

// A settable clock shared by the provider and the fake endpoints (whole seconds, so the
// served Expiration round-trips exactly).
class FakeClock {
 public:
  FakeClock()
      : now_(std::chrono::floor<std::chrono::seconds>(Clock::now()).time_since_epoch().count()) {}
  Clock::time_point now() const { return Clock::time_point(std::chrono::seconds(now_.load())); }
  void advance(std::chrono::seconds d) { now_ += d.count(); }
  std::function<Clock::time_point()> fn() {
    return [this] { return now(); };
  }

 private:
  std::atomic<std::int64_t> now_;
};

// Every test starts from an environment without AWS settings (the developer's own and
// the stack's dummy keys included) and with the shared files pointing into a temp dir.
class CredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : kAwsVariables) {
      if (const char* v = std::getenv(name)) saved_[name] = v;
      ::unsetenv(name);
    }
    char tmpl[] = "/tmp/opfleet-creds-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    set("AWS_SHARED_CREDENTIALS_FILE", (dir_ / "credentials").string());
    set("AWS_CONFIG_FILE", (dir_ / "config").string());
  }
  void TearDown() override {
    for (const char* name : kAwsVariables) ::unsetenv(name);
    for (const auto& [k, v] : saved_) ::setenv(k.c_str(), v.c_str(), 1);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  static void set(const char* name, const std::string& value) { ::setenv(name, value.c_str(), 1); }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary) << text;
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  fs::path dir_;
  std::map<std::string, std::string> saved_;
};

// ---- Environment -----------------------------------------------------------------------

TEST_F(CredentialsTest, EnvironmentWithSessionToken) {
  auto provider = environment_credentials();
  auto none = provider->get();
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().kind, ErrorKind::kNotFound);

  set("AWS_ACCESS_KEY_ID", "AKIAENV");
  set("AWS_SECRET_ACCESS_KEY", "env-secret");
  set("AWS_SESSION_TOKEN", "env-token");
  auto c = provider->get();
  ASSERT_TRUE(c) << c.error().describe();
  EXPECT_EQ(c->access_key_id, "AKIAENV");
  EXPECT_EQ(c->secret_access_key, "env-secret");
  EXPECT_EQ(c->session_token, "env-token");
  EXPECT_FALSE(c->expiration);
  EXPECT_EQ(c->source, "environment");

  ::unsetenv("AWS_SESSION_TOKEN");
  auto without_token = provider->get();
  ASSERT_TRUE(without_token);
  EXPECT_EQ(without_token->session_token, "");
}

TEST_F(CredentialsTest, EnvironmentHalfAKeyPairIsAnError) {
  set("AWS_ACCESS_KEY_ID", "AKIAENV");
  auto c = environment_credentials()->get();
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().kind, ErrorKind::kAuth);
  EXPECT_NE(c.error().message.find("AWS_SECRET_ACCESS_KEY"), std::string::npos);
}

TEST_F(CredentialsTest, StaticCredentials) {
  auto c = static_credentials({"AKIASTATIC", "s", "", std::nullopt, ""})->get();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->access_key_id, "AKIASTATIC");
  EXPECT_EQ(c->source, "static");
  EXPECT_FALSE(static_credentials({})->get());
}

// ---- Shared files ----------------------------------------------------------------------

constexpr const char* kCredentialsFile = R"(# comment
[default]
aws_access_key_id = AKIADEFAULT
aws_secret_access_key = default-secret

[ci]
aws_access_key_id=AKIACI
aws_secret_access_key=ci-secret
aws_session_token = ci-token
; another comment
)";

constexpr const char* kConfigFile = R"([default]
region = us-east-1

[profile ci]
aws_access_key_id = AKIA-OVERRIDDEN-BY-CREDENTIALS-FILE
region = eu-west-1

[profile fromconfig]
region = eu-west-1
s3 =
  max_concurrent_requests = 20
aws_access_key_id = AKIACONFIG
aws_secret_access_key = config-secret

[profile assumed]
role_arn = arn:aws:iam::123456789012:role/x
source_profile = default

[profile half]
aws_access_key_id = AKIAHALF
)";

TEST_F(CredentialsTest, ProfileDefaultAndSelection) {
  write("credentials", kCredentialsFile);
  write("config", kConfigFile);

  auto def = profile_credentials()->get();
  ASSERT_TRUE(def) << def.error().describe();
  EXPECT_EQ(def->access_key_id, "AKIADEFAULT");
  EXPECT_EQ(def->secret_access_key, "default-secret");
  EXPECT_EQ(def->session_token, "");
  EXPECT_EQ(def->source, "profile:default");

  set("AWS_PROFILE", "ci");
  auto ci = profile_credentials()->get();
  ASSERT_TRUE(ci) << ci.error().describe();
  EXPECT_EQ(ci->access_key_id, "AKIACI");  // the credentials file wins over config
  EXPECT_EQ(ci->session_token, "ci-token");
  EXPECT_EQ(ci->source, "profile:ci");

  // An explicit option beats AWS_PROFILE; [profile NAME] in the config file, with a nested
  // block before the keys.
  auto cfg = profile_credentials({.profile = "fromconfig"})->get();
  ASSERT_TRUE(cfg) << cfg.error().describe();
  EXPECT_EQ(cfg->access_key_id, "AKIACONFIG");
  EXPECT_EQ(cfg->secret_access_key, "config-secret");
}

TEST_F(CredentialsTest, ProfileFilesFromOptionsAndHomeExpansion) {
  write("other-credentials", "[default]\naws_access_key_id=AKIAOPT\naws_secret_access_key=x\n");
  auto c = profile_credentials({.credentials_file = path("other-credentials")})->get();
  ASSERT_TRUE(c) << c.error().describe();
  EXPECT_EQ(c->access_key_id, "AKIAOPT");

  std::string saved_home = std::getenv("HOME") != nullptr ? std::getenv("HOME") : "";
  set("HOME", dir_.string());
  fs::create_directories(dir_ / ".aws");
  write(".aws/credentials", "[default]\naws_access_key_id=AKIAHOME\naws_secret_access_key=h\n");
  ::unsetenv("AWS_SHARED_CREDENTIALS_FILE");
  auto home = profile_credentials()->get();
  set("HOME", saved_home);
  ASSERT_TRUE(home) << home.error().describe();
  EXPECT_EQ(home->access_key_id, "AKIAHOME");
}

TEST_F(CredentialsTest, ProfileErrorsAreClear) {
  // No files at all: not configured.
  auto none = profile_credentials()->get();
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().kind, ErrorKind::kNotFound);

  write("credentials", kCredentialsFile);
  write("config", kConfigFile);
  auto missing = profile_credentials({.profile = "nope"})->get();
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::kInvalid);  // asked for by name: must exist
  EXPECT_NE(missing.error().message.find("'nope'"), std::string::npos);

  auto assumed = profile_credentials({.profile = "assumed"})->get();
  ASSERT_FALSE(assumed);
  EXPECT_EQ(assumed.error().kind, ErrorKind::kInvalid);
  EXPECT_NE(assumed.error().message.find("role_arn"), std::string::npos);

  auto half = profile_credentials({.profile = "half"})->get();
  ASSERT_FALSE(half);
  EXPECT_EQ(half.error().kind, ErrorKind::kAuth);

  // The implicit default profile may be absent (config holds only settings).
  write("credentials", "[ci]\naws_access_key_id=a\naws_secret_access_key=b\n");
  write("config", "[default]\nregion = us-east-1\n");
  auto no_default = profile_credentials()->get();
  ASSERT_FALSE(no_default);
  EXPECT_EQ(no_default.error().kind, ErrorKind::kNotFound);
}

TEST_F(CredentialsTest, MalformedFileNamesTheLineButNotItsContent) {
  write("credentials", "[default]\naws_access_key_id=AKIA\nTOPSECRETVALUE\n");
  auto c = profile_credentials()->get();
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().kind, ErrorKind::kInvalid);
  EXPECT_NE(c.error().message.find(path("credentials") + ":3"), std::string::npos)
      << c.error().message;
  EXPECT_EQ(c.error().message.find("TOPSECRETVALUE"), std::string::npos);
}

// ---- ECS container endpoint ------------------------------------------------------------

struct FakeEcsAgent {
  explicit FakeEcsAgent(FakeClock& clock)
      : server([this, &clock](const HttpServerRequest& r) {
          if (r.path != "/v2/credentials/task-guid" && r.path != "/creds") {
            return HttpServerResponse::json(R"({"code":"NotFound"})", 404);
          }
          if (fail_with != 0) return HttpServerResponse::json(R"({"message":"down"})", fail_with);
          int n = ++served;
          return HttpServerResponse::json(credentials_json(
              fmt::format("AKIAECS{}", n), clock.now() + std::chrono::seconds(lifetime_s.load())));
        }) {}
  std::atomic<int> served{0};
  std::atomic<int> fail_with{0};
  std::atomic<std::int64_t> lifetime_s{3600};  // of the credentials served
  HttpServer server;
};

TEST_F(CredentialsTest, ContainerRelativeUri) {
  FakeClock clock;
  FakeEcsAgent agent(clock);
  ContainerOptions o;
  o.relative_uri = "/v2/credentials/task-guid";
  o.relative_base = agent.server.base_url();
  o.refresh.clock = clock.fn();
  auto c = container_credentials(o)->get();
  ASSERT_TRUE(c) << c.error().describe();
  EXPECT_EQ(c->access_key_id, "AKIAECS1");
  EXPECT_EQ(c->secret_access_key, "secret-AKIAECS1");
  EXPECT_EQ(c->session_token, "token-AKIAECS1");
  ASSERT_TRUE(c->expiration);
  EXPECT_EQ(*c->expiration, clock.now() + 3600s);
  EXPECT_EQ(c->source, "ecs");
  auto log = agent.server.requests();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].method, "GET");
  EXPECT_FALSE(log[0].has_header("authorization"));
}

TEST_F(CredentialsTest, ContainerFullUriWithTokenAndTokenFile) {
  FakeClock clock;
  FakeEcsAgent agent(clock);
  // From the environment, as ECS/EKS set it.
  set("AWS_CONTAINER_CREDENTIALS_FULL_URI", agent.server.url("/creds"));
  set("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer env-token");
  ContainerOptions o = ContainerOptions::from_environment();
  o.refresh.clock = clock.fn();
  auto provider = container_credentials(o);
  auto c = provider->get();
  ASSERT_TRUE(c) << c.error().describe();
  EXPECT_EQ(agent.server.requests().back().header("authorization"), "Bearer env-token");

  // The token file wins over the variable and is re-read at each refresh.
  write("token", "file-token-1\n");
  set("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", path("token"));
  ContainerOptions with_file = ContainerOptions::from_environment();
  with_file.refresh.clock = clock.fn();
  auto file_provider = container_credentials(with_file);
  ASSERT_TRUE(file_provider->get());
  EXPECT_EQ(agent.server.requests().back().header("authorization"), "file-token-1");
  write("token", "file-token-2");
  clock.advance(3400s);  // inside the 5-minute refresh window
  auto refreshed = file_provider->get();
  ASSERT_TRUE(refreshed) << refreshed.error().describe();
  EXPECT_EQ(agent.server.requests().back().header("authorization"), "file-token-2");
  EXPECT_NE(refreshed->access_key_id, c->access_key_id);
}

TEST_F(CredentialsTest, ContainerRefusesToSendTokenToArbitraryHosts) {
  ContainerOptions o;
  o.full_uri = "http://169.254.169.254.evil.example/creds";
  o.authorization_token = "secret-token";
  auto c = container_credentials(o)->get();
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(c.error().message.find("secret-token"), std::string::npos);

  ContainerOptions not_set;
  auto none = container_credentials(not_set)->get();
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().kind, ErrorKind::kNotFound);
}

TEST_F(CredentialsTest, ContainerErrorsAreTyped) {
  FakeClock clock;
  FakeEcsAgent agent(clock);
  ContainerOptions o;
  o.full_uri = agent.server.url("/creds");
  o.refresh.clock = clock.fn();
  agent.fail_with = 500;
  auto unavailable = container_credentials(o)->get();
  ASSERT_FALSE(unavailable);
  EXPECT_EQ(unavailable.error().kind, ErrorKind::kUnavailable);
  EXPECT_TRUE(unavailable.error().retryable);
  EXPECT_EQ(unavailable.error().http_status, 500);

  agent.fail_with = 403;
  auto denied = container_credentials(o)->get();
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().kind, ErrorKind::kAuth);
  EXPECT_FALSE(denied.error().retryable);

  // A stale relative URI: configured, so an error of its own, not "not configured".
  ContainerOptions stale = o;
  stale.full_uri = agent.server.url("/v2/credentials/gone");
  auto gone = container_credentials(stale)->get();
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().kind, ErrorKind::kAuth);
  EXPECT_EQ(gone.error().http_status, 404);

  o.authorization_token_file = path("missing-token-file");
  agent.fail_with = 0;
  auto no_file = container_credentials(o)->get();
  ASSERT_FALSE(no_file);
  EXPECT_EQ(no_file.error().kind, ErrorKind::kAuth);
}

// ---- EC2 IMDSv2 ------------------------------------------------------------------------

// Token first (PUT with a TTL), then the role list and the role's credentials, each GET
// carrying the token: anything else is refused as real IMDSv2 would.
struct FakeImds {
  explicit FakeImds(FakeClock& clock)
      : server([this, &clock](const HttpServerRequest& r) {
          std::lock_guard lock(mutex);
          if (r.method == "PUT" && r.path == "/latest/api/token") {
            if (r.header("x-aws-ec2-metadata-token-ttl-seconds").empty()) {
              return HttpServerResponse::text("", 400);
            }
            token = fmt::format("imds-token-{}", ++tokens_issued);
            return HttpServerResponse::text(token);
          }
          if (r.method != "GET") return HttpServerResponse::text("", 405);
          if (r.header("x-aws-ec2-metadata-token") != token || token.empty()) {
            return HttpServerResponse::text("", 401);
          }
          const std::string base = "/latest/meta-data/iam/security-credentials/";
          if (r.path == base) {
            return role.empty() ? HttpServerResponse::text("", 404)
                                : HttpServerResponse::text(role + "\n");
          }
          if (r.path == base + role) {
            return HttpServerResponse::json(
                credentials_json(fmt::format("AKIAIMDS{}", ++served), clock.now() + 6h));
          }
          return HttpServerResponse::text("", 404);
        }) {}
  std::mutex mutex;
  std::string token;
  std::string role = "opfleet-worker";
  int tokens_issued = 0;
  int served = 0;
  HttpServer server;
};

TEST_F(CredentialsTest, ImdsV2TokenThenRoleThenCredentials) {
  FakeClock clock;
  FakeImds imds(clock);
  set("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.server.base_url());
  ImdsOptions o = ImdsOptions::from_environment();
  EXPECT_EQ(o.endpoint, imds.server.base_url());
  o.refresh.clock = clock.fn();
  auto provider = imds_credentials(o);
  auto c = provider->get();
  ASSERT_TRUE(c) << c.error().describe();
  EXPECT_EQ(c->access_key_id, "AKIAIMDS1");
  EXPECT_EQ(c->source, "imds");
  EXPECT_EQ(*c->expiration, clock.now() + 6h);

  auto log = imds.server.requests();
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[0].method, "PUT");
  EXPECT_EQ(log[0].path, "/latest/api/token");
  EXPECT_EQ(log[0].header("x-aws-ec2-metadata-token-ttl-seconds"), "21600");
  EXPECT_EQ(log[1].path, "/latest/meta-data/iam/security-credentials/");
  EXPECT_EQ(log[1].header("x-aws-ec2-metadata-token"), "imds-token-1");
  EXPECT_EQ(log[2].path, "/latest/meta-data/iam/security-credentials/opfleet-worker");
  EXPECT_EQ(log[2].header("x-aws-ec2-metadata-token"), "imds-token-1");

  // Cached: no traffic until the refresh window.
  ASSERT_TRUE(provider->get());
  EXPECT_EQ(imds.server.request_count(), 3u);

  // A token revoked behind our back: 401, then a new token and the credentials.
  {
    std::lock_guard lock(imds.mutex);
    imds.token = "rotated-elsewhere";
  }
  clock.advance(6h - 4min);
  auto refreshed = provider->get();
  ASSERT_TRUE(refreshed) << refreshed.error().describe();
  EXPECT_EQ(refreshed->access_key_id, "AKIAIMDS2");
  EXPECT_EQ(imds.tokens_issued, 2);
}

TEST_F(CredentialsTest, ImdsWithoutRoleIsNotFound) {
  FakeClock clock;
  FakeImds imds(clock);
  imds.role.clear();
  ImdsOptions o;
  o.endpoint = imds.server.base_url();
  auto c = imds_credentials(o)->get();
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().kind, ErrorKind::kNotFound);
}

TEST_F(CredentialsTest, ImdsEnvironmentSwitches) {
  EXPECT_FALSE(imds_disabled_by_environment());
  set("AWS_EC2_METADATA_DISABLED", "TRUE");
  EXPECT_TRUE(imds_disabled_by_environment());
  EXPECT_EQ(ImdsOptions::from_environment().endpoint, "http://169.254.169.254");
  set("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv6");
  EXPECT_EQ(ImdsOptions::from_environment().endpoint, "http://[fd00:ec2::254]");
}

TEST_F(CredentialsTest, CredentialEndpointsBypassTheApplicationProxy) {
  FakeClock clock;
  FakeEcsAgent agent(clock);
  FakeImds imds(clock);
  std::string dead_proxy;
  {
    HttpServer gone([](const HttpServerRequest&) { return HttpServerResponse{}; });
    dead_proxy = gone.base_url();
  }
  set("http_proxy", dead_proxy);
  set("HTTP_PROXY", dead_proxy);
  // Control: an ordinary client does go through the (dead) proxy.
  HttpClient plain;
  EXPECT_FALSE(plain.send({"GET", agent.server.url("/creds"), {}, ""}));

  ContainerOptions o;
  o.full_uri = agent.server.url("/creds");
  o.refresh.clock = clock.fn();
  auto ecs = container_credentials(o)->get();
  EXPECT_TRUE(ecs) << ecs.error().describe();
  ImdsOptions io;
  io.endpoint = imds.server.base_url();
  io.refresh.clock = clock.fn();
  auto ec2 = imds_credentials(io)->get();
  EXPECT_TRUE(ec2) << ec2.error().describe();
}

// ---- Refresh ---------------------------------------------------------------------------

TEST_F(CredentialsTest, RefreshesFiveMinutesBeforeExpiry) {
  FakeClock clock;
  FakeEcsAgent agent(clock);
  ContainerOptions o;
  o.full_uri = agent.server.url("/creds");
  o.refresh.clock = clock.fn();
  auto provider = container_credentials(o);
  ASSERT_EQ(provider->get()->access_key_id, "AKIAECS1");
  clock.advance(54min);
  ASSERT_EQ(provider->get()->access_key_id, "AKIAECS1");
  EXPECT_EQ(agent.served, 1);
  clock.advance(2min);  // 4 minutes left: inside the window
  ASSERT_EQ(provider->get()->access_key_id, "AKIAECS2");
  EXPECT_EQ(agent.served, 2);
}

TEST_F(CredentialsTest, ShortLivedCredentialsRefreshAtHalfLife) {
  FakeClock clock;
  FakeEcsAgent agent(clock);
  agent.lifetime_s = 240;  // shorter than the 5-minute window: refresh at 2 minutes
  ContainerOptions o;
  o.full_uri = agent.server.url("/creds");
  o.refresh.clock = clock.fn();
  auto provider = container_credentials(o);
  ASSERT_EQ(provider->get()->access_key_id, "AKIAECS1");
  clock.advance(119s);
  ASSERT_EQ(provider->get()->access_key_id, "AKIAECS1");
  clock.advance(2s);
  ASSERT_EQ(provider->get()->access_key_id, "AKIAECS2");
}

TEST_F(CredentialsTest, FailedRefreshKeepsStillValidCredentials) {
  FakeClock clock;
  FakeEcsAgent agent(clock);
  ContainerOptions o;
  o.full_uri = agent.server.url("/creds");
  o.refresh.clock = clock.fn();
  o.refresh.retry_after_failure = 10s;
  auto provider = container_credentials(o);
  ASSERT_EQ(provider->get()->access_key_id, "AKIAECS1");

  agent.fail_with = 503;
  clock.advance(57min);
  auto kept = provider->get();
  ASSERT_TRUE(kept) << kept.error().describe();
  EXPECT_EQ(kept->access_key_id, "AKIAECS1");
  EXPECT_EQ(agent.server.request_count(), 2u);  // it did try

  // No new attempt until retry_after_failure has passed.
  ASSERT_TRUE(provider->get());
  EXPECT_EQ(agent.server.request_count(), 2u);
  clock.advance(11s);
  ASSERT_TRUE(provider->get());
  EXPECT_EQ(agent.server.request_count(), 3u);

  // Once they have expired, the failure surfaces.
  clock.advance(3min);
  auto expired = provider->get();
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().kind, ErrorKind::kUnavailable);
  EXPECT_TRUE(expired.error().retryable);

  agent.fail_with = 0;
  auto recovered = provider->get();
  ASSERT_TRUE(recovered) << recovered.error().describe();
  EXPECT_EQ(recovered->access_key_id, "AKIAECS2");
}

TEST_F(CredentialsTest, AlreadyExpiredCredentialsAreRejected) {
  FakeClock clock;
  FakeEcsAgent agent(clock);
  agent.lifetime_s = -60;
  ContainerOptions o;
  o.full_uri = agent.server.url("/creds");
  o.refresh.clock = clock.fn();
  auto c = container_credentials(o)->get();
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().kind, ErrorKind::kAuth);
  EXPECT_TRUE(c.error().retryable);
}

TEST_F(CredentialsTest, ConcurrentFirstGetFetchesOnce) {
  FakeClock clock;
  FakeEcsAgent agent(clock);
  ContainerOptions o;
  o.full_uri = agent.server.url("/creds");
  o.refresh.clock = clock.fn();
  auto provider = container_credentials(o);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      auto c = provider->get();
      if (c && c->access_key_id == "AKIAECS1") ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, 8);
  EXPECT_EQ(agent.served, 1);
}

// ---- The default chain -----------------------------------------------------------------

TEST_F(CredentialsTest, ChainOrderEnvironmentFilesContainerImds) {
  FakeClock clock;
  FakeEcsAgent agent(clock);
  FakeImds imds(clock);
  set("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.server.base_url());
  set("AWS_CONTAINER_CREDENTIALS_FULL_URI", agent.server.url("/creds"));
  write("credentials", kCredentialsFile);
  set("AWS_ACCESS_KEY_ID", "AKIAENV");
  set("AWS_SECRET_ACCESS_KEY", "env-secret");

  auto env = default_credentials_chain()->get();
  ASSERT_TRUE(env) << env.error().describe();
  EXPECT_EQ(env->source, "environment");

  ::unsetenv("AWS_ACCESS_KEY_ID");
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
  auto files = default_credentials_chain()->get();
  ASSERT_TRUE(files) << files.error().describe();
  EXPECT_EQ(files->source, "profile:default");

  fs::remove(dir_ / "credentials");
  auto ecs = default_credentials_chain()->get();
  ASSERT_TRUE(ecs) << ecs.error().describe();
  EXPECT_EQ(ecs->source, "ecs");

  ::unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
  auto from_imds = default_credentials_chain()->get();
  ASSERT_TRUE(from_imds) << from_imds.error().describe();
  EXPECT_EQ(from_imds->source, "imds");

  // Lower sources were not consulted while a higher one answered.
  EXPECT_EQ(agent.served, 1);
  EXPECT_EQ(imds.served, 1);
}

TEST_F(CredentialsTest, ChainRemembersTheFirstSourceThatAnswered) {
  set("AWS_EC2_METADATA_DISABLED", "true");
  set("AWS_ACCESS_KEY_ID", "AKIAENV");
  set("AWS_SECRET_ACCESS_KEY", "env-secret");
  write("credentials", kCredentialsFile);
  auto chain = default_credentials_chain();
  ASSERT_EQ(chain->get()->source, "environment");
  // The environment source re-reads the variables; a chain that remembered it reports
  // their disappearance instead of silently switching to the profile's identity.
  ::unsetenv("AWS_ACCESS_KEY_ID");
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
  auto after = chain->get();
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error().kind, ErrorKind::kNotFound);
}

TEST_F(CredentialsTest, ChainReportsABrokenConfiguredSourceInsteadOfMovingOn) {
  FakeClock clock;
  FakeEcsAgent agent(clock);
  FakeImds imds(clock);
  agent.fail_with = 500;
  set("AWS_CONTAINER_CREDENTIALS_FULL_URI", agent.server.url("/creds"));
  set("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.server.base_url());
  auto c = default_credentials_chain()->get();
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().kind, ErrorKind::kUnavailable);
  EXPECT_TRUE(c.error().retryable);
  EXPECT_NE(c.error().message.find("ecs container"), std::string::npos) << c.error().message;
  EXPECT_EQ(imds.server.request_count(), 0u);
}

TEST_F(CredentialsTest, ChainWithNothingFoundSaysWhatEachSourceLacked) {
  set("AWS_EC2_METADATA_DISABLED", "true");
  auto c = default_credentials_chain()->get();
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().kind, ErrorKind::kAuth);
  EXPECT_FALSE(c.error().retryable);
  const std::string& m = c.error().message;
  EXPECT_NE(m.find("no AWS credentials found"), std::string::npos) << m;
  EXPECT_NE(m.find("AWS_ACCESS_KEY_ID"), std::string::npos) << m;
  EXPECT_NE(m.find(path("credentials")), std::string::npos) << m;
  EXPECT_NE(m.find("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"), std::string::npos) << m;
  EXPECT_NE(m.find("AWS_EC2_METADATA_DISABLED"), std::string::npos) << m;
}

TEST_F(CredentialsTest, ChainTreatsUnreachableImdsAsAbsent) {
  // A server that is gone: connection refused, as on a host that is not an EC2 instance.
  std::string endpoint;
  {
    HttpServer gone([](const HttpServerRequest&) { return HttpServerResponse{}; });
    endpoint = gone.base_url();
  }
  set("AWS_EC2_METADATA_SERVICE_ENDPOINT", endpoint);
  auto c = default_credentials_chain()->get();
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().kind, ErrorKind::kAuth);
  EXPECT_NE(c.error().message.find("ec2 imds"), std::string::npos) << c.error().message;
}

// ---- Timestamps ------------------------------------------------------------------------

TEST(Iso8601, ParsesUtcOffsetsAndFractions) {
  auto base = parse_iso8601("2015-08-30T12:36:00Z");
  ASSERT_TRUE(base);
  EXPECT_EQ(Clock::to_time_t(*base), 1440938160);
  EXPECT_EQ(*parse_iso8601("2015-08-30T14:36:00+02:00"), *base);
  EXPECT_EQ(*parse_iso8601("2015-08-30T11:36:00-01:00"), *base);
  EXPECT_EQ(*parse_iso8601("2015-08-30T12:36:00.500Z"), *base + 500ms);
  for (const char* bad : {"", "2015-08-30", "2015-08-30T12:36:00", "2015-13-30T12:36:00Z",
                          "2015-08-30T12:36:00Zjunk", "2015-08-30T12:36:00.Z", "x"}) {
    EXPECT_FALSE(parse_iso8601(bad)) << bad;
  }
}

}  // namespace
}  // namespace opfleet::aws
