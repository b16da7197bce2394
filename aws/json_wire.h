// The AWS JSON protocol's requests without any I/O, for any service described by a
// JsonService: where they go, what carries them, and the JSON text of a body.
//
// Every request is `POST` to the endpoint's path with
//   Content-Type: <service.content_type>
//   X-Amz-Target: <service.target_prefix><Action>
// and the action's parameters as a JSON object in the body.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "aws/http.h"
#include "aws/json_service.h"
#include "common/result.h"

namespace opfleet::aws {

// "https://sqs.eu-west-1.amazonaws.com" for SQS in a region (".amazonaws.com.cn" in China).
std::string default_endpoint(const JsonService& service, std::string_view region);

// The URL every request is posted to: the endpoint with its path ("/" when none).
// Rejects endpoints that are not absolute http(s) URLs or carry a query string.
Result<std::string> request_url(const JsonService& service, std::string_view endpoint);

// The unsigned HTTP request for `action` with `body` (already serialized JSON).
HttpRequest build_request(const JsonService& service, const std::string& url,
                          std::string_view action, std::string body);

// JSON text of a request body. Fails with kInvalid when a string is not valid UTF-8
// (AWS accepts only Unicode text).
Result<std::string> serialize(const nlohmann::json& body);

}  // namespace opfleet::aws
