// The default provider chain: environment, shared files, ECS container, IMDSv2 — the
// order of the AWS SDKs, minus the sources opfleet does not implement (SSO, assume-role,
// web identity, credential_process), which a profile using them reports by name.
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "aws/credentials.h"
#include "common/log.h"

namespace opfleet::aws {
namespace {

struct NamedProvider {
  std::string name;
  std::shared_ptr<CredentialsProvider> provider;
  // IMDS answers "not here" with a connect failure or timeout on any host that is not an
  // EC2 instance: for the lookup, that means "not configured", not "broken".
  bool unreachable_means_absent = false;
};

class ChainProvider final : public CredentialsProvider {
 public:
  explicit ChainProvider(std::vector<NamedProvider> sources) : sources_(std::move(sources)) {}

  Result<Credentials> get() override {
    std::shared_ptr<CredentialsProvider> chosen;
    {
      std::lock_guard lock(mutex_);
      chosen = chosen_;
    }
    // Once a source has answered, it is the one: later failures are its own (e.g. the ECS
    // agent briefly down) and must not silently switch identity to another source.
    if (chosen) return chosen->get();

    // The lookup is serialized so two threads do not probe IMDS at once on first use.
    std::lock_guard lookup(lookup_mutex_);
    {
      std::lock_guard lock(mutex_);
      if (chosen_) return chosen_->get();
    }
    std::string tried;
    for (const NamedProvider& source : sources_) {
      auto creds = source.provider->get();
      if (creds) {
        std::lock_guard lock(mutex_);
        chosen_ = source.provider;
        log::info("aws_credentials_source", {{"source", creds->source}});
        return creds;
      }
      const Error& e = creds.error();
      bool absent = e.kind == ErrorKind::kNotFound ||
                    (source.unreachable_means_absent &&
                     (e.kind == ErrorKind::kNetwork || e.kind == ErrorKind::kTimeout));
      if (!absent) {
        // Configured but broken: report it rather than fall through to another identity.
        Error out = e;
        out.message = fmt::format("AWS credentials from {}: {}", source.name, e.message);
        return fail(std::move(out));
      }
      tried += fmt::format("{}{}: {}", tried.empty() ? "" : "; ", source.name, e.message);
    }
    return fail(
        Error::make(ErrorKind::kAuth, fmt::format("no AWS credentials found ({})", tried), false));
  }

 private:
  std::vector<NamedProvider> sources_;
  std::mutex lookup_mutex_;
  std::mutex mutex_;  // guards chosen_
  std::shared_ptr<CredentialsProvider> chosen_;
};

class DisabledSource final : public CredentialsProvider {
 public:
  Result<Credentials> get() override {
    return fail(Error::not_found("disabled by AWS_EC2_METADATA_DISABLED"));
  }
};

}  // namespace

std::shared_ptr<CredentialsProvider> default_credentials_chain() {
  std::vector<NamedProvider> sources;
  sources.push_back({"environment", environment_credentials(), false});
  sources.push_back({"shared files", profile_credentials(), false});
  sources.push_back({"ecs container", container_credentials(), false});
  if (imds_disabled_by_environment()) {
    sources.push_back({"ec2 imds", std::make_shared<DisabledSource>(), false});
  } else {
    sources.push_back({"ec2 imds", imds_credentials(), true});
  }
  return std::make_shared<ChainProvider>(std::move(sources));
}

}  // namespace opfleet::aws
