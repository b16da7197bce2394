#include "tests/support/postgres_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "tests/support/stack_env.h"

namespace opfleet::testing {

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

int free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("bind 127.0.0.1:0: " + std::string(std::strerror(errno)));
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

struct Identity {
  bool drop = false;
  uid_t uid = 0;
  gid_t gid = 0;
};

// fork + (setuid) + exec with stdout/stderr to `log_path`; returns the child's pid.
// Everything the child needs is prepared before fork(): after it, only async-signal-safe
// calls.
pid_t spawn(const std::vector<std::string>& args, const std::string& log_path,
            const std::string& cwd, const Identity& who, bool die_with_parent) {
  const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) throw std::runtime_error(fmt::format("open {}: {}", log_path, std::strerror(errno)));
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log);
    throw std::runtime_error(fmt::format("fork: {}", std::strerror(errno)));
  }
  if (pid == 0) {
    if (who.drop) {
      const gid_t groups[] = {who.gid};
      if (::setgroups(1, groups) != 0 || ::setgid(who.gid) != 0 || ::setuid(who.uid) != 0) {
        ::_exit(126);
      }
    }
    // Set after the uid change, which would clear it.
    if (die_with_parent && (::prctl(PR_SET_PDEATHSIG, SIGQUIT) != 0 || ::getppid() != parent)) {
      ::_exit(125);
    }
    if (::dup2(log, STDOUT_FILENO) < 0 || ::dup2(log, STDERR_FILENO) < 0) ::_exit(124);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    if (::chdir(cwd.c_str()) != 0) ::_exit(123);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(log);
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

PostgresProcess::PostgresProcess() {
  bin_ = stack_env("OPFLEET_PG_BIN");
  char tmpl[] = "/tmp/opfleet-pg-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    throw std::runtime_error(fmt::format("mkdtemp: {}", std::strerror(errno)));
  }
  dir_ = tmpl;
  if (::geteuid() == 0) {
    const passwd* pw = ::getpwnam("postgres");
    if (pw == nullptr) throw std::runtime_error("running as root but there is no postgres user");
    drop_privileges_ = true;
    uid_ = pw->pw_uid;
    gid_ = pw->pw_gid;
    if (::chown(dir_.c_str(), uid_, gid_) != 0) {
      throw std::runtime_error(fmt::format("chown {}: {}", dir_, std::strerror(errno)));
    }
  }
  const Identity who{drop_privileges_, uid_, gid_};
  const pid_t initdb =
      spawn({bin_ + "/initdb", "-D", dir_ + "/data", "-U", "opfleet", "--auth=trust", "-E", "UTF8",
             "--no-locale", "--no-sync", "--no-instructions"},
            dir_ + "/initdb.log", dir_, who, true);
  if (wait_exit(initdb) != 0) {
    const std::string log = read_file(dir_ + "/initdb.log");
    std::filesystem::remove_all(dir_);
    throw std::runtime_error("initdb failed:\n" + log);
  }
  // A free port can be taken between our probe and the server's bind: try a few.
  for (int attempt = 0;; ++attempt) {
    port_ = free_loopback_port();
    try {
      launch();
      wait_ready();
      return;
    } catch (const std::runtime_error&) {
      if (pid_ > 0) {
        ::kill(pid_, SIGQUIT);
        wait_exit(pid_);
        pid_ = -1;
      }
      const bool port_taken =
          read_file(dir_ + "/server.log").find("could not bind") != std::string::npos;
      if (!port_taken || attempt >= 4) {
        const std::string log = read_file(dir_ + "/server.log");
        std::filesystem::remove_all(dir_);
        throw std::runtime_error("PostgreSQL did not start:\n" + log);
      }
    }
  }
}

PostgresProcess::~PostgresProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGQUIT);  // immediate shutdown: the data is thrown away anyway
    wait_exit(pid_);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void PostgresProcess::launch() {
  pid_ =
      spawn({bin_ + "/postgres", "-D", dir_ + "/data", "-p", std::to_string(port_), "-k", dir_,
             "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
             "-c", "full_page_writes=off", "-c", "log_min_messages=warning"},
            dir_ + "/server.log", dir_, Identity{drop_privileges_, uid_, gid_}, true);
}

void PostgresProcess::wait_ready() {
  // The server has no readiness notification to wait on; pg_ctl -w polls too.
  const std::string conninfo =
      fmt::format("host=127.0.0.1 port={} dbname=postgres user=opfleet connect_timeout=2", port_);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (PQping(conninfo.c_str()) == PQPING_OK) return;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("postgres exited during start-up");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("postgres did not accept connections within 60 s");
}

void PostgresProcess::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGINT);  // fast shutdown
  wait_exit(pid_);
  pid_ = -1;
}

void PostgresProcess::start() {
  if (pid_ > 0) return;
  launch();
  try {
    wait_ready();
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(std::string(e.what()) + ":\n" + read_file(dir_ + "/server.log"));
  }
}

std::string PostgresProcess::url(std::string_view db) const {
  return fmt::format("postgresql://opfleet@127.0.0.1:{}/{}", port_, db);
}

}  // namespace opfleet::testing
