#include "worker/worker.h"

#include <algorithm>
#include <random>

#include <fmt/format.h>

#include "common/log.h"
#include "worker/message.h"
#include "worker/step_sender.h"

namespace opfleet::worker {

using Clock = std::chrono::steady_clock;

namespace {

int to_seconds_ceil(milliseconds ms) {
  return static_cast<int>((ms.count() + 999) / 1000);
}

}  // namespace

Worker::Worker(WorkerConfig config, store::ConnectionOptions db, sqs::ClientConfig sqs,
               HostClaims& host)
    : config_(std::move(config)),
      host_(host),
      db_(std::move(db)),
      ledger_(db_),
      sqs_config_(std::move(sqs)) {
  fifo_ = is_fifo_queue(config_.queue_url);
  free_slots_ = config_.slots;
}

Worker::~Worker() {
  {
    std::lock_guard lock(mu_);
    threads_exit_ = true;
    stopping_ = true;
  }
  abort_receive_ = true;
  recv_cv_.notify_all();
  task_cv_.notify_all();
  if (receiver_.joinable()) receiver_.join();
  for (auto& t : op_threads_) {
    if (t.joinable()) t.join();
  }
}

void Worker::stop(bool now) {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    if (now) stop_now_ = true;
  }
  // A drain lets the long poll in progress finish (at most --receive-wait-s) and hands back
  // what it brings: aborting it could leave messages SQS already delivered to the aborted
  // request invisible for a whole visibility timeout. Stopping now accepts that cost.
  if (now) abort_receive_ = true;
  recv_cv_.notify_all();
  cv_.notify_all();
}

void Worker::set_receiving(bool on) {
  {
    std::lock_guard lock(mu_);
    receiving_ = on;
  }
  // A pause lets the long poll in progress finish instead of aborting it: an aborted poll
  // can still be answered with messages (the abort takes up to a second to bite), which
  // would then stay invisible for a whole visibility timeout after the resume. What the
  // poll brings is handed back at once (handle_message), then the receiver waits.
  recv_cv_.notify_all();
}

int Worker::busy_slots() const {
  std::lock_guard lock(mu_);
  return config_.slots - free_slots_;
}

bool Worker::receiving_allowed_locked() const {
  return !stopping_ && receiving_ && pg_healthy_ && free_slots_ > 0;
}

void Worker::push_event(Event e) {
  {
    std::lock_guard lock(mu_);
    events_.push_back(std::move(e));
  }
  cv_.notify_one();
}

// ---------------------------------------------------------------------------------------
// Receiver thread: reserves free slots, then long-polls for at most that many messages.

void Worker::receiver_loop() {
  sqs::ClientConfig cfg = sqs_config_;
  cfg.name = "sqs-receive";
  cfg.http.abort_flag = &abort_receive_;
  cfg.sleep = [this](Millis d) {
    std::unique_lock lock(mu_);
    return !recv_cv_.wait_for(lock, d, [this] { return stopping_; });
  };
  auto client = sqs::Client::make(cfg);
  if (!client) {
    log::error("receiver_start_failed", {{"error", client.error().describe()}});
    stop(false);
    return;
  }
  Backoff backoff(BackoffPolicy{Millis(200), Millis(5000), 0});
  int failures = 0;
  for (;;) {
    int n = 0;
    {
      std::unique_lock lock(mu_);
      recv_cv_.wait(lock, [this] { return stopping_ || receiving_allowed_locked(); });
      if (stopping_) break;
      abort_receive_ = false;
      n = std::min(10, free_slots_);
      free_slots_ -= n;
    }
    sqs::ReceiveOptions opts;
    opts.max_messages = n;
    opts.wait_seconds = config_.receive_wait_s;
    opts.visibility_timeout_s = to_seconds_ceil(config_.lease);
    auto got = client->receive_messages(config_.queue_url, opts);
    int received = got ? static_cast<int>(got->size()) : 0;
    {
      std::lock_guard lock(mu_);
      free_slots_ += n - received;
    }
    if (!got) {
      if (abort_receive_) continue;  // interrupted on purpose (stop or pause)
      counters_.sqs_errors++;
      auto delay = std::max(backoff.delay(failures++), client->retry_after());
      if (failures == 1 || failures % 10 == 0) {
        log::warn("receive_failed", {{"error", got.error().describe()},
                                     {"consecutive", failures},
                                     {"retry_in_ms", delay.count()}});
      }
      std::unique_lock lock(mu_);
      recv_cv_.wait_for(lock, delay, [this] { return stopping_; });
      continue;
    }
    if (failures > 0) log::info("receive_recovered", {{"after_failures", failures}});
    failures = 0;
    if (received > 0) {
      counters_.received += static_cast<std::uint64_t>(received);
      Event e;
      e.messages.reserve(got->size());
      for (auto& m : *got) {
        // Recorded on the host before anything else happens to it: the coordinator may
        // take a while to claim a batch (one PostgreSQL round trip per message, longer
        // while PostgreSQL is slow), and if this process dies meanwhile the supervisor
        // hands back only what it finds in shared memory; the rest would stay invisible
        // for a whole lease.
        std::optional<int> slot = host_.reserve(m.receipt_handle);
        e.messages.push_back({std::move(m), slot});
      }
      push_event(std::move(e));
    }
  }
  counters_.sqs_calls += client->stats().calls;
  std::lock_guard lock(mu_);
  receiver_done_ = true;
  cv_.notify_all();
}

// ---------------------------------------------------------------------------------------
// Op threads: run one op at a time and report back.

void Worker::slot_loop() {
  for (;;) {
    OpTask task;
    {
      std::unique_lock lock(mu_);
      task_cv_.wait(lock, [this] { return threads_exit_ || !tasks_.empty(); });
      if (tasks_.empty()) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    OpResult r = run_op(task.op, task.ctx, *task.token);
    Event e;
    e.done_id = task.id;
    e.result = std::move(r);
    push_event(std::move(e));
  }
}

// ---------------------------------------------------------------------------------------
// Coordinator.

Status Worker::run() {
  auto client = sqs::Client::make([&] {
    sqs::ClientConfig c = sqs_config_;
    c.name = "sqs";
    // The coordinator must not sit in long retry loops (its heartbeats would stall):
    // one quick retry, then it defers the call (deletes) or leaves it to the sweeper.
    c.backoff = BackoffPolicy{Millis(100), Millis(500), 2};
    return c;
  }());
  if (!client) return fail(client.error());
  sqs_.emplace(std::move(*client));

  if (auto st = db_.ensure_connected(); !st) {
    log::warn("postgres_unavailable_at_start", {{"error", st.error().describe()}});
    set_pg_healthy(false);
  }
  receiver_ = std::thread([this] { receiver_loop(); });
  for (int i = 0; i < config_.slots; ++i) op_threads_.emplace_back([this] { slot_loop(); });
  log::info("worker_started", {{"worker_id", config_.identity.worker_id},
                               {"slots", config_.slots},
                               {"queue", config_.queue_url},
                               {"lease_ms", config_.lease.count()}});

  std::mt19937 rng{std::random_device{}()};
  auto heartbeat_every = config_.lease / 3;
  auto next_heartbeat = Clock::now() + heartbeat_every;
  auto next_host_beat = Clock::now();
  auto jittered_sweep = [&] {
    std::uniform_int_distribution<long> d(config_.sweep_interval.count() / 2,
                                          config_.sweep_interval.count() * 3 / 2);
    return Clock::now() + milliseconds(d(rng));
  };
  auto next_sweep = jittered_sweep();
  auto next_pg_check = Clock::now();
  std::optional<Clock::time_point> drain_deadline;
  bool cancelled_all = false;

  for (;;) {
    std::deque<Event> batch;
    bool stopping = false;
    bool stop_now = false;
    bool receiver_done = false;
    bool pg_healthy = true;
    {
      std::unique_lock lock(mu_);
      auto wake = std::min({next_heartbeat, next_sweep, next_host_beat});
      if (!pg_healthy_) wake = std::min(wake, next_pg_check);
      if (drain_deadline && !cancelled_all) wake = std::min(wake, *drain_deadline);
      cv_.wait_until(lock, wake, [&] {
        return !events_.empty() || (stopping_ && !drain_deadline) ||
               (stop_now_ && !cancelled_all) || (stopping_ && receiver_done_ && inflight_.empty());
      });
      batch.swap(events_);
      stopping = stopping_;
      stop_now = stop_now_;
      receiver_done = receiver_done_;
      pg_healthy = pg_healthy_;
    }
    for (auto& e : batch) {
      if (!e.messages.empty()) {
        for (const auto& m : e.messages) handle_message(m);
      } else {
        auto it = inflight_.find(e.done_id);
        if (it != inflight_.end()) {
          it->second.done = true;
          it->second.outcome = std::move(e.result);
          finish_op(e.done_id);
        }
      }
    }
    auto now = Clock::now();
    if (stopping && !drain_deadline) {
      drain_deadline = now + config_.drain_timeout;
      log::info("worker_draining",
                {{"in_flight", inflight_.size()}, {"deadline_ms", config_.drain_timeout.count()}});
    }
    if (stopping && !cancelled_all && (stop_now || now >= *drain_deadline)) {
      cancelled_all = true;
      for (auto& [id, f] : inflight_) {
        if (!f.done) f.token->cancel();
      }
      if (!inflight_.empty()) log::info("worker_handing_back", {{"in_flight", inflight_.size()}});
    }
    if (!pg_healthy && now >= next_pg_check) {
      check_pg();
      next_pg_check = now + milliseconds(500);
    }
    if (now >= next_heartbeat) {
      heartbeat();  // also beats to the host
      next_heartbeat = now + heartbeat_every;
      next_host_beat = now + config_.host_heartbeat;
    } else if (now >= next_host_beat) {
      // Liveness for the supervisor between lease heartbeats: proves this loop turns.
      std::uint32_t busy = 0;
      for (const auto& [id, f] : inflight_) busy += f.done ? 0 : 1;
      host_.heartbeat(busy);
      next_host_beat = now + config_.host_heartbeat;
    }
    if (now >= next_sweep) {
      if (!stopping) sweep();
      retry_pending_deletes();
      next_sweep = jittered_sweep();
    }
    if (stopping && receiver_done && inflight_.empty()) {
      std::lock_guard lock(mu_);
      if (events_.empty()) break;
    }
  }
  retry_pending_deletes();
  {
    std::lock_guard lock(mu_);
    threads_exit_ = true;
  }
  task_cv_.notify_all();
  if (receiver_.joinable()) receiver_.join();
  for (auto& t : op_threads_) t.join();
  op_threads_.clear();
  counters_.sqs_calls += sqs_->stats().calls;
  // Warn level so it is there even with --log-level warn (benchmarks read it).
  log::warn("worker_stopped", {{"succeeded", counters_.succeeded.load()},
                               {"failed", counters_.failed.load()},
                               {"handed_back", counters_.handed_back.load()},
                               {"pg_round_trips", db_.round_trips()},
                               {"sqs_calls", counters_.sqs_calls.load()}});
  return ok();
}

void Worker::set_pg_healthy(bool healthy) {
  bool changed = false;
  {
    std::lock_guard lock(mu_);
    changed = pg_healthy_ != healthy;
    pg_healthy_ = healthy;
  }
  if (!changed) return;
  if (healthy) {
    log::info("postgres_recovered", {{"action", "receiving again"}});
    recv_cv_.notify_all();
  } else {
    // Never take messages that cannot be claimed: no new poll starts until it is back. A
    // poll in progress is not aborted (that could hide what SQS already handed it); what
    // it brings is handed back at once.
    log::warn("postgres_unavailable", {{"action", "paused receiving"}});
  }
}

void Worker::check_pg() {
  if (db_.ping()) set_pg_healthy(true);
}

void Worker::handle_message(const Received& r) {
  const sqs::Message& m = r.message;
  auto release_reservation = [this] {
    {
      std::lock_guard lock(mu_);
      ++free_slots_;
    }
    recv_cv_.notify_all();
  };
  if (!r.host_slot) {
    // Cannot happen while every path below frees what it took (the receiver never holds
    // more messages than slots); if it does, handing back beats running unprotected.
    log::error("host_slot_unavailable",
               {{"message_id", m.message_id}, {"then", "message handed back"}});
    hand_back_message(m.receipt_handle);
    release_reservation();
    return;
  }
  const int host_slot = *r.host_slot;
  // Frees the message's host slot and its reservation once nothing more happens to it.
  // Every path calls it after its SQS call (hand back, delete, poison), never before:
  // until then the slot is what lets the supervisor hand the message back if this process
  // dies (a second hand-back of a message already settled is harmless).
  auto settle = [&] {
    host_.release(host_slot);
    release_reservation();
  };
  bool stopping = false;
  bool pg_healthy = true;
  {
    std::lock_guard lock(mu_);
    stopping = stopping_ || !receiving_;
    pg_healthy = pg_healthy_;
  }
  if (stopping || !pg_healthy) {
    hand_back_message(m.receipt_handle);
    settle();
    return;
  }
  auto decoded = decode(m.body);
  if (!decoded) {
    poison(m, decoded.error().message);
    settle();
    return;
  }
  const StepMessage& msg = *decoded;
  if (!host_.claim(host_slot, msg.idempotency_key)) {
    // Another worker on this host runs this key: drop the delivery, no database trip.
    // The message stays invisible; its owner deletes it when done. claim() has freed the
    // host slot already.
    counters_.duplicates++;
    host_.count_duplicate();
    log::debug("duplicate_dropped", {{"key", msg.idempotency_key}});
    release_reservation();
    return;
  }
  auto claim_sent = Clock::now();
  auto claim = ledger_.claim(msg.idempotency_key, config_.identity, config_.lease);
  if (!claim) {
    counters_.pg_errors++;
    log::warn("claim_failed", {{"key", msg.idempotency_key}, {"error", claim.error().describe()}});
    if (claim.error().retryable) set_pg_healthy(false);
    hand_back_message(m.receipt_handle);
    settle();
    return;
  }
  if (claim->claimed) {
    host_.set_fencing_token(host_slot, claim->claimed->fencing_token);
    start_op(std::move(*claim->claimed), m, host_slot, claim_sent);
    return;  // finish_op (or a lost lease) frees the slot and the reservation
  }
  switch (claim->reason) {
    case NotClaimed::kFinished:
    case NotClaimed::kExhausted:
      counters_.deleted_finished++;
      log::info("finished_step_message_deleted",
                {{"key", msg.idempotency_key}, {"reason", to_string(claim->reason)}});
      delete_message(m.receipt_handle);
      break;
    case NotClaimed::kBackingOff:
      if (sqs_) {
        (void)sqs_->change_message_visibility(config_.queue_url, m.receipt_handle,
                                              std::min(43200, to_seconds_ceil(claim->wait)));
      }
      break;
    case NotClaimed::kLeaseHeld:
    case NotClaimed::kNotReady:
      log::debug("claim_refused",
                 {{"key", msg.idempotency_key}, {"reason", to_string(claim->reason)}});
      break;  // leave it: it reappears after its visibility timeout
    case NotClaimed::kUnknown:
      poison(m, "no such step in the database");
      break;
  }
  settle();
}

void Worker::start_op(ClaimedStep step, const sqs::Message& m, int host_slot,
                      Clock::time_point claim_sent) {
  std::uint64_t id = next_id_++;
  InFlight f;
  f.receipt_handle = m.receipt_handle;
  f.host_slot = host_slot;
  // The lease runs from the database's now(), which is no earlier than claim_sent.
  f.token = std::make_unique<CancelToken>(claim_sent + config_.lease - config_.fence_margin);
  f.started = Clock::now();
  f.step = std::move(step);
  OpTask task;
  task.id = id;
  task.op = f.step.op;
  task.ctx.key = f.step.key;
  task.ctx.attempt = f.step.attempt;
  task.ctx.time_scale = f.step.time_scale;
  task.ctx.command_allow_list = &config_.command_allow_list;
  task.token = f.token.get();
  counters_.started++;
  host_.count_started();
  log::info("op_started", {{"key", f.step.key},
                           {"attempt", f.step.attempt},
                           {"token", f.step.fencing_token},
                           {"kind", f.step.op.value("kind", "")}});
  inflight_.emplace(id, std::move(f));
  {
    std::lock_guard lock(mu_);
    tasks_.push_back(std::move(task));
  }
  task_cv_.notify_one();
}

void Worker::finish_op(std::uint64_t id) {
  auto it = inflight_.find(id);
  if (it == inflight_.end()) return;
  if (!record_outcome(it->second)) return;  // PostgreSQL away: retried on heartbeats
  host_.release(it->second.host_slot);
  inflight_.erase(it);
  {
    std::lock_guard lock(mu_);
    ++free_slots_;
  }
  recv_cv_.notify_all();
  cv_.notify_all();
}

bool Worker::record_outcome(InFlight& f) {
  const OpResult& r = *f.outcome;
  const ClaimedStep& s = f.step;
  auto elapsed_ms = std::chrono::duration_cast<milliseconds>(Clock::now() - f.started).count();
  switch (r.status) {
    case OpResult::Status::kSucceeded: {
      auto done = ledger_.complete(s, r.result);
      if (!done) {
        counters_.pg_errors++;
        log::warn("complete_failed", {{"key", s.key},
                                      {"error", done.error().describe()},
                                      {"then", "retry while the lease holds"}});
        if (done.error().retryable) set_pg_healthy(false);
        return !done.error().retryable;
      }
      if (!done->applied) {
        counters_.fenced++;
        log::warn("completion_fenced", {{"key", s.key}, {"token", s.fencing_token}});
        return true;
      }
      counters_.succeeded++;
      host_.count_succeeded();
      log::info("op_succeeded", {{"key", s.key}, {"attempt", s.attempt}, {"ms", elapsed_ms}});
      delete_message(f.receipt_handle);
      send_and_mark(done->newly_queued);
      if (done->run_finished) {
        log::info("run_finished", {{"run_id", s.run_id}, {"status", *done->run_finished}});
      }
      return true;
    }
    case OpResult::Status::kFailed: {
      auto res = ledger_.fail(s, r.error, config_.retry);
      if (!res) {
        counters_.pg_errors++;
        log::warn("fail_record_failed", {{"key", s.key}, {"error", res.error().describe()}});
        if (res.error().retryable) set_pg_healthy(false);
        return !res.error().retryable;
      }
      if (!res->applied) {
        counters_.fenced++;
        log::warn("failure_fenced", {{"key", s.key}, {"token", s.fencing_token}});
        return true;
      }
      counters_.failed++;
      host_.count_failed();
      delete_message(f.receipt_handle);
      if (res->will_retry) {
        counters_.retried++;
        log::warn("op_failed_will_retry", {{"key", s.key},
                                           {"attempt", s.attempt},
                                           {"retry_in_ms", res->retry_in.count()},
                                           {"error", r.error}});
        send_and_mark({*res->requeued});
      } else {
        log::error("op_failed", {{"key", s.key},
                                 {"attempt", s.attempt},
                                 {"error", r.error},
                                 {"run_failed", res->run_failed}});
      }
      return true;
    }
    case OpResult::Status::kStopped: {
      bool fenced = r.stop_reason == StopReason::kFenced;
      auto rel = ledger_.release(s.key, s.fencing_token, fenced ? "fenced" : "handed_back");
      if (fenced) {
        counters_.fenced++;
        log::warn("op_fenced", {{"key", s.key},
                                {"attempt", s.attempt},
                                {"why", "lease could not be renewed in time"}});
      } else {
        counters_.handed_back++;
        host_.count_handed_back();
        log::info("op_handed_back",
                  {{"key", s.key}, {"attempt", s.attempt}, {"released", rel.value_or(false)}});
      }
      hand_back_message(f.receipt_handle);
      return true;  // a failed release is covered by lease expiry
    }
  }
  return true;
}

void Worker::heartbeat() {
  std::uint32_t busy = 0;
  std::vector<std::pair<std::string, std::int64_t>> held;
  std::vector<sqs::VisibilityEntry> vis;
  for (auto& [id, f] : inflight_) {
    held.emplace_back(f.step.key, f.step.fencing_token);
    if (!f.done) {
      ++busy;
      vis.push_back({fmt::format("v{}", id), f.receipt_handle, to_seconds_ceil(config_.lease)});
    }
  }
  host_.heartbeat(busy);
  if (held.empty()) return;
  auto sent = Clock::now();
  auto still = ledger_.renew(held, config_.lease);
  if (!still) {
    counters_.pg_errors++;
    log::warn("lease_renewal_failed", {{"held", held.size()},
                                       {"error", still.error().describe()},
                                       {"then", "ops stop themselves before their leases expire"}});
    if (still.error().retryable) set_pg_healthy(false);
  } else {
    set_pg_healthy(true);
    std::vector<std::uint64_t> lost;
    for (auto& [id, f] : inflight_) {
      bool kept = std::find(still->begin(), still->end(), f.step.key) != still->end();
      if (kept) {
        f.token->extend_fence(sent + config_.lease - config_.fence_margin);
      } else if (!f.done) {
        log::warn("lease_lost", {{"key", f.step.key}, {"token", f.step.fencing_token}});
        f.token->fence();
      } else {
        lost.push_back(id);
      }
    }
    for (auto id : lost) {
      auto it = inflight_.find(id);
      log::warn("outcome_dropped", {{"key", it->second.step.key},
                                    {"why", "lease lost before the outcome could be recorded"}});
      host_.release(it->second.host_slot);
      inflight_.erase(it);
      std::lock_guard lock(mu_);
      ++free_slots_;
    }
    if (!lost.empty()) recv_cv_.notify_all();
  }
  // Outcomes still waiting for PostgreSQL.
  std::vector<std::uint64_t> pending;
  for (auto& [id, f] : inflight_) {
    if (f.done) pending.push_back(id);
  }
  for (auto id : pending) finish_op(id);
  for (size_t i = 0; i < vis.size(); i += 10) {
    std::vector<sqs::VisibilityEntry> chunk(
        vis.begin() + static_cast<long>(i),
        vis.begin() + static_cast<long>(std::min(vis.size(), i + 10)));
    auto res = sqs_->change_message_visibility_batch(config_.queue_url, chunk);
    if (!res) {
      counters_.sqs_errors++;
      log::warn("visibility_extend_failed", {{"error", res.error().describe()}});
      break;
    }
  }
}

void Worker::sweep() {
  bool healthy = false;
  {
    std::lock_guard lock(mu_);
    healthy = pg_healthy_;
  }
  if (!healthy) return;
  auto n = ledger_.sweep(config_.sweep_grace, config_.lease * 4, 100,
                         [this](const std::vector<QueuedStep>& steps) {
                           return send_steps(*sqs_, config_.queue_url, fifo_, steps);
                         });
  if (!n) {
    counters_.pg_errors++;
    log::warn("sweep_failed", {{"error", n.error().describe()}});
  } else if (*n > 0) {
    log::info("sweeper_sent", {{"steps", *n}});
  }
}

void Worker::send_and_mark(const std::vector<QueuedStep>& steps) {
  if (steps.empty()) return;
  auto sent = send_steps(*sqs_, config_.queue_url, fifo_, steps);
  if (sent.size() < steps.size()) counters_.sqs_errors++;
  if (auto st = ledger_.mark_sent(sent); !st) {
    // The steps were sent: the sweeper may send them again (deduplicated by SQS on FIFO
    // queues, dropped by the claim otherwise).
    log::warn("mark_sent_failed", {{"steps", sent.size()}, {"error", st.error().describe()}});
  }
}

void Worker::poison(const sqs::Message& m, const std::string& reason) {
  counters_.poison++;
  log::error("poison_message", {{"message_id", m.message_id},
                                {"reason", reason},
                                {"receive_count", m.receive_count()},
                                {"to_dlq", !config_.dlq_url.empty()}});
  if (config_.dlq_url.empty()) return;  // the redrive policy moves it after maxReceiveCount
  sqs::OutgoingMessage out;
  out.body = m.body;
  out.attributes["opfleet_poison_reason"] = {"String", reason.substr(0, 1024), {}};
  out.attributes["opfleet_source_message_id"] = {"String", m.message_id, {}};
  if (is_fifo_queue(config_.dlq_url)) {
    out.group_id = "poison";
    out.deduplication_id = m.message_id;
  }
  auto sent = sqs_->send_message(config_.dlq_url, out);
  if (!sent) {
    counters_.sqs_errors++;
    log::warn("poison_to_dlq_failed",
              {{"message_id", m.message_id}, {"error", sent.error().describe()}});
    return;  // not deleted: nothing is lost, the redrive policy still applies
  }
  delete_message(m.receipt_handle);
}

void Worker::hand_back_message(const std::string& receipt_handle) {
  if (auto st = sqs_->change_message_visibility(config_.queue_url, receipt_handle, 0); !st) {
    counters_.sqs_errors++;
    log::debug("hand_back_visibility_failed", {{"error", st.error().describe()}});
  }
}

void Worker::delete_message(const std::string& receipt_handle) {
  if (auto st = sqs_->delete_message(config_.queue_url, receipt_handle); !st) {
    counters_.sqs_errors++;
    if (st.error().retryable) {
      pending_deletes_.push_back(receipt_handle);
    } else {
      log::warn("delete_failed", {{"error", st.error().describe()}});
    }
  }
}

void Worker::retry_pending_deletes() {
  if (pending_deletes_.empty()) return;
  std::vector<std::string> left;
  for (size_t i = 0; i < pending_deletes_.size(); i += 10) {
    std::vector<sqs::DeleteEntry> chunk;
    for (size_t j = i; j < std::min(pending_deletes_.size(), i + 10); ++j) {
      chunk.push_back({fmt::format("d{}", j), pending_deletes_[j]});
    }
    auto res = sqs_->delete_message_batch(config_.queue_url, chunk);
    if (!res) {
      for (const auto& e : chunk) left.push_back(e.receipt_handle);
      continue;
    }
    for (const auto& f : res->failed) {
      if (!f.sender_fault) left.push_back(pending_deletes_[std::stoul(f.id.substr(1))]);
    }
  }
  if (left.size() < pending_deletes_.size()) {
    log::info("deferred_deletes_done",
              {{"deleted", pending_deletes_.size() - left.size()}, {"left", left.size()}});
  }
  pending_deletes_ = std::move(left);
}

}  // namespace opfleet::worker
