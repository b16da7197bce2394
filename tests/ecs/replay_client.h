// An ECS client pointed at an EcsReplayServer: static test credentials, the server's
// region, and backoff waits recorded instead of slept (tests check the schedule).
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "aws/credentials.h"
#include "ecs/client.h"
#include "tests/ecs/replay_server.h"

namespace opfleet::testing {

struct ReplayClient {
  std::vector<Millis> sleeps;
  SteadyClock::time_point breaker_now = SteadyClock::time_point{} + std::chrono::hours(1);

  ecs::ClientConfig config(const EcsReplayServer& server,
                           BackoffPolicy backoff = {Millis(100), Millis(1600), 6},
                           BreakerPolicy breaker = {5, Millis(5000)}) {
    ecs::ClientConfig c;
    c.endpoint = server.endpoint();
    c.region = "us-east-1";
    c.backoff = backoff;
    c.breaker = breaker;
    c.credentials = aws::static_credentials(
        {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "", std::nullopt, "test"});
    c.sleep = [this](Millis d) {
      sleeps.push_back(d);
      return true;
    };
    c.breaker_clock = [this] { return breaker_now; };
    return c;
  }

  ecs::Client make(const EcsReplayServer& server,
                   BackoffPolicy backoff = {Millis(100), Millis(1600), 6},
                   BreakerPolicy breaker = {5, Millis(5000)}) {
    auto client = ecs::Client::make(config(server, backoff, breaker));
    if (!client) throw std::runtime_error(client.error().describe());
    return std::move(*client);
  }
};

}  // namespace opfleet::testing
