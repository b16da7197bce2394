// AWS credentials and the provider chain: environment, shared credentials/config files
// (AWS_PROFILE), ECS container credentials, EC2 IMDSv2. Temporary credentials are
// refreshed before they expire.
//
// Secrets never reach the log: providers log the source and expiry only.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace opfleet::aws {

struct Credentials {
  std::string access_key_id{};
  std::string secret_access_key{};
  std::string session_token{};  // empty for long-term keys
  // Absent for credentials that do not expire (environment, files).
  std::optional<std::chrono::system_clock::time_point> expiration{};
  std::string source{};  // "environment", "profile:NAME", "ecs", "imds" (for logs)
};

class CredentialsProvider {
 public:
  virtual ~CredentialsProvider() = default;
  // Current credentials; refreshed when within the refresh window of expiry.
  // Thread-safe.
  virtual Result<Credentials> get() = 0;
};

// Long-term static credentials (tests, explicit configuration).
std::shared_ptr<CredentialsProvider> static_credentials(Credentials creds);

// The default chain, looked up in order: environment, shared files, ECS container, IMDSv2.
// The first source that yields credentials is remembered. The environment is read when
// the chain is built. When no source has credentials, get() fails with kAuth and a
// message naming what each source lacked.
std::shared_ptr<CredentialsProvider> default_credentials_chain();

// ---- Individual sources ---------------------------------------------------------------
// A source that is not configured (no variables, no file, no profile) fails with
// kNotFound, which the chain treats as "try the next one"; any other error means the
// source is configured but broken, and the chain reports it instead of moving on.

// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (read at every get()).
std::shared_ptr<CredentialsProvider> environment_credentials();

struct ProfileOptions {
  std::string profile{};           // empty: $AWS_PROFILE, else "default"
  std::string credentials_file{};  // empty: $AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials
  std::string config_file{};       // empty: $AWS_CONFIG_FILE, else ~/.aws/config
};
// Static keys of a profile: [NAME] in the credentials file, [profile NAME] (or [default])
// in the config file; the credentials file wins when both define a key. Files are read at
// the first successful get() and the keys kept (they do not expire).
std::shared_ptr<CredentialsProvider> profile_credentials(ProfileOptions options = {});

// When to refresh temporary credentials, and the clock used to decide (tests inject one).
struct RefreshPolicy {
  // Refresh this long before expiry, or at half the lifetime when that is shorter.
  std::chrono::seconds refresh_before{300};
  // After a failed refresh while the old credentials are still valid, keep them and try
  // again no sooner than this (so a broken endpoint is not hammered on every get()).
  std::chrono::seconds retry_after_failure{10};
  std::function<std::chrono::system_clock::time_point()> clock{};  // empty: system_clock
};

struct ContainerOptions {
  std::string relative_uri{};              // AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
  std::string full_uri{};                  // AWS_CONTAINER_CREDENTIALS_FULL_URI
  std::string authorization_token{};       // AWS_CONTAINER_AUTHORIZATION_TOKEN
  std::string authorization_token_file{};  // AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (wins)
  // Where a relative URI points (the ECS agent's link-local address); tests override it.
  std::string relative_base = "http://169.254.170.2";
  std::chrono::milliseconds timeout{2000};
  RefreshPolicy refresh;

  // The four variables above from the environment.
  static ContainerOptions from_environment();
};
// ECS/EKS container credentials. A full URI must be https or point at a loopback or the
// ECS/EKS link-local agent address, as the AWS SDKs require, so a token is never sent to
// an arbitrary host. The token file is re-read at each refresh (EKS rotates it).
std::shared_ptr<CredentialsProvider> container_credentials(
    ContainerOptions options = ContainerOptions::from_environment());

struct ImdsOptions {
  // AWS_EC2_METADATA_SERVICE_ENDPOINT, else http://169.254.169.254
  // (http://[fd00:ec2::254] with AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6).
  std::string endpoint = "http://169.254.169.254";
  std::chrono::seconds token_ttl{21600};
  // Short: on a host that is not an EC2 instance the chain must not hang here.
  std::chrono::milliseconds timeout{1000};
  RefreshPolicy refresh;

  static ImdsOptions from_environment();
};
// EC2 instance-profile credentials through IMDSv2 (session token first; no IMDSv1
// fallback, which would defeat the protection v2 exists for).
std::shared_ptr<CredentialsProvider> imds_credentials(
    ImdsOptions options = ImdsOptions::from_environment());

// True when AWS_EC2_METADATA_DISABLED is "true" (any case).
bool imds_disabled_by_environment();

// "2015-08-30T12:36:00Z", with optional fractional seconds and a Z or +hh:mm offset.
Result<std::chrono::system_clock::time_point> parse_iso8601(std::string_view text);

}  // namespace opfleet::aws
