#include "supervisor/launcher.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

extern char** environ;

namespace opfleet::supervisor {

namespace {

// Signals whose disposition the worker must find at their defaults. Handlers are reset by
// execve anyway, but an inherited SIG_IGN survives it.
constexpr int kResetSignals[] = {SIGTERM, SIGINT,  SIGHUP,  SIGUSR1, SIGUSR2,
                                 SIGPIPE, SIGCHLD, SIGTTIN, SIGTTOU};

[[noreturn]] void child_fail(int pipe_fd, int err) {
  // Nothing to do if the parent is gone: the exit status still tells.
  (void)!write(pipe_fd, &err, sizeof err);
  _exit(127);
}

// Runs in the child between fork and exec: async-signal-safe calls only.
[[noreturn]] void exec_child(const char* path, char* const* argv, char* const* envp,
                             const sigset_t& mask, pid_t parent, int pipe_fd) {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int s : kResetSignals) sigaction(s, &dfl, nullptr);
  if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) child_fail(pipe_fd, errno);
  // The parent may have died before the prctl: then no signal would ever come.
  if (getppid() != parent) child_fail(pipe_fd, ESRCH);
  // Best effort (Linux >= 5.11): descriptors already CLOEXEC are unaffected.
  (void)syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
  sigprocmask(SIG_SETMASK, &mask, nullptr);
  execve(path, argv, envp);
  child_fail(pipe_fd, errno);
}

}  // namespace

Result<Launcher::Launched> Launcher::launch(const LaunchSpec& spec) const {
  // Everything the child needs, built before the fork (no allocation after it).
  std::vector<char*> argv;
  argv.reserve(spec.argv.size() + 1);
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  envp.reserve(spec.env.size() + 1);
  for (const auto& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  int fds[2];
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    return fail(
        Error::make(ErrorKind::kUnavailable, fmt::format("pipe2: {}", std::strerror(errno)), true));
  }
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);

  sigset_t all;
  sigset_t saved;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &saved);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    exec_child(spec.path.c_str(), argv.data(), envp.data(), original_mask_, parent,
               write_end.get());
  }
  const int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  if (pid < 0) {
    return fail(Error::make(ErrorKind::kUnavailable,
                            fmt::format("fork: {}", std::strerror(fork_errno)), true));
  }
  return Launched{pid, std::move(read_end)};
}

int Launcher::exec_error(int exec_status) {
  for (;;) {
    int child_errno = 0;
    ssize_t n = read(exec_status, &child_errno, sizeof child_errno);
    if (n == 0) return 0;
    if (n == static_cast<ssize_t>(sizeof child_errno)) return child_errno;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      pollfd p{exec_status, POLLIN, 0};
      (void)poll(&p, 1, -1);
      continue;
    }
    return EIO;  // a short read: cannot happen with a 4-byte write to a pipe
  }
}

std::vector<std::string> child_environment(const std::vector<std::string>& drop,
                                           const std::vector<std::string>& set) {
  auto name_of = [](std::string_view entry) { return entry.substr(0, entry.find('=')); };
  std::vector<std::string> out;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    std::string_view name = name_of(entry);
    if (std::find(drop.begin(), drop.end(), name) != drop.end()) continue;
    if (std::any_of(set.begin(), set.end(),
                    [&](const std::string& s) { return name_of(s) == name; })) {
      continue;
    }
    out.emplace_back(entry);
  }
  out.insert(out.end(), set.begin(), set.end());
  return out;
}

}  // namespace opfleet::supervisor
