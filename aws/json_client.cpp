#include "aws/json_client.h"

#include <algorithm>
#include <cctype>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aws/json_errors.h"
#include "aws/json_wire.h"
#include "aws/sigv4.h"
#include "common/log.h"

namespace opfleet::aws {
namespace {

using nlohmann::json;

// Failed attempts that say "the service is unreachable or unwell" feed the breaker. An
// answer that rejects the request (4xx) or asks us to slow down proves the service is up:
// throttling is handled by the backoff alone, so a throttled fleet does not also stop
// sending for open_for.
bool is_outage(const Error& e) {
  return e.kind == ErrorKind::kNetwork || e.kind == ErrorKind::kTimeout ||
         e.kind == ErrorKind::kUnavailable;
}

}  // namespace

Result<JsonClient> JsonClient::make(const JsonService& service, ClientOptions options) {
  if (options.region.empty()) {
    return fail(Error::invalid(fmt::format("{} client: no AWS region configured", service.name)));
  }
  std::string endpoint =
      options.endpoint.empty() ? default_endpoint(service, options.region) : options.endpoint;
  auto url = request_url(service, endpoint);
  if (!url) {
    Error e = std::move(url).error();
    e.message = fmt::format("{} endpoint: {}", service.name, e.message);
    return fail(std::move(e));
  }
  if (!options.credentials) options.credentials = default_credentials_chain();
  if (!options.sleep) {
    options.sleep = [](Millis d) {
      std::this_thread::sleep_for(d);
      return true;
    };
  }
  if (options.name.empty()) options.name = std::string(service.signing_name);
  return JsonClient(service, std::move(options), std::move(*url));
}

JsonClient::JsonClient(const JsonService& service, ClientOptions options, std::string url)
    : service_(service),
      options_(std::move(options)),
      url_(std::move(url)),
      http_(options_.transport ? nullptr : std::make_unique<HttpClient>(options_.http)),
      backoff_(options_.backoff),
      breaker_(options_.name, options_.breaker,
               options_.breaker_clock ? options_.breaker_clock
                                      : CircuitBreaker::Clock([] { return SteadyClock::now(); })) {}

Error JsonClient::circuit_open_error(std::string_view action, const Error* last) const {
  Error e = Error::make(
      ErrorKind::kUnavailable,
      fmt::format("{} {}: circuit '{}' open after {} consecutive failures, next trial in {} ms{}{}",
                  service_.name, action, breaker_.name(), breaker_.consecutive_failures(),
                  breaker_.remaining_open().count(), last != nullptr ? "; last error: " : "",
                  last != nullptr ? last->describe() : ""),
      true);
  e.code = kCircuitOpenCode;
  return e;
}

Error JsonClient::with_action(std::string_view action, Error e) const {
  e.message = fmt::format("{} {}: {}", service_.name, action, e.message);
  return e;
}

Result<json> JsonClient::attempt(std::string_view action, const std::string& payload,
                                 Millis timeout) {
  auto creds = options_.credentials->get();
  // Credentials come from elsewhere (files, IMDS, the ECS agent): their failure says
  // nothing about the service, so it stays out of the breaker.
  if (!creds) return fail(with_action(action, std::move(creds).error()));
  HttpRequest request = build_request(service_, url_, action, payload);
  auto signed_ok = sign_request(request, *creds,
                                SigningScope{options_.region, std::string(service_.signing_name)});
  if (!signed_ok) return fail(with_action(action, std::move(signed_ok).error()));

  if (!breaker_.allow()) {
    ++stats_.rejected_by_breaker;
    return fail(circuit_open_error(action, nullptr));
  }
  ++stats_.attempts;
  auto response =
      options_.transport ? options_.transport(request, timeout) : http_->send(request, timeout);
  Result<json> result;
  if (!response) {
    result = fail(with_action(action, std::move(response).error()));
  } else if (response->status < 200 || response->status >= 300) {
    result = fail(error_from_response(service_, action, *response));
  } else {
    // Actions without output (DeleteMessage, PurgeQueue...) may answer with an empty body.
    const bool blank = std::all_of(response->body.begin(), response->body.end(),
                                   [](unsigned char c) { return std::isspace(c) != 0; });
    json answer =
        blank ? json::object() : json::parse(response->body, nullptr, /*allow_exceptions=*/false);
    if (!answer.is_object()) {
      result = fail(Error::internal(fmt::format("{} {}: the answer is not a JSON object ({} bytes)",
                                                service_.name, action, response->body.size())));
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

Result<json> JsonClient::call(std::string_view action, const json& body) {
  return call(action, body, options_.http.timeout);
}

Result<json> JsonClient::call(std::string_view action, const json& body, Millis timeout) {
  ++stats_.calls;
  auto payload = serialize(body);
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
      return fail(circuit_open_error(action, &err));
    }
    const Millis delay = backoff_.delay(n);
    log::warn(service_.retry_event, {{"client", options_.name},
                                     {"action", action},
                                     {"attempt", n + 1},
                                     {"max_attempts", max_attempts},
                                     {"delay_ms", delay.count()},
                                     {"error_kind", to_string(err.kind)},
                                     {"code", err.code},
                                     {"error", err.message}});
    ++stats_.retries;
    if (!options_.sleep(delay)) {
      // Cancelled (shutdown): the caller gets the error that made us wait.
      ++stats_.failed_calls;
      return fail(std::move(err));
    }
  }
}

}  // namespace opfleet::aws
