#include "aws/json_wire.h"

#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace opfleet::aws {

std::string default_endpoint(const JsonService& service, std::string_view region) {
  const char* suffix = region.starts_with("cn-") ? "amazonaws.com.cn" : "amazonaws.com";
  return fmt::format("https://{}.{}.{}", service.signing_name, region, suffix);
}

Result<std::string> request_url(const JsonService& service, std::string_view endpoint) {
  OPFLEET_TRY(UrlParts parts, parse_url(endpoint));
  if (!parts.query.empty()) {
    return fail(Error::invalid(
        fmt::format("{} endpoint '{}' must not have a query", service.name, endpoint)));
  }
  return fmt::format("{}://{}{}", parts.scheme, parts.host, parts.path);
}

HttpRequest build_request(const JsonService& service, const std::string& url,
                          std::string_view action, std::string body) {
  HttpRequest r;
  r.method = "POST";
  r.url = url;
  r.headers = {{"Content-Type", std::string(service.content_type)},
               {"X-Amz-Target", fmt::format("{}{}", service.target_prefix, action)}};
  r.body = std::move(body);
  return r;
}

Result<std::string> serialize(const nlohmann::json& body) {
  try {
    return body.dump();
  } catch (const nlohmann::json::exception& e) {
    // type_error 316: a string holds bytes that are not UTF-8.
    return fail(Error::invalid(fmt::format("request is not valid UTF-8 text: {}", e.what())));
  }
}

}  // namespace opfleet::aws
