// Internal to aws/: the caching and refresh logic shared by the sources that hand out
// temporary credentials (ECS container endpoint, IMDS).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "aws/credentials.h"

namespace opfleet::aws::detail {

// Fetches fresh credentials from the source. Called with the provider's refresh lock
// held, so it may own non-thread-safe state such as an HttpClient.
using FetchFn = std::function<Result<Credentials>()>;

// Caches what `fetch` returns and calls it again when the credentials come within the
// refresh window of their expiry (RefreshPolicy). Concurrent get() calls while a refresh
// runs return the still-valid cached credentials instead of queueing behind it; only
// when nothing valid is cached do they wait for the fetch.
class RefreshingProvider final : public CredentialsProvider {
 public:
  RefreshingProvider(std::string name, FetchFn fetch, RefreshPolicy policy);
  Result<Credentials> get() override;

 private:
  using TimePoint = std::chrono::system_clock::time_point;
  TimePoint now() const;
  // When the cached credentials should be refreshed (max() for non-expiring ones).
  TimePoint refresh_at(const Credentials& c, TimePoint fetched_at) const;
  bool valid(TimePoint now) const;  // state_mutex_ held

  std::string name_;
  FetchFn fetch_;
  RefreshPolicy policy_;

  std::mutex refresh_mutex_;  // one fetch at a time; taken before state_mutex_
  std::mutex state_mutex_;    // guards the fields below
  std::optional<Credentials> cached_;
  TimePoint refresh_at_{};
  TimePoint next_attempt_{};  // after a failed refresh of still-valid credentials
};

}  // namespace opfleet::aws::detail
