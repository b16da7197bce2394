// Expected failures (network, AWS, PostgreSQL, bad data) travel as values.
// Broken internal invariants abort instead (see common/check.h).
#pragma once

#include <expected>
#include <string>
#include <utility>

namespace opfleet {

enum class ErrorKind {
  kNetwork,      // connection refused/reset, DNS, TLS handshake
  kTimeout,      // the peer did not answer in time
  kThrottled,    // the service asked us to slow down
  kUnavailable,  // 5xx, circuit open, server shutting down
  kNotFound,     // queue, run, step, file... does not exist
  kInvalid,      // bad parameter, bad config, malformed data: retrying will not help
  kConflict,     // exists with other settings, fencing token lost, lease held elsewhere
  kAuth,         // missing/expired/invalid credentials or signature
  kInternal,     // a bug on the other side or ours that is not worth an abort
};

const char* to_string(ErrorKind kind);

struct Error {
  ErrorKind kind = ErrorKind::kInternal;
  std::string message;     // human readable, never contains secrets
  bool retryable = false;  // may the same call succeed if repeated later?
  std::string code;        // service error code, e.g. "AWS.SimpleQueueService.NonExistentQueue"
  int http_status = 0;     // 0 when not an HTTP error

  static Error make(ErrorKind kind, std::string message, bool retryable = false) {
    return Error{kind, std::move(message), retryable, {}, 0};
  }
  static Error invalid(std::string message) { return make(ErrorKind::kInvalid, std::move(message)); }
  static Error not_found(std::string message) {
    return make(ErrorKind::kNotFound, std::move(message));
  }
  static Error network(std::string message) {
    return make(ErrorKind::kNetwork, std::move(message), true);
  }
  static Error internal(std::string message) {
    return make(ErrorKind::kInternal, std::move(message));
  }

  // "kind: message [code, HTTP n]" for logs and CLI output.
  std::string describe() const;
};

template <class T>
using Result = std::expected<T, Error>;
using Status = std::expected<void, Error>;

inline std::unexpected<Error> fail(Error e) { return std::unexpected<Error>(std::move(e)); }

inline Status ok() { return {}; }

}  // namespace opfleet

// Propagate an error from an expression returning Result/Status:
//   OPFLEET_TRY(auto v, parse(x));   or   OPFLEET_TRY_STATUS(write(y));
#define OPFLEET_CONCAT_INNER(a, b) a##b
#define OPFLEET_CONCAT(a, b) OPFLEET_CONCAT_INNER(a, b)
#define OPFLEET_TRY_IMPL(tmp, decl, expr) \
  auto tmp = (expr);                      \
  if (!tmp) return std::unexpected(std::move(tmp).error()); \
  decl = std::move(*tmp)
#define OPFLEET_TRY(decl, expr) OPFLEET_TRY_IMPL(OPFLEET_CONCAT(opfleet_try_, __LINE__), decl, expr)
#define OPFLEET_TRY_STATUS(expr)                                  \
  do {                                                            \
    auto opfleet_try_status = (expr);                             \
    if (!opfleet_try_status)                                      \
      return std::unexpected(std::move(opfleet_try_status).error()); \
  } while (0)
