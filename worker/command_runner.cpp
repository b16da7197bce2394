#include "worker/command_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

extern char** environ;

namespace opfleet::worker {
namespace {

using Clock = std::chrono::steady_clock;

struct Pipe {
  int r = -1;
  int w = -1;
  ~Pipe() {
    if (r >= 0) ::close(r);
    if (w >= 0) ::close(w);
  }
};

bool allowed(const std::string& program, const std::vector<std::string>& allow_list) {
  return std::find(allow_list.begin(), allow_list.end(), program) != allow_list.end();
}

void append_bounded(std::string& out, bool& truncated, const char* data, size_t n, size_t cap) {
  size_t room = out.size() < cap ? cap - out.size() : 0;
  out.append(data, std::min(room, n));
  if (n > room) truncated = true;
}

}  // namespace

Result<CommandResult> run_command(const CommandSpec& spec,
                                  const std::vector<std::string>& allow_list,
                                  CancelToken& token) {
  if (spec.argv.empty()) return fail(Error::invalid("command op has an empty argv"));
  if (!allowed(spec.argv[0], allow_list)) {
    return fail(Error::invalid(
        fmt::format("program '{}' is not on the command allow-list", spec.argv[0])));
  }
  Pipe out;
  Pipe err;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return fail(Error::internal("pipe2 failed"));
  out.r = fds[0];
  out.w = fds[1];
  if (::pipe2(fds, O_CLOEXEC) != 0) return fail(Error::internal("pipe2 failed"));
  err.r = fds[0];
  err.w = fds[1];

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out.w, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err.w, STDERR_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Own process group: a timeout kills the command and everything it started.
  // Default signal mask and dispositions: the worker blocks signals it handles itself.
  sigset_t empty;
  sigemptyset(&empty);
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> argv;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  auto start = Clock::now();
  int rc = posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    return fail(Error::invalid(fmt::format("cannot run '{}': {}", spec.argv[0], std::strerror(rc))));
  }
  ::close(out.w);
  out.w = -1;
  ::close(err.w);
  err.w = -1;

  CommandResult result;
  const auto deadline = start + spec.timeout;
  bool killed = false;
  Clock::time_point kill_escalate_at{};
  bool out_open = true;
  bool err_open = true;
  char buf[4096];
  while (out_open || err_open) {
    auto now = Clock::now();
    if (!killed) {
      StopReason why = token.check();
      if (why != StopReason::kNone || now >= deadline) {
        result.stopped = why;
        result.timed_out = why == StopReason::kNone;
        ::kill(-pid, SIGTERM);
        killed = true;
        kill_escalate_at = now + std::chrono::seconds(2);
      }
    } else if (now >= kill_escalate_at) {
      ::kill(-pid, SIGKILL);
      kill_escalate_at = Clock::time_point::max();
    }
    auto wake = killed ? kill_escalate_at : std::min(deadline, token.fence_deadline());
    long wait_ms = wake == Clock::time_point::max()
                       ? -1
                       : std::max<long>(0, std::chrono::duration_cast<std::chrono::milliseconds>(
                                               wake - now).count() + 1);
    pollfd pfds[3] = {{out_open ? out.r : -1, POLLIN, 0},
                      {err_open ? err.r : -1, POLLIN, 0},
                      {token.event_fd(), POLLIN, 0}};
    int n = ::poll(pfds, 3, static_cast<int>(std::min<long>(wait_ms, 1L << 30)));
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    if (pfds[2].revents & POLLIN) token.drain_event();
    for (int i = 0; i < 2; ++i) {
      if (pfds[i].revents == 0) continue;
      ssize_t got = ::read(pfds[i].fd, buf, sizeof buf);
      if (got > 0) {
        if (i == 0) {
          append_bounded(result.stdout_text, result.stdout_truncated, buf,
                         static_cast<size_t>(got), spec.max_output_bytes);
        } else {
          append_bounded(result.stderr_text, result.stderr_truncated, buf,
                         static_cast<size_t>(got), spec.max_output_bytes);
        }
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        (i == 0 ? out_open : err_open) = false;
      }
    }
  }
  // Both pipes closed: the command (and anything holding its pipes) is gone or exiting.
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (killed) ::kill(-pid, SIGKILL);  // stragglers in the group
  result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
  return result;
}

}  // namespace opfleet::worker
