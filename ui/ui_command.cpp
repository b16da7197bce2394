// `opfleet ui`: the read-only web dashboard (docs/ui.md).
#include <pthread.h>
#include <signal.h>

#include <charconv>
#include <string>

#include <fmt/format.h>

#include "cli/exit_codes.h"
#include "cli/subcommands.h"
#include "common/log.h"
#include "config/config.h"
#include "config/validate.h"
#include "jobs/registry.h"
#include "store/connection_config.h"
#include "ui/dashboard.h"
#include "ui/http_server.h"

namespace opfleet::cli {
namespace {

namespace po = boost::program_options;

config::CommandSpec ui_spec() {
  config::CommandSpec spec;
  spec.name = "ui";
  spec.usage = "opfleet ui [--listen 127.0.0.1:3000] [options]";
  spec.summary =
      "Serves the read-only web dashboard over PostgreSQL: runs and their steps, the fleet, "
      "the queue, scaling and schedules, as HTML pages and a JSON API (docs/ui.md). Binds "
      "loopback by default; a read-only database role is enough. SIGTERM or SIGINT stops it.";
  spec.options.add(config::general_options()).add(config::database_options(true));
  // clang-format off
  spec.options.add_options()
      ("listen", po::value<std::string>()->value_name("HOST:PORT")->default_value("127.0.0.1:3000"),
       "the IPv4 address and port to serve on (port 0: any free port)")
      ("ui-threads", config::positive_int()->value_name("N")->default_value(4),
       "requests served at once (each thread keeps one database session)")
      ("stale-heartbeat-s", config::positive_int()->value_name("S")->default_value(30),
       "a supervisor heartbeat older than this is shown as stale")
      ("jobs-file", po::value<std::string>()->value_name("PATH")->default_value("", ""),
       "a job definition file, or a directory of *.json files, added to the built-in jobs "
       "(for the schedules page)");
  // clang-format on
  return spec;
}

// Next to run_ui so the linker keeps it (see Registration in config/config.h).
const config::Registration kUiSpec(&ui_spec);

Result<std::pair<std::string, int>> parse_listen(const std::string& text) {
  const auto colon = text.rfind(':');
  int port = -1;
  if (colon != std::string::npos && colon > 0) {
    const char* first = text.data() + colon + 1;
    const char* last = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(first, last, port);
    if (ec != std::errc() || ptr != last || first == last) port = -1;
  }
  if (port < 0 || port > 65535) {
    return fail(Error::invalid(fmt::format("--listen: '{}' is not HOST:PORT", text)));
  }
  return std::make_pair(text.substr(0, colon), port);
}

}  // namespace

int run_ui(int argc, char** argv) {
  config::Parsed parsed;
  if (int rc = config::parse_or_exit(ui_spec(), argc, argv, &parsed); rc >= 0) return rc;
  const auto& vm = parsed.vm;
  auto listen = parse_listen(vm["listen"].as<std::string>());
  if (!listen) {
    fmt::print(stderr, "opfleet ui: {}\n", listen.error().message);
    return kExitUsage;
  }
  auto registry = jobs::load_registry(vm["jobs-file"].as<std::string>());
  if (!registry) {
    fmt::print(stderr, "opfleet ui: {}\n", registry.error().message);
    return kExitUsage;
  }
  auto db = store::connection_options_from(vm, "opfleet-ui");
  if (!db) {
    fmt::print(stderr, "opfleet ui: {}\n", db.error().message);
    return kExitUsage;
  }
  ui::DashboardOptions options;
  options.db = std::move(*db);
  // A dashboard must answer quickly: a short statement limit, and a breaker that lets a
  // request through every couple of seconds once the database is back.
  options.db.statement_timeout = Millis(10000);
  options.db.reconnect = BackoffPolicy{Millis(50), Millis(500), 2};
  options.db.breaker = BreakerPolicy{2, Millis(2000)};
  options.registry = std::move(*registry);
  options.threads = vm["ui-threads"].as<int>();
  options.stale_after_s = vm["stale-heartbeat-s"].as<int>();

  // Signals are taken by this thread with sigwait; the mask is set before the server
  // threads exist (they inherit it), so no handler interrupts a libpq call.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  ui::Dashboard dashboard(std::move(options));
  ui::ServerOptions server_options;
  server_options.host = listen->first;
  server_options.port = listen->second;
  server_options.threads = vm["ui-threads"].as<int>();
  auto server = ui::HttpServer::start(
      server_options,
      [&dashboard](const ui::HttpRequest& r, int t) { return dashboard.handle(r, t); });
  if (!server) {
    fmt::print(stderr, "opfleet ui: {}\n", server.error().message);
    return server.error().kind == ErrorKind::kInvalid ? kExitUsage : kExitUnavailable;
  }
  const std::string url = fmt::format("http://{}:{}/", listen->first, (*server)->port());
  log::info("ui_listening", {{"url", url}});
  // stdout, flushed: scripts (scripts/demo, tests) read the URL from here.
  fmt::print("opfleet ui: dashboard at {}\n", url);
  std::fflush(stdout);
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
  log::info("signal", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}, {"action", "stop"}});
  (*server)->stop();
  log::info("ui_stopped");
  return kExitOk;
}

}  // namespace opfleet::cli
