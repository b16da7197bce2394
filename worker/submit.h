// Submitting a run: the run and all its steps are created in one transaction (root steps
// `queued`, the others `pending`), then the root steps are sent and marked sent. A crash
// between the commit and the send leaves the roots queued-but-unsent, and the workers'
// sweeper sends them: a submitted run is never lost.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "jobs/job.h"
#include "sqs/client.h"
#include "store/connection.h"
#include "store/transaction.h"
#include "worker/ledger.h"

namespace opfleet::worker {

using Tags = std::map<std::string, std::string>;

struct CreatedRun {
  std::string run_id;
  std::vector<QueuedStep> roots;
};

// One transaction. `run_id` empty: the database generates a UUID.
Result<CreatedRun> create_run(store::Connection& db, const jobs::JobDef& job, const Tags& tags,
                              double time_scale, const std::string& run_id = {});
// The same inside the caller's transaction, which the caller commits (the scheduler records
// a tick and creates its run atomically). Send the roots only after that commit.
Result<CreatedRun> create_run(store::Transaction& tx, const jobs::JobDef& job, const Tags& tags,
                              double time_scale, const std::string& run_id = {});

// Sends the roots of a committed run and records them sent; returns how many SQS accepted.
// A failed send is not an error: the sweeper sends what is left unsent.
int send_roots(store::Connection& db, sqs::Client& client, const std::string& queue_url,
               const std::vector<QueuedStep>& roots);

// create_run, then send the roots to `queue_url` and record them sent. A failed send is
// not an error (the sweeper re-sends); `sent` says how many went out now.
struct SubmitResult {
  std::string run_id;
  int roots = 0;
  int sent = 0;
};
Result<SubmitResult> submit_run(store::Connection& db, sqs::Client& client,
                                const std::string& queue_url, const jobs::JobDef& job,
                                const Tags& tags, double time_scale);

// "k=v" -> {k, v}; keys [A-Za-z0-9_.-]{1,64}, values up to 256 characters.
Result<std::pair<std::string, std::string>> parse_tag(std::string_view text);

}  // namespace opfleet::worker
