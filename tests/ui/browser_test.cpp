// The dashboard in a real browser: headless Chromium (Debian's `chromium` package, which
// scripts/lib/common.sh installs) loads the runs page and a run page of a database seeded
// by real runs; the DOM after the page script ran must have the key elements, and
// screenshots are saved under the build folder (ui-screenshots/). Nothing is skipped: no
// chromium means a failed test.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/stack_env.h"
#include "tests/ui/seeded_dashboard.h"

extern char** environ;

namespace opfleet::ui {
namespace {

namespace fs = std::filesystem;
using testing::SeededDashboard;

constexpr const char* kChromium = "/usr/bin/chromium";

bool has(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct BrowserRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs chromium headless with the flags of a clean, quiet, offline profile, stdout and
// stderr to files; kills it if it has not finished within `timeout`.
BrowserRun chromium(const fs::path& dir, const std::vector<std::string>& extra,
                    std::chrono::seconds timeout = std::chrono::seconds(60)) {
  static int n = 0;
  const fs::path profile = dir / ("profile-" + std::to_string(++n));  // fresh each run
  const fs::path out = dir / ("out-" + std::to_string(n));
  const fs::path err = dir / ("err-" + std::to_string(n));
  std::vector<std::string> args = {kChromium,
                                   "--headless",
                                   "--no-sandbox",
                                   "--disable-gpu",
                                   "--no-first-run",
                                   "--disable-background-networking",
                                   "--disable-component-update",
                                   "--disable-sync",
                                   "--user-data-dir=" + profile.string()};
  args.insert(args.end(), extra.begin(), extra.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, kChromium, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  BrowserRun run;
  if (rc != 0) {
    run.err = std::string("cannot start ") + kChromium + ": " + std::strerror(rc);
    return run;
  }
  // Wait for the exit as an event (pidfd), not by sleeping.
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  pollfd p{pidfd, POLLIN, 0};
  const bool exited = pidfd >= 0 && ::poll(&p, 1, static_cast<int>(timeout.count() * 1000)) == 1;
  if (!exited) ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (pidfd >= 0) ::close(pidfd);
  run.exit_code = exited && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.out = slurp(out);
  run.err = slurp(err);
  return run;
}

class Browser : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    aws::http_global_init();
    seeded = new SeededDashboard();
  }
  static void TearDownTestSuite() {
    delete seeded;
    seeded = nullptr;
  }

  void SetUp() override {
    ASSERT_TRUE(fs::exists(kChromium))
        << kChromium << " is missing: install Debian's chromium package (scripts/lib/common.sh)";
    dir_ = fs::path(::testing::TempDir()) / testing::unique_name("ui-browser");
    fs::create_directories(dir_);
    fs::create_directories(kScreenshots);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // The DOM after scripts ran.
  std::string dom(const std::string& path) {
    auto r = chromium(dir_, {"--dump-dom", seeded->url(path)});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }

  // A PNG of the page at 1280x900; returns its size in bytes (0: none written).
  std::uintmax_t screenshot(const std::string& path, const std::string& name) {
    const fs::path png = fs::path(kScreenshots) / name;
    fs::remove(png);
    auto r = chromium(dir_, {"--screenshot=" + png.string(), "--window-size=1280,900",
                             "--hide-scrollbars", seeded->url(path)});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    if (!fs::exists(png)) return 0;
    EXPECT_EQ(slurp(png).substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8)) << png;
    return fs::file_size(png);
  }

  static constexpr const char* kScreenshots = OPFLEET_UI_SCREENSHOT_DIR;
  static SeededDashboard* seeded;
  fs::path dir_;
};

SeededDashboard* Browser::seeded = nullptr;

// The page script ran: <time> elements carry the ISO time as a title and show local time.
void expect_times_localised(const std::string& dom) {
  const auto at = dom.find("<time datetime=\"");
  ASSERT_NE(at, std::string::npos) << dom;
  const auto tag_end = dom.find('>', at);
  const std::string tag = dom.substr(at, tag_end - at);
  EXPECT_TRUE(has(tag, "title=\"")) << tag;
  const auto text_end = dom.find("</time>", tag_end);
  const std::string text = dom.substr(tag_end + 1, text_end - tag_end - 1);
  EXPECT_FALSE(has(text, "T")) << "still ISO, script did not run: " << text;
}

TEST_F(Browser, RunsPage) {
  const std::string d = dom("/runs");
  EXPECT_TRUE(has(d, R"(<table id="runs">)")) << d;
  for (const auto& id : {seeded->succeeded_run, seeded->failed_run, seeded->running_run}) {
    EXPECT_TRUE(has(d, "/runs/" + id)) << id;
  }
  EXPECT_TRUE(has(d, R"(class="filters")"));
  EXPECT_TRUE(has(d, "status-failed"));
  EXPECT_FALSE(has(d, testing::kMarkupTag));  // the DOM holds it as text, never as an element
  expect_times_localised(d);
  EXPECT_GT(screenshot("/runs", "runs.png"), 10000u);
}

TEST_F(Browser, RunPage) {
  const std::string d = dom("/runs/" + seeded->succeeded_run);
  EXPECT_TRUE(has(d, R"(id="dag")")) << d;
  EXPECT_TRUE(has(d, R"(class="dag-node")"));
  EXPECT_TRUE(has(d, R"(<table id="steps">)"));
  EXPECT_TRUE(has(d, R"(<table id="attempts">)"));
  EXPECT_TRUE(has(d, "status-succeeded"));
  expect_times_localised(d);
  EXPECT_GT(screenshot("/runs/" + seeded->succeeded_run, "run.png"), 10000u);
  // The other pages render in the browser too (screenshots for the docs).
  EXPECT_GT(screenshot("/runs/" + seeded->failed_run, "run-failed.png"), 10000u);
  EXPECT_GT(screenshot("/fleet", "fleet.png"), 10000u);
  EXPECT_GT(screenshot("/queue", "queue.png"), 10000u);
  EXPECT_GT(screenshot("/scaling", "scaling.png"), 10000u);
}

}  // namespace
}  // namespace opfleet::ui
