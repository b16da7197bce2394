// Plants runs, steps and attempts rows directly, to model clean executions and each kind of
// violation for the audit. Attempts are inserted already closed (the table is append-only
// once a row is closed); times are given as offsets from the database's now().
#pragma once

#include <string>

#include "store/connection.h"

namespace opfleet::testing {

class Planter {
 public:
  explicit Planter(store::Connection& db) : db_(db) {}

  // A run submitted `age` ago (a PostgreSQL interval: '2 hours'); returns its id.
  std::string run(const std::string& status, const std::string& age = "1 minute",
                  const std::string& tags_json = "{}");
  void step(const std::string& run_id, const std::string& key, const std::string& status);
  // An execution over [now() - started_ago, now() - ended_ago); ended_ago empty: still open.
  void attempt(const std::string& run_id, const std::string& key, int number,
               const std::string& outcome, const std::string& started_ago,
               const std::string& ended_ago);

  // A succeeded run of two steps, the first one retried after a crash: the crashed
  // execution's end and the retry's start are the same instant (a hand-over, as the claim
  // statement writes it).
  std::string clean_run(const std::string& tags_json = "{}", const std::string& age = "1 minute");

 private:
  store::Connection& db_;
};

}  // namespace opfleet::testing
