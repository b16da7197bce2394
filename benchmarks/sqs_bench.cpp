// SQS throughput of the opfleet client against OPFLEET_SQS_ENDPOINT (the local emulator,
// LocalStack, or AWS with real credentials): messages per second for
//   - SendMessage, one message per call;
//   - SendMessageBatch, 10 messages per call;
//   - ReceiveMessage (up to 10) + DeleteMessageBatch: the raw consume ceiling that the
//     worker's dispatch throughput is compared with (docs: "within 2x of the raw
//     receive+delete ceiling");
// each on a standard and a FIFO queue (every FIFO message in a group of its own, as
// opfleet sends steps), with 1 and 4 concurrent clients (threads, one client each,
// sharing one queue). items_per_second is the figure to read.
//
//   . .stack/env && build/bin/sqs_bench
//
// Queues are named "obench-<pid>-..." and deleted at the end.
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "aws/credentials.h"
#include "aws/http.h"
#include "common/log.h"
#include "sqs/client.h"

namespace {

using opfleet::Millis;
using opfleet::sqs::Client;
using opfleet::sqs::ClientConfig;
using opfleet::sqs::DeleteEntry;
using opfleet::sqs::OutgoingMessage;

// About the size of an opfleet step message.
const std::string kBody =
    R"({"v":1,"run_id":"0b6d3c2e-8f57-4a57-9a53-1f0c6f1b9d2e","step_key":"fast_op",)"
    R"("idempotency_key":"0b6d3c2e-8f57-4a57-9a53-1f0c6f1b9d2e#fast_op","attempt":0,)"
    R"("job":"bench","op":{"kind":"sleep","mean_s":0},"enqueued_at":"2026-01-01T00:00:00Z"})";

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

opfleet::Result<Client> make_client() {
  ClientConfig c;
  c.endpoint = env_or("OPFLEET_SQS_ENDPOINT", "");
  c.region = env_or("AWS_REGION", env_or("AWS_DEFAULT_REGION", "us-east-1").c_str());
  c.credentials = opfleet::aws::default_credentials_chain();
  c.backoff = opfleet::BackoffPolicy{Millis(50), Millis(1000), 6};
  return Client::make(std::move(c));
}

// Queues shared by the threads of one benchmark run: the first thread to ask creates it.
class QueueRegistry {
 public:
  opfleet::Result<std::string> get(Client& client, const std::string& key, bool fifo) {
    std::lock_guard lock(mu_);
    if (auto it = urls_.find(key); it != urls_.end()) return it->second;
    const std::string name = fmt::format("obench-{}-{}{}", ::getpid(), key, fifo ? ".fifo" : "");
    auto url = client.create_queue(name);
    if (url) urls_.emplace(key, *url);
    return url;
  }

  void delete_all() {
    auto client = make_client();
    if (!client) return;
    std::lock_guard lock(mu_);
    for (const auto& [key, url] : urls_) {
      if (auto r = client->delete_queue(url); !r) {
        fmt::print(stderr, "sqs_bench: could not delete {}: {}\n", url, r.error().describe());
      }
    }
    urls_.clear();
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::string> urls_;
};

QueueRegistry& queues() {
  static QueueRegistry r;
  return r;
}

// Unique across threads, runs and processes within the FIFO 5-minute deduplication window.
std::atomic<std::uint64_t> g_sequence{0};
const std::string g_run = fmt::format(
    "{:x}", static_cast<unsigned>(::getpid()) ^ static_cast<unsigned>(std::time(nullptr)));

OutgoingMessage message(bool fifo, std::string id = {}) {
  OutgoingMessage m;
  m.id = std::move(id);
  m.body = kBody;
  if (fifo) {
    const auto n = g_sequence.fetch_add(1);
    m.group_id = fmt::format("g-{}-{}", g_run, n);  // one group per step, as opfleet sends
    m.deduplication_id = fmt::format("d-{}-{}", g_run, n);
  }
  return m;
}

std::vector<OutgoingMessage> batch_of_10(bool fifo) {
  std::vector<OutgoingMessage> batch;
  for (int i = 0; i < 10; ++i) batch.push_back(message(fifo, "m" + std::to_string(i)));
  return batch;
}

// Fails the run before its loop. Every thread still passes through the loop (zero
// iterations once an error is set): the loop's start is a barrier the other threads wait at.
void skip(benchmark::State& state, const std::string& why) {
  state.SkipWithError(why.c_str());
  for (auto _ : state) {
  }
}

std::string key(const benchmark::State& state, const char* what) {
  return fmt::format("{}-{}-t{}", what, state.range(0) == 1 ? "fifo" : "std", state.threads());
}

void BM_SendMessage(benchmark::State& state) {
  const bool fifo = state.range(0) == 1;
  auto client = make_client();
  if (!client) return skip(state, client.error().describe());
  auto url = queues().get(*client, key(state, "send"), fifo);
  if (!url) return skip(state, url.error().describe());
  std::int64_t sent = 0;
  for (auto _ : state) {
    auto r = client->send_message(*url, message(fifo));
    if (!r) {
      state.SkipWithError(r.error().describe().c_str());
      break;
    }
    ++sent;
  }
  state.SetItemsProcessed(sent);
}

void BM_SendMessageBatch(benchmark::State& state) {
  const bool fifo = state.range(0) == 1;
  auto client = make_client();
  if (!client) return skip(state, client.error().describe());
  auto url = queues().get(*client, key(state, "sendbatch"), fifo);
  if (!url) return skip(state, url.error().describe());
  std::int64_t sent = 0;
  for (auto _ : state) {
    auto r = client->send_message_batch(*url, batch_of_10(fifo));
    if (!r || !r->failed.empty()) {
      state.SkipWithError(r ? r->failed[0].to_error().describe().c_str()
                            : r.error().describe().c_str());
      break;
    }
    sent += static_cast<std::int64_t>(r->successful.size());
  }
  state.SetItemsProcessed(sent);
}

// Each iteration: ReceiveMessage (up to 10) then DeleteMessageBatch of what came. The
// queue is filled before timing starts (every thread sends its share, plus a margin so
// no thread finds it empty near the end).
void BM_ReceiveDeleteBatch(benchmark::State& state) {
  const bool fifo = state.range(0) == 1;
  auto client = make_client();
  if (!client) return skip(state, client.error().describe());
  auto url = queues().get(*client, key(state, "recv"), fifo);
  if (!url) return skip(state, url.error().describe());
  const auto fill_batches = static_cast<std::int64_t>(state.max_iterations) * 12 / 10 + 1;
  for (std::int64_t i = 0; i < fill_batches; ++i) {
    auto r = client->send_message_batch(*url, batch_of_10(fifo));
    if (!r || !r->failed.empty()) return skip(state, "filling the queue failed");
  }
  opfleet::sqs::ReceiveOptions options;
  options.max_messages = 10;
  options.wait_seconds = 1;  // never spin on an empty queue
  options.system_attribute_names = {"ApproximateReceiveCount"};
  std::int64_t consumed = 0;
  for (auto _ : state) {
    auto got = client->receive_messages(*url, options);
    if (!got) {
      state.SkipWithError(got.error().describe().c_str());
      break;
    }
    if (got->empty()) continue;
    std::vector<DeleteEntry> deletes;
    for (std::size_t i = 0; i < got->size(); ++i) {
      deletes.push_back({std::to_string(i), (*got)[i].receipt_handle});
    }
    auto d = client->delete_message_batch(*url, deletes);
    if (!d || !d->failed.empty()) {
      state.SkipWithError(d ? d->failed[0].to_error().describe().c_str()
                            : d.error().describe().c_str());
      break;
    }
    consumed += static_cast<std::int64_t>(d->successful.size());
  }
  state.SetItemsProcessed(consumed);
}

// Arg 0 = standard queue, 1 = FIFO queue. Real time: the work is waiting on the server.
BENCHMARK(BM_SendMessage)
    ->ArgName("fifo")
    ->Arg(0)
    ->Arg(1)
    ->Threads(1)
    ->Threads(4)
    ->UseRealTime()
    ->MinTime(2.0)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SendMessageBatch)
    ->ArgName("fifo")
    ->Arg(0)
    ->Arg(1)
    ->Threads(1)
    ->Threads(4)
    ->UseRealTime()
    ->MinTime(2.0)
    ->Unit(benchmark::kMicrosecond);
// Fixed iterations: the queue is filled for exactly this many receives per thread.
BENCHMARK(BM_ReceiveDeleteBatch)
    ->ArgName("fifo")
    ->Arg(0)
    ->Arg(1)
    ->Threads(1)
    ->Threads(4)
    ->Iterations(300)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  opfleet::aws::http_global_init();
  opfleet::log::configure(opfleet::log::Level::kWarn, opfleet::log::Format::kText, "sqs_bench");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (std::getenv("OPFLEET_SQS_ENDPOINT") == nullptr) {
    fmt::print(stderr,
               "sqs_bench: set OPFLEET_SQS_ENDPOINT (. .stack/env for the local emulator)\n");
    return 2;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  queues().delete_all();
  return 0;
}
