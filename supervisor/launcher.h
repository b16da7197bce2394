// fork+exec of one worker process, done so that it is safe in a process that has libcurl,
// libpq and a dozen descriptors open:
//  - every signal is blocked across fork(), so no handler (of a library, say) can run in
//    the child before exec; the child restores the mask the supervisor started with just
//    before execve, so the worker begins with a normal mask;
//  - between fork and exec the child makes only async-signal-safe calls (sigaction,
//    prctl, getppid, close_range, sigprocmask, execve, write, _exit): no malloc, no locks,
//    everything it needs (argv, envp) was built before the fork;
//  - the child sets PR_SET_PDEATHSIG(SIGTERM) and then checks that its parent is still
//    the supervisor (the supervisor may have died before the prctl);
//  - every inherited descriptor above stderr is made close-on-exec (close_range), as a
//    second line behind O_CLOEXEC on everything we open: libraries do not all set it;
//  - an exec failure is reported through a CLOEXEC pipe: the child writes its errno and
//    exits 127; a successful exec closes the pipe (EOF). launch() does not wait for it
//    (exec of a big binary takes milliseconds, and starting 8 workers one exec after the
//    other would delay READY by all of them): the caller watches the pipe in its loop.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "common/result.h"
#include "supervisor/unique_fd.h"

namespace opfleet::supervisor {

struct LaunchSpec {
  std::string path;               // what to execve: "/proc/self/exe"
  std::vector<std::string> argv;  // argv[0] included
  std::vector<std::string> env;   // the whole environment, "NAME=value"
};

class Launcher {
 public:
  // `original_mask`: the signal mask to give the children (the supervisor's mask before
  // it blocked signals for its signalfd).
  explicit Launcher(const sigset_t& original_mask) : original_mask_(original_mask) {}

  struct Launched {
    pid_t pid = 0;
    // Readable once the exec is done: EOF when it succeeded, else the child's errno.
    UniqueFd exec_status;
  };
  // Forks; the child execs. Fails only when the fork (or the pipe) fails.
  Result<Launched> launch(const LaunchSpec& spec) const;

  // Reads `exec_status` (blocking if the exec is not done yet): 0 when the exec succeeded,
  // else the errno of the failed exec.
  static int exec_error(int exec_status);

 private:
  sigset_t original_mask_;
};

// The current environment without the variables in `drop` and with `set` applied
// ("NAME=value" entries replace NAME).
std::vector<std::string> child_environment(const std::vector<std::string>& drop,
                                           const std::vector<std::string>& set);

}  // namespace opfleet::supervisor
