#include "config/show.h"

#include <algorithm>
#include <vector>

#include <fmt/format.h>

#include "config/secrets.h"

namespace opfleet::config {
namespace {

struct Row {
  std::string key;
  std::string value;
  std::string source;
};

}  // namespace

std::string show_table(const CommandSpec& spec, const Parsed& parsed) {
  po::options_description all = all_options(spec);
  std::vector<Row> rows;
  for (const std::string& key : settable_options(spec)) {
    if (key == "config") continue;  // the caller names the file in its header
    auto origin = parsed.origins.find(key);
    if (origin == parsed.origins.end()) continue;
    std::string value = fmt::format("{}", fmt::join(origin->second.tokens, ","));
    bool required = all.find(key, false).semantic()->is_required();
    if (value.empty()) {
      value =
          required && origin->second.source == Source::kDefault ? "(not set; required)" : "\"\"";
    } else {
      value = displayable(key, value);
    }
    rows.push_back(Row{key, std::move(value), describe(origin->second)});
  }
  size_t key_width = 3;
  size_t value_width = 5;
  for (const Row& r : rows) {
    key_width = std::max(key_width, r.key.size());
    value_width = std::max(value_width, r.value.size());
  }
  // A very long value (a URL with parameters) must not push every source off the screen.
  value_width = std::min<size_t>(value_width, 56);
  std::string out =
      fmt::format("{:<{}}  {:<{}}  {}\n", "KEY", key_width, "VALUE", value_width, "SOURCE");
  for (const Row& r : rows) {
    out += fmt::format("{:<{}}  {:<{}}  {}\n", r.key, key_width, r.value, value_width, r.source);
  }
  return out;
}

}  // namespace opfleet::config
