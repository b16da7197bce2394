// What integration tests need from the local stack (scripts/stack up writes .stack/env;
// scripts/test sources it before ctest). A missing variable fails the test: an
// integration test never silently skips.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace opfleet::testing {

// The value of NAME, or throws std::runtime_error (the test fails with the message).
std::string stack_env(const char* name);

// A name unique across processes and calls: "<prefix>-<pid>-<n>-<random>".
std::string unique_name(std::string_view prefix);

// ../shared/testdata (fixed at configure time).
std::string testdata_dir();

// The project source directory and the built opfleet binary.
std::string source_dir();
std::string opfleet_binary();

// The environment for a spawned `opfleet` command whose flags say everything: this
// process's, minus OPFLEET_* and AWS_*, plus dummy AWS credentials.
std::vector<std::string> cli_environment();

}  // namespace opfleet::testing
