#include "worker/step_sender.h"

#include <chrono>
#include <ctime>

#include <fmt/format.h>

#include "common/log.h"

namespace opfleet::worker {
namespace {

std::string now_rfc3339() {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto secs = time_point_cast<seconds>(now);
  auto ms = duration_cast<milliseconds>(now - secs).count();
  std::time_t t = system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

}  // namespace

bool is_fifo_queue(std::string_view queue_url) { return queue_url.ends_with(".fifo"); }

StepMessage to_message(const QueuedStep& step) {
  StepMessage m;
  m.run_id = step.run_id;
  m.step_key = step.step_key;
  m.idempotency_key = step.key;
  m.attempt = step.attempt;
  m.job = step.job;
  m.op = step.op;
  m.time_scale = step.time_scale;
  m.enqueued_at = now_rfc3339();
  return m;
}

sqs::OutgoingMessage to_outgoing(const QueuedStep& step, bool fifo, std::string entry_id) {
  sqs::OutgoingMessage out;
  out.id = std::move(entry_id);
  out.body = encode(to_message(step));
  if (fifo) {
    out.group_id = step.key;
    out.deduplication_id = deduplication_id(step.key, step.attempt);
  }
  return out;
}

std::vector<std::string> send_steps(sqs::Client& client, const std::string& queue_url, bool fifo,
                                    const std::vector<QueuedStep>& steps) {
  std::vector<std::string> sent;
  for (size_t start = 0; start < steps.size(); start += 10) {
    size_t end = std::min(steps.size(), start + 10);
    std::vector<sqs::OutgoingMessage> batch;
    for (size_t i = start; i < end; ++i) {
      batch.push_back(to_outgoing(steps[i], fifo, fmt::format("m{}", i)));
    }
    auto res = client.send_message_batch(queue_url, batch);
    if (!res) {
      log::warn("send_steps_failed", {{"steps", end - start}, {"error", res.error().describe()},
                                      {"then", "the sweeper re-sends them"}});
      continue;
    }
    for (const auto& ok_entry : res->successful) {
      size_t i = std::stoul(ok_entry.id.substr(1));
      sent.push_back(steps[i].key);
    }
    for (const auto& f : res->failed) {
      log::warn("send_step_failed", {{"entry", f.id}, {"code", f.code}, {"error", f.message}});
    }
  }
  return sent;
}

}  // namespace opfleet::worker
