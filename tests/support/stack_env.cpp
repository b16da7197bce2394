#include "tests/support/stack_env.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <random>
#include <stdexcept>

#include <fmt/format.h>

extern char** environ;

namespace opfleet::testing {

std::string stack_env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') {
    throw std::runtime_error(fmt::format(
        "{} is not set: integration tests need the local stack (scripts/stack up; . .stack/env)",
        name));
  }
  return value;
}

std::string unique_name(std::string_view prefix) {
  static std::atomic<int> counter{0};
  static const unsigned salt = std::random_device{}();
  return fmt::format("{}-{}-{}-{:x}", prefix, getpid(), counter.fetch_add(1), salt & 0xffffu);
}

std::string testdata_dir() {
  return OPFLEET_TESTDATA_DIR;
}
std::string source_dir() {
  return OPFLEET_SOURCE_DIR;
}
std::string opfleet_binary() {
  return OPFLEET_BINARY;
}

std::vector<std::string> cli_environment() {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view v(*e);
    if (!v.starts_with("OPFLEET_") && !v.starts_with("AWS_")) env.emplace_back(v);
  }
  env.emplace_back("AWS_ACCESS_KEY_ID=test");
  env.emplace_back("AWS_SECRET_ACCESS_KEY=test");
  return env;
}

}  // namespace opfleet::testing
