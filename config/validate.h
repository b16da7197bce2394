// Value semantics that check a value while it is parsed, so that a bad value is reported
// with its key and its source ("invalid value '0' for --slots (from OPFLEET_SLOTS): must be
// at least 1") instead of surfacing later, far from where it was written.
//
//   ("slots", config::positive_int()->default_value(4), "...")
//   ("mode", config::one_of({"ecs", "local"})->default_value("local"), "...")
//   ("lease", config::duration(1s)->default_value(30s, "30s"), "...")   // as<milliseconds>()
//
// Durations: give default_value() its text too (std::chrono has no operator<< in g++ 12).
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <boost/program_options.hpp>

#include "common/result.h"

namespace opfleet::config {

namespace po = boost::program_options;

// Thrown by a checked value; parse() reports
// "invalid value 'x' for --key (from SOURCE): <what()>".
class InvalidValue : public po::error {
 public:
  explicit InvalidValue(const std::string& reason) : po::error(reason) {}
};

// typed_value<T> plus a check run on every parsed value.
template <class T>
class CheckedValue final : public po::typed_value<T> {
 public:
  // Returns "" when the value is fine, else why not ("must be at least 1").
  using Check = std::function<std::string(const T&)>;

  explicit CheckedValue(Check check) : po::typed_value<T>(nullptr), check_(std::move(check)) {}

  void xparse(boost::any& store, const std::vector<std::string>& tokens) const override {
    po::typed_value<T>::xparse(store, tokens);
    std::string why = check_(boost::any_cast<const T&>(store));
    if (!why.empty()) throw InvalidValue(why);
  }

 private:
  Check check_;
};

template <class T>
po::typed_value<T>* checked(typename CheckedValue<T>::Check check) {
  return new CheckedValue<T>(std::move(check));  // owned by the option_description
}

template <class T>
po::typed_value<T>* at_least(T min) {
  return checked<T>([min](const T& v) {
    return v < min ? fmt::format("must be at least {}", min) : std::string();
  });
}

template <class T>
po::typed_value<T>* in_range(T min, T max) {
  return checked<T>([min, max](const T& v) {
    return v < min || v > max ? fmt::format("must be between {} and {}", min, max) : std::string();
  });
}

inline po::typed_value<int>* positive_int() {
  return at_least<int>(1);
}
inline po::typed_value<int>* non_negative_int() {
  return at_least<int>(0);
}

// An enum spelled as strings: the value must be one of `choices`.
po::typed_value<std::string>* one_of(std::vector<std::string> choices);
po::typed_value<std::string>* non_empty_string();
// Empty, or http(s)://host[:port][/path] (an endpoint override).
po::typed_value<std::string>* http_url();
// An SQS queue name: 1-80 of [A-Za-z0-9_-], FIFO names ending in ".fifo".
po::typed_value<std::string>* sqs_queue_name(bool allow_empty);
// An AWS region name such as us-east-1 (lower-case letters, digits, dashes).
po::typed_value<std::string>* aws_region();
// A duration written with units: 250ms, 30s, 5m, 1h, 2d, or combined (1m30s); "0" is zero.
po::typed_value<std::chrono::milliseconds>* duration(
    std::chrono::milliseconds min = std::chrono::milliseconds::zero());

Result<std::chrono::milliseconds> parse_duration(std::string_view text);
// The shortest exact spelling parse_duration() reads back: "1500ms", "30s", "5m", "1h".
std::string format_duration(std::chrono::milliseconds d);

// "a, b,,c" -> {"a", "b", "c"}: a comma-separated option value (instance names...),
// items trimmed of spaces, empty items dropped.
std::vector<std::string> split_list(std::string_view text);

}  // namespace opfleet::config

namespace boost {
// program_options converts option text with an unqualified validate(any&, tokens, T*, int)
// call; for std::chrono::milliseconds argument-dependent lookup finds this overload through
// boost::any (we may not add one to std::chrono). Lets po::value<std::chrono::milliseconds>()
// parse "30s" anywhere this header is included.
void validate(boost::any& store, const std::vector<std::string>& tokens,
              std::chrono::milliseconds* /*tag*/, int /*tag*/);
}  // namespace boost
