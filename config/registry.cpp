#include <algorithm>
#include <vector>

#include "config/config.h"

namespace opfleet::config {
namespace {

// Filled during static initialization (one Registration per subcommand), read afterwards;
// a function-local static so registrations in any translation unit find it constructed.
std::vector<SpecFactory>& factories() {
  static std::vector<SpecFactory> all;
  return all;
}

}  // namespace

Registration::Registration(SpecFactory factory) {
  factories().push_back(factory);
}

std::vector<CommandSpec> registered_specs() {
  std::vector<CommandSpec> specs;
  specs.reserve(factories().size());
  for (SpecFactory f : factories()) specs.push_back(f());
  return specs;
}

std::optional<CommandSpec> find_registered(std::string_view name) {
  for (SpecFactory f : factories()) {
    CommandSpec spec = f();
    if (spec.name == name) return spec;
  }
  return std::nullopt;
}

}  // namespace opfleet::config
