// AWS credentials and the provider chain: environment, shared credentials/config files
// (AWS_PROFILE), ECS container credentials, EC2 IMDSv2. Temporary credentials are
// refreshed before they expire.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace opfleet::aws {

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty for long-term keys
  // Absent for credentials that do not expire (environment, files).
  std::optional<std::chrono::system_clock::time_point> expiration;
  std::string source;  // "environment", "profile:NAME", "ecs", "imds" (for logs)
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
// The first source that yields credentials is remembered.
std::shared_ptr<CredentialsProvider> default_credentials_chain();

}  // namespace opfleet::aws
