#include "store/sqlstate.h"

#include <utility>

namespace opfleet::store {

namespace {

bool has_class(std::string_view sqlstate, std::string_view cls) {
  return sqlstate.size() == 5 && sqlstate.substr(0, 2) == cls;
}

}  // namespace

Error error_from_sqlstate(std::string_view sqlstate, std::string message) {
  auto make = [&](ErrorKind kind, bool retryable) {
    Error e = Error::make(kind, std::move(message), retryable);
    e.code = std::string(sqlstate);
    return e;
  };
  if (sqlstate == "57014") return make(ErrorKind::kTimeout, true);
  if (sqlstate == "40001" || sqlstate == "40P01" || sqlstate == "55P03") {
    return make(ErrorKind::kConflict, true);
  }
  if (sqlstate == "23505") return make(ErrorKind::kConflict, false);
  // 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now: the server is
  // going away or not up yet; the next connection attempt may well succeed.
  if (has_class(sqlstate, "08") || sqlstate == "57P01" || sqlstate == "57P02" ||
      sqlstate == "57P03") {
    return make(ErrorKind::kNetwork, true);
  }
  if (has_class(sqlstate, "53")) return make(ErrorKind::kUnavailable, true);
  if (has_class(sqlstate, "23") || has_class(sqlstate, "22")) {
    return make(ErrorKind::kInvalid, false);
  }
  if (has_class(sqlstate, "28")) return make(ErrorKind::kAuth, false);
  if (sqlstate == "3D000") return make(ErrorKind::kNotFound, false);
  return make(ErrorKind::kInternal, false);
}

Error error_from_connect_failure(std::string message) {
  // libpq gives connection failures as English text only (the server's own messages
  // can be translated, but authentication and startup errors are sent before the
  // session's lc_messages applies). Anything unrecognised is treated as a network
  // problem: retrying a permanent failure costs a few backoff rounds and the circuit
  // breaker then stops it, while not retrying a transient one would drop work.
  const bool auth = message.find("password authentication failed") != std::string::npos ||
                    message.find("no pg_hba.conf entry") != std::string::npos ||
                    message.find("authentication failed") != std::string::npos ||
                    (message.find("role \"") != std::string::npos &&
                     message.find("does not exist") != std::string::npos);
  if (auth) {
    Error e = Error::make(ErrorKind::kAuth, std::move(message), false);
    e.code = "28000";
    return e;
  }
  if (message.find("does not exist") != std::string::npos &&
      message.find("database") != std::string::npos) {
    Error e = Error::make(ErrorKind::kNotFound, std::move(message), false);
    e.code = "3D000";
    return e;
  }
  Error e = Error::network(std::move(message));
  e.code = "08001";  // sqlclient_unable_to_establish_sqlconnection
  return e;
}

}  // namespace opfleet::store
