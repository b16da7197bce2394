// The worker: long-polls SQS, claims each message (on this host, then in PostgreSQL), runs
// the op on one of its slots, heartbeats, records the outcome, deletes the message and
// sends the steps that became ready. See docs/claim-protocol.md.
//
// Threads: a receiver (long poll; its own SQS client), `slots` op threads, and the
// coordinator (the thread that calls run(): every PostgreSQL statement and every other
// SQS call, in order, so the claim protocol has one place where it happens).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "sqs/client.h"
#include "store/connection.h"
#include "worker/cancel.h"
#include "worker/host_claims.h"
#include "worker/ledger.h"
#include "worker/op_runner.h"

namespace opfleet::worker {

using std::chrono::milliseconds;

struct WorkerConfig {
  std::string queue_url;
  std::string dlq_url;  // poison messages go here (empty: left for the queue's redrive policy)
  int slots = 4;
  milliseconds lease{30000};
  // An op stops itself this long before its lease could expire (self-fencing), which
  // covers clock-rate differences and the time a stop takes.
  milliseconds fence_margin{5000};
  int receive_wait_s = 20;
  RetryPolicy retry;
  milliseconds drain_timeout{30000};
  milliseconds sweep_interval{5000};
  milliseconds sweep_grace{5000};
  // How often the coordinator loop reports liveness and load to the host (HostClaims),
  // even when idle: the supervisor kills a worker whose loop stops beating (hung).
  milliseconds host_heartbeat{1000};
  std::vector<std::string> command_allow_list;
  Executor identity;
};

struct WorkerCounters {
  std::atomic<std::uint64_t> received{0};
  std::atomic<std::uint64_t> started{0};
  std::atomic<std::uint64_t> succeeded{0};
  std::atomic<std::uint64_t> failed{0};
  std::atomic<std::uint64_t> retried{0};
  std::atomic<std::uint64_t> handed_back{0};
  std::atomic<std::uint64_t> fenced{0};
  std::atomic<std::uint64_t> duplicates{0};
  std::atomic<std::uint64_t> poison{0};
  std::atomic<std::uint64_t> deleted_finished{0};
  std::atomic<std::uint64_t> pg_errors{0};
  std::atomic<std::uint64_t> sqs_errors{0};
  std::atomic<std::uint64_t> sqs_calls{0};  // API calls of both SQS clients, at exit
};

class Worker {
 public:
  Worker(WorkerConfig config, store::ConnectionOptions db, sqs::ClientConfig sqs, HostClaims& host);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Runs until stopped; returns once every op is finished or handed back.
  Status run();

  // Thread-safe (call from a signal thread). drain: stop receiving, let in-flight ops
  // finish within drain_timeout, hand back the rest. now: hand back at once.
  void stop(bool now);
  // Pause/resume receiving (the supervisor's drain-but-stay-up).
  void set_receiving(bool on);

  const WorkerCounters& counters() const { return counters_; }
  int busy_slots() const;

 private:
  struct InFlight {
    ClaimedStep step;
    std::string receipt_handle;
    int host_slot = -1;
    std::unique_ptr<CancelToken> token;
    std::chrono::steady_clock::time_point started;
    bool done = false;                // the op returned; its outcome is pending below
    std::optional<OpResult> outcome;  // kept until recorded in PostgreSQL
  };
  struct OpTask {
    std::uint64_t id;
    nlohmann::json op;
    OpContext ctx;
    CancelToken* token;
  };
  // A message as the receiver hands it over: already recorded on this host.
  struct Received {
    sqs::Message message;
    std::optional<int> host_slot;  // nullopt: no host slot was free (handed back at once)
  };
  struct Event {
    std::vector<Received> messages;  // from the receiver
    std::uint64_t done_id = 0;       // from an op thread
    OpResult result;
  };

  void receiver_loop();
  void slot_loop();
  void handle_message(const Received& r);
  void start_op(ClaimedStep step, const sqs::Message& m, int host_slot,
                std::chrono::steady_clock::time_point claim_sent);
  void finish_op(std::uint64_t id);
  bool record_outcome(InFlight& f);  // false: PostgreSQL unreachable, try again later
  void heartbeat();
  void sweep();
  void poison(const sqs::Message& m, const std::string& reason);
  void hand_back_message(const std::string& receipt_handle);
  void delete_message(const std::string& receipt_handle);
  void retry_pending_deletes();
  void send_and_mark(const std::vector<QueuedStep>& steps);
  void set_pg_healthy(bool healthy);
  void check_pg();
  void push_event(Event e);
  bool receiving_allowed_locked() const;

  WorkerConfig config_;
  HostClaims& host_;
  store::Connection db_;
  Ledger ledger_;
  sqs::ClientConfig sqs_config_;
  std::optional<sqs::Client> sqs_;  // the coordinator's client
  bool fifo_ = true;
  WorkerCounters counters_;

  mutable std::mutex mu_;
  std::condition_variable cv_;       // coordinator wake-ups (events, stop)
  std::condition_variable recv_cv_;  // receiver wake-ups (free slots, receiving switch)
  std::condition_variable task_cv_;  // op threads
  std::deque<Event> events_;
  std::deque<OpTask> tasks_;
  int free_slots_ = 0;  // slots neither running nor reserved by the receiver
  bool receiving_ = true;
  bool pg_healthy_ = true;
  bool stopping_ = false;
  bool stop_now_ = false;
  bool threads_exit_ = false;
  bool receiver_done_ = false;
  std::atomic<bool> abort_receive_{false};

  std::map<std::uint64_t, InFlight> inflight_;  // coordinator only
  std::uint64_t next_id_ = 1;
  std::vector<std::string> pending_deletes_;  // receipt handles to delete when SQS is back
  std::thread receiver_;
  std::vector<std::thread> op_threads_;
};

}  // namespace opfleet::worker
