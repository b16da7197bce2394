#include "sqs/client.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aws/sigv4.h"
#include "common/log.h"
#include "sqs/errors.h"
#include "sqs/wire.h"

namespace opfleet::sqs {
namespace {

using nlohmann::json;

constexpr int kDefaultLongPollSeconds = wire::kMaxWaitSeconds;
constexpr int kMaxListPages = 1000;

// Failed attempts that say "SQS is unreachable or unwell" feed the breaker. An answer that
// rejects the request (4xx) or asks us to slow down proves SQS is up: throttling is handled
// by the backoff alone, so a throttled fleet does not also stop sending for open_for.
bool is_outage(const Error& e) {
  return e.kind == ErrorKind::kNetwork || e.kind == ErrorKind::kTimeout ||
         e.kind == ErrorKind::kUnavailable;
}

Error circuit_open_error(std::string_view action, const CircuitBreaker& breaker,
                         const Error* last) {
  Error e = Error::make(
      ErrorKind::kUnavailable,
      fmt::format(
          "SQS {}: circuit '{}' open after {} consecutive failures, next trial in {} ms{}{}",
          action, breaker.name(), breaker.consecutive_failures(), breaker.remaining_open().count(),
          last != nullptr ? "; last error: " : "", last != nullptr ? last->describe() : ""),
      true);
  e.code = kCircuitOpenCode;
  return e;
}

Error with_action(std::string_view action, Error e) {
  e.message = fmt::format("SQS {}: {}", action, e.message);
  return e;
}

}  // namespace

Result<Client> Client::make(ClientConfig config) {
  if (config.region.empty()) return fail(Error::invalid("SQS client: no AWS region configured"));
  std::string endpoint =
      config.endpoint.empty() ? wire::default_endpoint(config.region) : config.endpoint;
  auto url = wire::request_url(endpoint);
  if (!url) {
    Error e = std::move(url).error();
    e.message = fmt::format("SQS endpoint: {}", e.message);
    return fail(std::move(e));
  }
  if (!config.credentials) config.credentials = aws::default_credentials_chain();
  if (!config.sleep) {
    config.sleep = [](Millis d) {
      std::this_thread::sleep_for(d);
      return true;
    };
  }
  return Client(std::move(config), std::move(*url));
}

Client::Client(ClientConfig config, std::string url)
    : config_(std::move(config)),
      url_(std::move(url)),
      http_(config_.transport ? nullptr : std::make_unique<aws::HttpClient>(config_.http)),
      backoff_(config_.backoff),
      breaker_(config_.name, config_.breaker) {}

Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

Result<json> Client::attempt(std::string_view action, const std::string& payload, Millis timeout) {
  auto creds = config_.credentials->get();
  // Credentials come from elsewhere (files, IMDS, the ECS agent): their failure says
  // nothing about SQS, so it stays out of the breaker.
  if (!creds) return fail(with_action(action, std::move(creds).error()));
  aws::HttpRequest request = wire::build_request(url_, action, payload);
  auto signed_ok = aws::sign_request(request, *creds, aws::SigningScope{config_.region, "sqs"});
  if (!signed_ok) return fail(with_action(action, std::move(signed_ok).error()));

  if (!breaker_.allow()) {
    ++stats_.rejected_by_breaker;
    return fail(circuit_open_error(action, breaker_, nullptr));
  }
  ++stats_.attempts;
  auto response =
      config_.transport ? config_.transport(request, timeout) : http_->send(request, timeout);
  Result<json> result;
  if (!response) {
    result = fail(with_action(action, std::move(response).error()));
  } else if (response->status < 200 || response->status >= 300) {
    result = fail(error_from_response(action, *response));
  } else {
    // Actions without output (DeleteMessage, PurgeQueue...) may answer with an empty body.
    const bool blank = std::all_of(response->body.begin(), response->body.end(),
                                   [](unsigned char c) { return std::isspace(c) != 0; });
    json answer =
        blank ? json::object() : json::parse(response->body, nullptr, /*allow_exceptions=*/false);
    if (!answer.is_object()) {
      result = fail(Error::internal(fmt::format(
          "SQS {}: the answer is not a JSON object ({} bytes)", action, response->body.size())));
    } else {
      result = std::move(answer);
    }
  }
  if (result || !is_outage(result.error())) {
    breaker_.record_success();
  } else {
    breaker_.record_failure();
  }
  return result;
}

Result<json> Client::call(std::string_view action, const json& body, Millis timeout) {
  ++stats_.calls;
  auto payload = wire::serialize(body);
  if (!payload) {
    ++stats_.failed_calls;
    return fail(with_action(action, std::move(payload).error()));
  }
  const int max_attempts = backoff_.policy().max_attempts;
  for (int n = 0;; ++n) {
    auto r = attempt(action, *payload, timeout);
    if (r) return r;
    Error err = std::move(r).error();
    const bool last = max_attempts > 0 && n + 1 >= max_attempts;
    if (!err.retryable || last || err.code == kCircuitOpenCode) {
      ++stats_.failed_calls;
      return fail(std::move(err));
    }
    if (breaker_.state() == BreakerState::kOpen) {
      // This failure opened the circuit: waiting out the backoff would only end in a
      // fail-fast, so fail fast now and let the caller back off.
      ++stats_.failed_calls;
      return fail(circuit_open_error(action, breaker_, &err));
    }
    const Millis delay = backoff_.delay(n);
    log::warn("sqs_retry", {{"client", config_.name},
                            {"action", action},
                            {"attempt", n + 1},
                            {"max_attempts", max_attempts},
                            {"delay_ms", delay.count()},
                            {"error_kind", to_string(err.kind)},
                            {"code", err.code},
                            {"error", err.message}});
    ++stats_.retries;
    if (!config_.sleep(delay)) {
      // Cancelled (shutdown): the caller gets the error that made us wait.
      ++stats_.failed_calls;
      return fail(std::move(err));
    }
  }
}

Result<std::string> Client::create_queue(std::string_view name, const Attributes& attributes) {
  OPFLEET_TRY(json body, wire::create_queue_body(name, attributes));
  OPFLEET_TRY(json answer, call("CreateQueue", body, config_.http.timeout));
  return wire::parse_queue_url(answer, "CreateQueue");
}

Result<std::string> Client::create_queue(const QueueSpec& spec) {
  OPFLEET_TRY(Attributes attributes, spec.attributes());
  return create_queue(spec.name, attributes);
}

Result<std::string> Client::get_queue_url(std::string_view name) {
  OPFLEET_TRY(json answer,
              call("GetQueueUrl", wire::get_queue_url_body(name), config_.http.timeout));
  return wire::parse_queue_url(answer, "GetQueueUrl");
}

Result<Attributes> Client::get_queue_attributes(std::string_view queue_url,
                                                std::span<const std::string> names) {
  OPFLEET_TRY(json answer,
              call("GetQueueAttributes", wire::get_queue_attributes_body(queue_url, names),
                   config_.http.timeout));
  return wire::parse_attributes(answer);
}

Result<SendResult> Client::send_message(std::string_view queue_url,
                                        const OutgoingMessage& message) {
  OPFLEET_TRY(json body, wire::send_message_body(queue_url, message));
  OPFLEET_TRY(json answer, call("SendMessage", body, config_.http.timeout));
  OPFLEET_TRY(SendResult result, wire::parse_send_result(answer));
  // The checksum SDKs verify: SQS stored other bytes than we sent (a proxy re-encoded the
  // body, or it was damaged on the way).
  if (!result.md5_of_body.empty() && result.md5_of_body != wire::md5_hex(message.body)) {
    Error e = Error::internal(fmt::format(
        "SQS SendMessage: MD5OfMessageBody {} does not match the body sent (message {})",
        result.md5_of_body, result.message_id));
    e.code = "MD5OfMessageBodyMismatch";
    return fail(std::move(e));
  }
  return result;
}

Result<SendBatchResult> Client::send_message_batch(std::string_view queue_url,
                                                   std::span<const OutgoingMessage> entries) {
  OPFLEET_TRY(json body, wire::send_message_batch_body(queue_url, entries));
  OPFLEET_TRY(json answer, call("SendMessageBatch", body, config_.http.timeout));
  OPFLEET_TRY(SendBatchResult result, wire::parse_send_batch_result(answer));
  // Same checksum as send_message, per entry: a mismatching entry is reported as failed.
  std::erase_if(result.successful, [&](const SendBatchResult::Entry& ok_entry) {
    auto sent = std::find_if(entries.begin(), entries.end(),
                             [&](const OutgoingMessage& m) { return m.id == ok_entry.id; });
    if (sent == entries.end() || ok_entry.result.md5_of_body.empty() ||
        ok_entry.result.md5_of_body == wire::md5_hex(sent->body)) {
      return false;
    }
    result.failed.push_back(
        BatchEntryError{ok_entry.id, "MD5OfMessageBodyMismatch",
                        fmt::format("MD5OfMessageBody {} does not match the body sent (message {})",
                                    ok_entry.result.md5_of_body, ok_entry.result.message_id),
                        false});
    return true;
  });
  return result;
}

Result<std::vector<Message>> Client::receive_messages(std::string_view queue_url,
                                                      const ReceiveOptions& options) {
  OPFLEET_TRY(json body, wire::receive_message_body(queue_url, options));
  const int wait = options.wait_seconds.value_or(kDefaultLongPollSeconds);
  const Millis timeout = config_.http.timeout + std::chrono::seconds(wait);
  OPFLEET_TRY(json answer, call("ReceiveMessage", body, timeout));
  return wire::parse_messages(answer);
}

Status Client::delete_message(std::string_view queue_url, std::string_view receipt_handle) {
  OPFLEET_TRY(json body, wire::delete_message_body(queue_url, receipt_handle));
  OPFLEET_TRY_STATUS(call("DeleteMessage", body, config_.http.timeout));
  return ok();
}

Result<BatchResult> Client::delete_message_batch(std::string_view queue_url,
                                                 std::span<const DeleteEntry> entries) {
  OPFLEET_TRY(json body, wire::delete_message_batch_body(queue_url, entries));
  OPFLEET_TRY(json answer, call("DeleteMessageBatch", body, config_.http.timeout));
  return wire::parse_batch_result(answer, "DeleteMessageBatch");
}

Status Client::change_message_visibility(std::string_view queue_url,
                                         std::string_view receipt_handle,
                                         int visibility_timeout_s) {
  OPFLEET_TRY(json body,
              wire::change_visibility_body(queue_url, receipt_handle, visibility_timeout_s));
  OPFLEET_TRY_STATUS(call("ChangeMessageVisibility", body, config_.http.timeout));
  return ok();
}

Result<BatchResult> Client::change_message_visibility_batch(
    std::string_view queue_url, std::span<const VisibilityEntry> entries) {
  OPFLEET_TRY(json body, wire::change_visibility_batch_body(queue_url, entries));
  OPFLEET_TRY(json answer, call("ChangeMessageVisibilityBatch", body, config_.http.timeout));
  return wire::parse_batch_result(answer, "ChangeMessageVisibilityBatch");
}

Status Client::purge_queue(std::string_view queue_url) {
  OPFLEET_TRY_STATUS(call("PurgeQueue", wire::queue_url_body(queue_url), config_.http.timeout));
  return ok();
}

Status Client::delete_queue(std::string_view queue_url) {
  OPFLEET_TRY_STATUS(call("DeleteQueue", wire::queue_url_body(queue_url), config_.http.timeout));
  return ok();
}

Result<std::vector<std::string>> Client::list_queues(std::string_view prefix) {
  std::vector<std::string> urls;
  std::string token;
  std::set<std::string> seen_tokens;
  for (int page = 0; page < kMaxListPages; ++page) {
    OPFLEET_TRY(json answer, call("ListQueues", wire::list_queues_body(prefix, token, 1000),
                                  config_.http.timeout));
    OPFLEET_TRY(wire::QueueList list, wire::parse_queue_list(answer));
    urls.insert(urls.end(), list.urls.begin(), list.urls.end());
    if (list.next_token.empty()) return urls;
    // A server that hands out the same token twice would keep us here for ever.
    if (!seen_tokens.insert(list.next_token).second) {
      return fail(Error::internal("SQS ListQueues: the same NextToken came back twice"));
    }
    token = std::move(list.next_token);
  }
  return fail(Error::internal(fmt::format("SQS ListQueues: more than {} pages", kMaxListPages)));
}

}  // namespace opfleet::sqs
