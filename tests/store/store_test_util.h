// Helpers shared by the store tests.
#pragma once

#include <chrono>
#include <functional>
#include <string>

namespace opfleet::testing {

// Polls `condition` (a SQL query answering one boolean, run on a fresh admin session
// to `url`) until it is true; throws after `timeout`. For states that the server
// exposes only by being asked (pg_stat_activity, pg_locks).
void wait_until_sql(const std::string& url, const std::string& condition_sql,
                    std::chrono::milliseconds timeout = std::chrono::seconds(20));

// Terminates backend `pid` and returns once it has exited (pg_terminate_backend with
// a timeout waits for that).
void terminate_backend(const std::string& url, int pid);

}  // namespace opfleet::testing
