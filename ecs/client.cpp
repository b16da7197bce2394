#include "ecs/client.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aws/http.h"
#include "aws/sigv4.h"
#include "common/log.h"
#include "ecs/errors.h"
#include "ecs/wire.h"

namespace opfleet::ecs {
namespace {

using nlohmann::json;

// 1000 pages of 100 are far more tasks or instances than one cluster holds; a server
// that keeps paging past that is broken.
constexpr int kMaxPages = 1000;

// Failed attempts that say "ECS is unreachable or unwell" feed the breaker. An answer that
// rejects the request (4xx) or asks us to slow down proves ECS is up: throttling is handled
// by the backoff alone.
bool is_outage(const Error& e) {
  return e.kind == ErrorKind::kNetwork || e.kind == ErrorKind::kTimeout ||
         e.kind == ErrorKind::kUnavailable;
}

Error circuit_open_error(std::string_view action, const CircuitBreaker& breaker,
                         const Error* last) {
  Error e = Error::make(
      ErrorKind::kUnavailable,
      fmt::format(
          "ECS {}: circuit '{}' open after {} consecutive failures, next trial in {} ms{}{}",
          action, breaker.name(), breaker.consecutive_failures(), breaker.remaining_open().count(),
          last != nullptr ? "; last error: " : "", last != nullptr ? last->describe() : ""),
      true);
  e.code = kCircuitOpenCode;
  return e;
}

Error with_action(std::string_view action, Error e) {
  e.message = fmt::format("ECS {}: {}", action, e.message);
  return e;
}

// Follows nextToken until the last page, refusing a token that comes back twice (a
// server doing that would keep us here for ever).
template <class Request, class PageFn>
Result<std::vector<std::string>> all_pages(Request request, std::string_view action,
                                           PageFn&& page_fn) {
  std::vector<std::string> arns;
  std::set<std::string> seen_tokens;
  for (int page = 0; page < kMaxPages; ++page) {
    OPFLEET_TRY(ArnPage p, page_fn(request));
    arns.insert(arns.end(), std::make_move_iterator(p.arns.begin()),
                std::make_move_iterator(p.arns.end()));
    if (p.next_token.empty()) return arns;
    if (!seen_tokens.insert(p.next_token).second) {
      return fail(
          Error::internal(fmt::format("ECS {}: the same nextToken came back twice", action)));
    }
    request.next_token = std::move(p.next_token);
  }
  return fail(Error::internal(fmt::format("ECS {}: more than {} pages", action, kMaxPages)));
}

}  // namespace

Result<Client> Client::make(ClientConfig config) {
  if (config.region.empty()) return fail(Error::invalid("ECS client: no AWS region configured"));
  std::string endpoint =
      config.endpoint.empty() ? wire::default_endpoint(config.region) : config.endpoint;
  auto url = wire::request_url(endpoint);
  if (!url) {
    Error e = std::move(url).error();
    e.message = fmt::format("ECS endpoint: {}", e.message);
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
      breaker_(config_.name, config_.breaker,
               config_.breaker_clock ? config_.breaker_clock
                                     : CircuitBreaker::Clock([] { return SteadyClock::now(); })) {}

Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

Result<json> Client::attempt(std::string_view action, const std::string& payload) {
  auto creds = config_.credentials->get();
  // Credentials come from elsewhere (files, IMDS, the ECS agent): their failure says
  // nothing about ECS, so it stays out of the breaker.
  if (!creds) return fail(with_action(action, std::move(creds).error()));
  aws::HttpRequest request = wire::build_request(url_, action, payload);
  auto signed_ok = aws::sign_request(request, *creds, aws::SigningScope{config_.region, "ecs"});
  if (!signed_ok) return fail(with_action(action, std::move(signed_ok).error()));

  if (!breaker_.allow()) {
    ++stats_.rejected_by_breaker;
    return fail(circuit_open_error(action, breaker_, nullptr));
  }
  ++stats_.attempts;
  const Millis timeout = config_.http.timeout;
  auto response =
      config_.transport ? config_.transport(request, timeout) : http_->send(request, timeout);
  Result<json> result;
  if (!response) {
    result = fail(with_action(action, std::move(response).error()));
  } else if (response->status < 200 || response->status >= 300) {
    result = fail(error_from_response(action, *response));
  } else {
    const bool blank = std::all_of(response->body.begin(), response->body.end(),
                                   [](unsigned char c) { return std::isspace(c) != 0; });
    json answer =
        blank ? json::object() : json::parse(response->body, nullptr, /*allow_exceptions=*/false);
    if (!answer.is_object()) {
      result = fail(Error::internal(fmt::format(
          "ECS {}: the answer is not a JSON object ({} bytes)", action, response->body.size())));
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

Result<json> Client::call(std::string_view action, const json& body) {
  ++stats_.calls;
  auto payload = wire::serialize(body);
  if (!payload) {
    ++stats_.failed_calls;
    return fail(with_action(action, std::move(payload).error()));
  }
  const int max_attempts = backoff_.policy().max_attempts;
  for (int n = 0;; ++n) {
    auto r = attempt(action, *payload);
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
    log::warn("ecs_retry", {{"client", config_.name},
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

Result<Batch<Service>> Client::describe_services(std::string_view cluster,
                                                 std::span<const std::string> services) {
  OPFLEET_TRY(json body, wire::describe_services_body(cluster, services));
  OPFLEET_TRY(json answer, call("DescribeServices", body));
  return wire::parse_services(answer);
}

Result<Service> Client::describe_service(std::string_view cluster, std::string_view service) {
  const std::string name(service);
  OPFLEET_TRY(Batch<Service> batch, describe_services(cluster, std::span(&name, 1)));
  if (!batch.failures.empty()) return fail(batch.failures.front().to_error("DescribeServices"));
  if (batch.items.size() != 1) {
    return fail(Error::internal(
        fmt::format("ECS DescribeServices: {} services and no failure for one service asked for",
                    batch.items.size())));
  }
  return std::move(batch.items.front());
}

Result<Service> Client::update_desired_count(std::string_view cluster, std::string_view service,
                                             int desired_count) {
  OPFLEET_TRY(json body, wire::update_service_body(cluster, service, desired_count));
  OPFLEET_TRY(json answer, call("UpdateService", body));
  return wire::parse_service(answer, "UpdateService");
}

Result<ArnPage> Client::list_tasks_page(const ListTasksRequest& request) {
  OPFLEET_TRY(json body, wire::list_tasks_body(request));
  OPFLEET_TRY(json answer, call("ListTasks", body));
  return wire::parse_task_arns(answer);
}

Result<std::vector<std::string>> Client::list_tasks(ListTasksRequest request) {
  return all_pages(std::move(request), "ListTasks",
                   [this](const ListTasksRequest& r) { return list_tasks_page(r); });
}

Result<Batch<Task>> Client::describe_tasks(std::string_view cluster,
                                           std::span<const std::string> tasks) {
  if (tasks.empty()) return fail(Error::invalid("ECS DescribeTasks: tasks must not be empty"));
  Batch<Task> out;
  for (std::size_t at = 0; at < tasks.size(); at += wire::kMaxDescribeTasks) {
    auto chunk = tasks.subspan(at, std::min(wire::kMaxDescribeTasks, tasks.size() - at));
    OPFLEET_TRY(json body, wire::describe_tasks_body(cluster, chunk));
    OPFLEET_TRY(json answer, call("DescribeTasks", body));
    OPFLEET_TRY(Batch<Task> part, wire::parse_tasks(answer));
    std::move(part.items.begin(), part.items.end(), std::back_inserter(out.items));
    std::move(part.failures.begin(), part.failures.end(), std::back_inserter(out.failures));
  }
  return out;
}

Result<Task> Client::stop_task(std::string_view cluster, std::string_view task,
                               std::string_view reason) {
  OPFLEET_TRY(json body, wire::stop_task_body(cluster, task, reason));
  OPFLEET_TRY(json answer, call("StopTask", body));
  return wire::parse_task(answer);
}

Result<ArnPage> Client::list_container_instances_page(
    const ListContainerInstancesRequest& request) {
  OPFLEET_TRY(json body, wire::list_container_instances_body(request));
  OPFLEET_TRY(json answer, call("ListContainerInstances", body));
  return wire::parse_container_instance_arns(answer);
}

Result<std::vector<std::string>> Client::list_container_instances(
    ListContainerInstancesRequest request) {
  return all_pages(
      std::move(request), "ListContainerInstances",
      [this](const ListContainerInstancesRequest& r) { return list_container_instances_page(r); });
}

Result<Batch<ContainerInstance>> Client::update_container_instances_state(
    std::string_view cluster, std::span<const std::string> container_instances,
    InstanceStatus status) {
  OPFLEET_TRY(json body,
              wire::update_container_instances_state_body(cluster, container_instances, status));
  OPFLEET_TRY(json answer, call("UpdateContainerInstancesState", body));
  return wire::parse_container_instances(answer);
}

Result<Batch<ProtectedTask>> Client::get_task_protection(std::string_view cluster,
                                                         std::span<const std::string> tasks) {
  OPFLEET_TRY(json body, wire::get_task_protection_body(cluster, tasks));
  OPFLEET_TRY(json answer, call("GetTaskProtection", body));
  return wire::parse_protected_tasks(answer, "GetTaskProtection");
}

Result<Batch<ProtectedTask>> Client::update_task_protection(std::string_view cluster,
                                                            std::span<const std::string> tasks,
                                                            bool protection_enabled,
                                                            std::optional<int> expires_in_minutes) {
  OPFLEET_TRY(json body, wire::update_task_protection_body(cluster, tasks, protection_enabled,
                                                           expires_in_minutes));
  OPFLEET_TRY(json answer, call("UpdateTaskProtection", body));
  return wire::parse_protected_tasks(answer, "UpdateTaskProtection");
}

}  // namespace opfleet::ecs
