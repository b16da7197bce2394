// `opfleet netfault`: the fault-injecting TCP proxy as a process, driven through its
// control socket (netfault/control.h, docs/netfault.md). The scaler's failure simulation
// and the load simulator put it between workers and PostgreSQL or SQS.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include <fmt/format.h>

#include "cli/exit_codes.h"
#include "cli/subcommands.h"
#include "common/log.h"
#include "config/config.h"
#include "config/validate.h"
#include "netfault/control.h"
#include "netfault/tcp_proxy.h"

namespace opfleet::cli {

namespace {

namespace po = boost::program_options;

config::CommandSpec netfault_spec() {
  po::options_description own("netfault options");
  // clang-format off
  own.add_options()
      ("listen", po::value<std::string>()->value_name("HOST:PORT")->default_value("127.0.0.1:0"),
       "address to accept clients on (port 0: a free port, see --port-file)")
      ("upstream", config::non_empty_string()->value_name("HOST:PORT")->required(),
       "where accepted connections are forwarded (required)")
      ("control", po::value<std::string>()->value_name("PATH")->default_value("", ""),
       "UNIX socket taking the commands pass, blackhole, reject, restore and status, one per "
       "line (empty: no control; the proxy stays in --mode)")
      ("mode", config::one_of({"pass", "blackhole", "reject"})->value_name("MODE")
                   ->default_value("pass"),
       "mode at start")
      ("port-file", po::value<std::string>()->value_name("FILE")->default_value("", ""),
       "write the listening port to FILE (atomically) once listening")
      ("connect-timeout-ms", config::positive_int()->value_name("MS")->default_value(5000),
       "reset a client whose upstream connection is not established within this time");
  // clang-format on
  config::CommandSpec spec;
  spec.name = "netfault";
  spec.usage = "opfleet netfault --upstream HOST:PORT [--listen HOST:PORT] [--control PATH]";
  spec.summary =
      "A TCP proxy that injects network faults on command: pass (forward), blackhole (a "
      "partition: connections stay open, nothing moves), reject (connections reset). See "
      "docs/netfault.md. SIGTERM or SIGINT stops it.";
  spec.options.add(config::general_options()).add(own);
  return spec;
}

// Next to run_netfault so the linker keeps it (see Registration in config/config.h).
const config::Registration kNetfaultSpec(&netfault_spec);

// Writes the port to `path` through a temporary file and rename(), so a reader never sees
// a partial number.
Status write_port_file(const std::string& path, int port) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return fail(Error::invalid(fmt::format("cannot write {}", tmp)));
  const std::string text = fmt::format("{}\n", port);
  bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  written = ::close(fd) == 0 && written;
  if (!written || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return fail(Error::invalid(fmt::format("cannot write {}", path)));
  }
  return ok();
}

}  // namespace

int run_netfault(int argc, char** argv) {
  const config::CommandSpec spec = netfault_spec();
  config::Parsed parsed;
  if (int rc = config::parse_or_exit(spec, argc, argv, &parsed); rc >= 0) return rc;
  const auto& vm = parsed.vm;

  netfault::TcpProxyOptions options;
  auto listen = netfault::parse_host_port(vm["listen"].as<std::string>(), /*allow_zero=*/true);
  auto upstream = netfault::parse_host_port(vm["upstream"].as<std::string>());
  for (const auto* r : {&listen, &upstream}) {
    if (!*r) {
      log::error("bad_config", {{"error", r->error().message}});
      return kExitUsage;
    }
  }
  options.listen = *listen;
  options.upstream = *upstream;
  options.connect_timeout = Millis(vm["connect-timeout-ms"].as<int>());
  const std::string control_path = vm["control"].as<std::string>();
  const std::string port_file = vm["port-file"].as<std::string>();
  const auto initial = netfault::parse_mode(vm["mode"].as<std::string>());

  // Signals go to the sigwait below; the proxy and control threads inherit the mask.
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGTERM, SIGINT}) sigaddset(&set, s);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  auto proxy = netfault::TcpProxy::start(options);
  if (!proxy) {
    log::error("netfault_start_failed", {{"error", proxy.error().describe()}});
    return proxy.error().kind == ErrorKind::kConflict ? kExitUnavailable : kExitConfig;
  }
  if (initial) (*proxy)->set_mode(*initial);
  std::unique_ptr<netfault::ControlServer> control;
  if (!control_path.empty()) {
    auto server = netfault::ControlServer::start(control_path, **proxy);
    if (!server) {
      log::error("netfault_control_failed", {{"error", server.error().describe()}});
      return kExitConfig;
    }
    control = std::move(*server);
  }
  // The port file comes last: whoever waits for it may use the control socket at once.
  if (!port_file.empty()) {
    if (auto st = write_port_file(port_file, (*proxy)->port()); !st) {
      log::error("netfault_port_file_failed", {{"error", st.error().message}});
      return kExitConfig;
    }
  }
  log::info("netfault_listening", {{"listen", netfault::to_string(options.listen)},
                                   {"port", (*proxy)->port()},
                                   {"upstream", netfault::to_string(options.upstream)},
                                   {"mode", netfault::to_string((*proxy)->mode())},
                                   {"control", control_path}});

  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
  log::info("netfault_stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"},
                                  {"status", netfault::status_json(**proxy)}});
  control.reset();
  (*proxy)->stop();
  if (!port_file.empty()) ::unlink(port_file.c_str());
  return kExitOk;
}

}  // namespace opfleet::cli
