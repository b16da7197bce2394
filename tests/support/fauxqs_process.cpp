#include "tests/support/fauxqs_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/inotify.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "tests/support/stack_env.h"

extern char** environ;

namespace opfleet::testing {
namespace {

using Clock = std::chrono::steady_clock;

// Closes an fd when the scope ends.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

[[noreturn]] void sys_fail(const std::string& what) {
  throw std::runtime_error(fmt::format("{}: {}", what, std::strerror(errno)));
}

int ms_left(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// The port the wrapper wrote (atomically: it renames a temp file), or 0 when not there yet.
int read_port_file(const std::string& path) {
  std::ifstream in(path);
  int port = 0;
  if (in >> port) return port;
  return 0;
}

// Waits until the pidfd is readable (the process exited) or the time is up.
bool wait_exit(int pidfd, std::chrono::milliseconds timeout) {
  pollfd p{pidfd, POLLIN, 0};
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    int n = ::poll(&p, 1, ms_left(deadline));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) sys_fail("poll(pidfd)");
  }
}

}  // namespace

FauxqsProcess::FauxqsProcess() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "opfleet-fauxqs-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) sys_fail("mkdtemp");
  dir_ = tmpl;
}

FauxqsProcess::~FauxqsProcess() {
  try {
    stop();
  } catch (const std::exception& e) {
    fmt::print(stderr, "FauxqsProcess: stop failed: {}\n", e.what());
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string FauxqsProcess::endpoint() const {
  return fmt::format("http://127.0.0.1:{}", port_);
}

std::string FauxqsProcess::output() const {
  std::ifstream in(dir_ + "/output.log");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void FauxqsProcess::start(int port, std::chrono::milliseconds timeout) {
  if (running()) throw std::runtime_error("FauxqsProcess::start: already running");
  const std::string node = stack_env("OPFLEET_NODE");
  const std::string wrapper = stack_env("OPFLEET_FAUXQS_WRAPPER");
  const std::string modules = stack_env("OPFLEET_FAUXQS_MODULES");
  const std::string port_file = dir_ + "/port";
  ::unlink(port_file.c_str());

  // Watch for the port file before the child can write it, so its arrival is never missed.
  Fd inotify(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  if (inotify.fd < 0) sys_fail("inotify_init1");
  if (::inotify_add_watch(inotify.fd, dir_.c_str(), IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
    sys_fail("inotify_add_watch");
  }
  Fd log(::open((dir_ + "/output.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (log.fd < 0) sys_fail("open output.log");

  std::vector<std::string> args;
  // setpriv --pdeathsig: the emulator follows the test process if the test dies first.
  if (::access("/usr/bin/setpriv", X_OK) == 0) {
    args = {"/usr/bin/setpriv", "--pdeathsig", "TERM", "--"};
  }
  for (const std::string& a :
       {node, std::string("--no-warnings"), wrapper, std::string("--port"), std::to_string(port),
        std::string("--port-file"), port_file, std::string("--modules"), modules}) {
    args.push_back(a);
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  // dup2 onto 1 and 2 clears close-on-exec there only; `log` itself stays O_CLOEXEC.
  posix_spawn_file_actions_adddup2(&actions, log.fd, 1);
  posix_spawn_file_actions_adddup2(&actions, log.fd, 2);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    errno = rc;
    sys_fail(fmt::format("posix_spawn {}", argv[0]));
  }
  pid_ = pid;
  // pidfd_open always sets close-on-exec; poll() on it reports the exit.
  pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd_ < 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    pid_ = -1;
    sys_fail("pidfd_open");
  }

  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (int p = read_port_file(port_file); p > 0) {
      port_ = p;
      return;
    }
    std::array<pollfd, 2> fds = {pollfd{inotify.fd, POLLIN, 0}, pollfd{pidfd_, POLLIN, 0}};
    int n = ::poll(fds.data(), fds.size(), ms_left(deadline));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) sys_fail("poll");
    if (n == 0) {
      stop();
      throw std::runtime_error(
          fmt::format("fauxqs did not start within {} ms; output:\n{}", timeout.count(), output()));
    }
    if ((fds[1].revents & POLLIN) != 0) {
      int status = 0;
      ::waitpid(pid_, &status, 0);
      ::close(pidfd_);
      pidfd_ = -1;
      pid_ = -1;
      throw std::runtime_error(
          fmt::format("fauxqs exited (status {}) before listening; output:\n{}", status, output()));
    }
    // Drain the inotify events; the loop re-reads the port file.
    char buf[4096];
    while (::read(inotify.fd, buf, sizeof buf) > 0) {
    }
  }
}

void FauxqsProcess::stop(std::chrono::milliseconds grace) {
  if (!running()) return;
  ::kill(pid_, SIGTERM);
  if (!wait_exit(pidfd_, grace)) {
    ::kill(pid_, SIGKILL);
    wait_exit(pidfd_, std::chrono::seconds(10));
  }
  int status = 0;
  ::waitpid(pid_, &status, 0);
  ::close(pidfd_);
  pidfd_ = -1;
  pid_ = -1;
}

}  // namespace opfleet::testing
