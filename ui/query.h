// Query strings: decoding, and typed access that turns a bad value into a message for
// the 400 page ("page: 'x' is not a whole number between 1 and 100000").
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace opfleet::ui {

// %XX decoding; with `plus_is_space` (query strings) '+' is a space. kInvalid for a
// truncated or non-hex escape, or a decoded NUL.
Result<std::string> percent_decode(std::string_view s, bool plus_is_space);
// Encodes everything but unreserved characters (RFC 3986), for links.
std::string percent_encode(std::string_view s);

class Query {
 public:
  // "a=1&b=x+y&a=2"; kInvalid when a name or value does not decode.
  static Result<Query> parse(std::string_view raw);

  // Rejects names outside `known` (a typo in a filter should not silently show everything).
  Status only(const std::set<std::string, std::less<>>& known) const;

  // The last value of `name`, or "" (an empty value counts as absent).
  std::string text(std::string_view name) const;
  std::vector<std::string> all(std::string_view name) const;
  // An integer in [min, max], `fallback` when absent.
  Result<int> integer(std::string_view name, int fallback, int min, int max) const;
  // One of `allowed`, or "" when absent.
  Result<std::string> one_of(std::string_view name, const std::vector<std::string>& allowed) const;

 private:
  std::multimap<std::string, std::string, std::less<>> values_;
};

}  // namespace opfleet::ui
