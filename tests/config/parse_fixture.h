// parse() with a fake environment and a private directory for config files.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "config/config.h"
#include "tests/config/temp_dir.h"
#include "tests/config/test_specs.h"

namespace opfleet::config::test {

class ConfigParseTest : public ::testing::Test {
 protected:
  // The database URL is required by testworker; most tests are about something else.
  ConfigParseTest() { env["OPFLEET_DATABASE_URL"] = "postgresql://opfleet@127.0.0.1/opfleet"; }

  ParseOptions options() const {
    ParseOptions o;
    o.getenv = [this](const std::string& name) -> std::optional<std::string> {
      auto it = env.find(name);
      return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
    o.default_config_file = dir.path() + "/absent.conf";
    o.configure_logging = false;
    return o;
  }

  Result<Parsed> run(const CommandSpec& spec, const std::vector<std::string>& args) const {
    return parse(spec, args, options());
  }
  Result<Parsed> worker(const std::vector<std::string>& args = {}) const {
    return run(worker_spec(), args);
  }
  // Writes the config file and returns `args` preceded by --config FILE.
  std::vector<std::string> with_file(const std::string& text, std::vector<std::string> args = {}) {
    file = dir.write("opfleet.conf", text);
    args.insert(args.begin(), {"--config", file});
    return args;
  }

  opfleet::testing::TempDir dir;
  std::map<std::string, std::string> env;
  std::string file;
};

}  // namespace opfleet::config::test
