#include "aws/credentials_refresh.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "common/log.h"

namespace opfleet::aws::detail {
namespace {

// Credentials this close to expiry count as expired: a request signed with them could
// reach AWS after they lapse.
constexpr auto kExpiryMargin = std::chrono::seconds(10);

std::int64_t seconds_until(std::chrono::system_clock::time_point t,
                           std::chrono::system_clock::time_point now) {
  return std::chrono::duration_cast<std::chrono::seconds>(t - now).count();
}

}  // namespace

RefreshingProvider::RefreshingProvider(std::string name, FetchFn fetch, RefreshPolicy policy)
    : name_(std::move(name)), fetch_(std::move(fetch)), policy_(std::move(policy)) {}

RefreshingProvider::TimePoint RefreshingProvider::now() const {
  return policy_.clock ? policy_.clock() : std::chrono::system_clock::now();
}

RefreshingProvider::TimePoint RefreshingProvider::refresh_at(const Credentials& c,
                                                             TimePoint fetched_at) const {
  if (!c.expiration) return TimePoint::max();
  auto lifetime = *c.expiration - fetched_at;
  auto window = std::min<std::chrono::system_clock::duration>(policy_.refresh_before, lifetime / 2);
  return *c.expiration - window;
}

bool RefreshingProvider::valid(TimePoint t) const {
  return cached_ && (!cached_->expiration || t + kExpiryMargin < *cached_->expiration);
}

Result<Credentials> RefreshingProvider::get() {
  auto usable_without_fetch = [this](TimePoint t) {
    return cached_ && (t < refresh_at_ || (valid(t) && t < next_attempt_));
  };
  {
    std::lock_guard state(state_mutex_);
    if (usable_without_fetch(now())) return *cached_;
  }

  // Someone else may be refreshing: callers holding valid credentials do not wait.
  std::unique_lock refresh(refresh_mutex_, std::try_to_lock);
  if (!refresh.owns_lock()) {
    {
      std::lock_guard state(state_mutex_);
      if (valid(now())) return *cached_;
    }
    refresh.lock();
  }
  {
    std::lock_guard state(state_mutex_);
    if (usable_without_fetch(now())) return *cached_;  // refreshed while we waited
  }

  TimePoint started = now();
  Result<Credentials> fresh = fetch_();
  if (fresh && fresh->expiration && *fresh->expiration <= started + kExpiryMargin) {
    fresh = fail(Error::make(ErrorKind::kAuth,
                             fmt::format("{} returned credentials that expire in {} s", name_,
                                         seconds_until(*fresh->expiration, started)),
                             true));
  }

  std::lock_guard state(state_mutex_);
  if (fresh) {
    cached_ = std::move(*fresh);
    refresh_at_ = refresh_at(*cached_, started);
    next_attempt_ = {};
    if (cached_->expiration) {
      log::info("aws_credentials_refreshed",
                {{"source", cached_->source},
                 {"expires_in_s", seconds_until(*cached_->expiration, started)}});
    } else {
      log::info("aws_credentials_loaded", {{"source", cached_->source}});
    }
    return *cached_;
  }
  TimePoint t = now();
  if (valid(t)) {
    // The decision to carry on is taken here, so this is where the failure is logged.
    next_attempt_ = t + policy_.retry_after_failure;
    std::int64_t still_valid_s =
        cached_->expiration ? seconds_until(*cached_->expiration, t) : std::int64_t{-1};
    log::warn("aws_credentials_refresh_failed",
              {{"source", name_},
               {"error", fresh.error().describe()},
               {"still_valid_for_s", still_valid_s},
               {"retry_in_s", static_cast<std::int64_t>(policy_.retry_after_failure.count())}});
    return *cached_;
  }
  return fail(std::move(fresh).error());
}

}  // namespace opfleet::aws::detail
