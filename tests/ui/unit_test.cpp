// The dashboard's pieces without a database: query parsing and validation, escaping,
// durations, the DAG layout, rendering of hostile values, and the HTTP server's limits
// (over real loopback sockets).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <string>

#include "ui/html.h"
#include "ui/http_server.h"
#include "ui/pages.h"
#include "ui/query.h"
#include "ui/reads.h"

namespace opfleet::ui {
namespace {

using nlohmann::json;

bool has(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(Query, DecodesAndValidates) {
  auto q = Query::parse("job=a+b&status=failed&tag=k%3Dv&tag=x%3D%3Cy%3E&page=3&empty=");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->text("job"), "a b");
  EXPECT_EQ(q->all("tag"), (std::vector<std::string>{"k=v", "x=<y>"}));
  EXPECT_EQ(q->integer("page", 1, 1, 10).value(), 3);
  EXPECT_EQ(q->integer("limit", 50, 1, 500).value(), 50);
  EXPECT_EQ(q->text("empty"), "");
  EXPECT_FALSE(q->integer("page", 1, 1, 2));
  EXPECT_EQ(q->one_of("status", {"failed", "running"}).value(), "failed");
  EXPECT_FALSE(q->one_of("status", {"running"}));
  EXPECT_FALSE(q->only({"job", "status", "tag", "page"}));
  EXPECT_TRUE(q->only({"job", "status", "tag", "page", "empty"}));
  EXPECT_FALSE(Query::parse("a=%4"));
  EXPECT_FALSE(Query::parse("a=%g0"));
  EXPECT_FALSE(Query::parse("a=%00"));
  for (const auto* bad : {"1.5", "1e3", " 3", "3 ", "-0x1", "99999999999"}) {
    auto b = Query::parse(std::string("n=") + bad);
    ASSERT_TRUE(b);
    EXPECT_FALSE(b->integer("n", 1, 1, 1000)) << bad;
  }
  EXPECT_EQ(percent_encode("a b/<c>=é"), "a%20b%2F%3Cc%3E%3D%C3%A9");
  EXPECT_EQ(percent_decode(percent_encode("x <&> y"), true).value(), "x <&> y");
}

TEST(Html, EscapesEverythingThatMatters) {
  EXPECT_EQ(html::escape(R"(<a href="x" title='y'>&</a>)"),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;");
  EXPECT_EQ(html::time(""), "-");
  EXPECT_EQ(html::time("<x>"), R"(<time datetime="&lt;x&gt;">&lt;x&gt;</time>)");
  EXPECT_EQ(html::status("fail\"ed<"),
            R"(<span class="status status-failed">fail&quot;ed&lt;</span>)");
  EXPECT_EQ(html::link("/runs/a\"b", "<b>"), R"(<a href="/runs/a&quot;b">&lt;b&gt;</a>)");
  const auto page = html::layout({"<title>", "runs", "<p>body</p>", 5});
  EXPECT_TRUE(has(page, "<title>&lt;title&gt; - opfleet</title>"));
  EXPECT_TRUE(has(page, R"(data-refresh="5")"));
  EXPECT_TRUE(has(page, R"(<a href="/runs" class="active">runs</a>)"));
}

TEST(Html, HumanDurations) {
  EXPECT_EQ(html::duration(std::nullopt), "-");
  EXPECT_EQ(html::duration(0.35), "350 ms");
  EXPECT_EQ(html::duration(12.34), "12.3 s");
  EXPECT_EQ(html::duration(245), "4 min 05 s");
  EXPECT_EQ(html::duration(2 * 3600 + 3 * 60 + 9), "2 h 03 min");
  EXPECT_EQ(html::duration(3 * 86400 + 4 * 3600 + 1), "3 d 4 h");
  EXPECT_EQ(html::duration(-1), "0 ms");
}

TEST(Reads, StepLevelsFollowTheDag) {
  const json steps = json::parse(R"([
    {"step_key": "a", "depends_on": []}, {"step_key": "b", "depends_on": ["a"]},
    {"step_key": "c", "depends_on": ["a"]}, {"step_key": "d", "depends_on": ["b", "c"]},
    {"step_key": "e", "depends_on": ["d", "a"]}, {"step_key": "x", "depends_on": ["ghost"]},
    {"step_key": "p", "depends_on": ["q"]}, {"step_key": "q", "depends_on": ["p"]}])");
  const auto levels = step_levels(steps);
  EXPECT_EQ(levels.at("a"), 0);
  EXPECT_EQ(levels.at("b"), 1);
  EXPECT_EQ(levels.at("c"), 1);
  EXPECT_EQ(levels.at("d"), 2);
  EXPECT_EQ(levels.at("e"), 3);
  EXPECT_EQ(levels.at("x"), 0);
  EXPECT_EQ(levels.size(), 8u);  // a cycle terminates and still places both steps
}

TEST(Pages, EpochSeconds) {
  EXPECT_DOUBLE_EQ(pages::epoch_seconds("1970-01-01T00:01:00.500Z"), 60.5);
  EXPECT_DOUBLE_EQ(pages::epoch_seconds("2030-01-02T03:04:05.000Z"), 1893553445.0);
  EXPECT_TRUE(std::isnan(pages::epoch_seconds("yesterday")));
}

// Every field a page shows, filled with markup: nothing comes out unescaped.
TEST(Pages, HostileValuesNeverRenderAsMarkup) {
  const std::string evil = R"(<script>x()</script><img src=x onerror=y()>)";
  const json run = {{"run_id", evil},
                    {"job", evil},
                    {"status", evil},
                    {"tags", {{evil, evil}}},
                    {"time_scale", 1.0},
                    {"submitted_at", evil},
                    {"started_at", evil},
                    {"finished_at", ""},
                    {"duration_s", nullptr},
                    {"error", evil},
                    {"steps_total", 1},
                    {"steps_done", 0},
                    {"steps", json::array({{{"step_key", evil},
                                            {"status", evil},
                                            {"attempt", 1},
                                            {"max_attempts", 3},
                                            {"depends_on", {evil}},
                                            {"started_at", evil},
                                            {"finished_at", ""},
                                            {"duration_s", 1.0},
                                            {"error", evil},
                                            {"result", {{"out", evil}}}}})},
                    {"attempts", json::array({{{"step_key", evil},
                                               {"attempt", 1},
                                               {"worker_id", evil},
                                               {"host", evil},
                                               {"pid", 7},
                                               {"started_at", evil},
                                               {"ended_at", ""},
                                               {"outcome", evil},
                                               {"error", evil}}})},
                    {"levels", {{evil, 0}}}};
  RunsFilter filter;
  filter.job = evil;
  filter.tags[evil] = evil;
  const json runs_doc = {
      {"runs", json::array({run})}, {"total", 1}, {"page", 1}, {"limit", 50}, {"pages", 1},
      {"counts", json::object()}};
  const json fleet_doc = {
      {"now", "2030-01-01T00:00:00.000Z"},
      {"stale_after_s", 30},
      {"supervisors", json::array({{{"host", evil},
                                    {"instance", evil},
                                    {"pid", 1},
                                    {"state", evil},
                                    {"workers", 1},
                                    {"busy_slots", 0},
                                    {"total_slots", 1},
                                    {"started_at", evil},
                                    {"heartbeat_at", evil},
                                    {"heartbeat_age_s", 1.0},
                                    {"stale", false},
                                    {"details", {{"workers", {{{"name", evil}}}}}}}})},
      {"in_flight", json::array({{{"run_id", evil},
                                  {"job", evil},
                                  {"step_key", evil},
                                  {"attempt", 1},
                                  {"lease_owner", evil},
                                  {"worker_id", evil},
                                  {"host", evil},
                                  {"pid", 1},
                                  {"started_at", evil},
                                  {"age_s", 1.0},
                                  {"lease_left_s", 1.0}}})}};
  const json queue_doc = {
      {"now", "2030-01-01T00:00:00.000Z"},
      {"window_minutes", 60},
      {"live", {{"queued", 1}, {"unsent", 0}, {"running", 0}, {"oldest_queued_age_s", 1.0}}},
      {"samples", json::array({{{"at", "2029-12-31T23:59:00.000Z"},
                                {"queue", evil},
                                {"visible", 1},
                                {"in_flight", 0},
                                {"delayed", 0},
                                {"oldest_queued_age_s", nullptr}}})}};
  const json scaling_doc = {{"now", "2030-01-01T00:00:00.000Z"},
                            {"window_minutes", 60},
                            {"events", json::array({{{"id", 1},
                                                     {"at", "2029-12-31T23:59:00.000Z"},
                                                     {"source", evil},
                                                     {"kind", "fault"},
                                                     {"action", evil},
                                                     {"from_count", 1},
                                                     {"to_count", 2},
                                                     {"reason", evil},
                                                     {"details", {{evil, evil}}}}})}};
  const json schedules_doc = {{"now", "2030-01-01T00:00:00.000Z"},
                              {"schedules", json::array({{{"name", evil},
                                                          {"job", evil},
                                                          {"cron", evil},
                                                          {"next_tick", evil},
                                                          {"last_tick", evil},
                                                          {"last_run_id", evil},
                                                          {"last_run_status", evil},
                                                          {"ticks", 1}}})}};
  for (const auto& page : {pages::runs(runs_doc, filter), pages::run(run), pages::fleet(fleet_doc),
                           pages::queue(queue_doc), pages::scaling(scaling_doc),
                           pages::schedules(schedules_doc), pages::problem(evil, evil)}) {
    const std::string doc = html::layout(page);
    EXPECT_FALSE(has(doc, "<script>")) << page.title;
    EXPECT_FALSE(has(doc, "<img")) << page.title;
    EXPECT_TRUE(has(doc, "&lt;script&gt;x()&lt;/script&gt;")) << page.title << "\n" << doc;
  }
}

// --- the HTTP server over real sockets

class Server : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions o;
    o.port = 0;
    o.threads = 2;
    o.max_request_bytes = 2048;
    o.read_timeout = std::chrono::milliseconds(300);
    auto s = HttpServer::start(o, [](const HttpRequest& r, int) {
      HttpResponse resp;
      resp.content_type = "text/plain";
      resp.body = r.method + " " + r.path + " ?" + r.query;
      if (r.path == "/throw") throw std::runtime_error("handler bug");
      return resp;
    });
    ASSERT_TRUE(s) << s.error().describe();
    server_ = std::move(*s);
  }

  // Sends `raw` and returns everything the server answered before closing.
  std::string exchange(const std::string& raw, bool half_close = true) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(server_->port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    if (!raw.empty()) {
      EXPECT_EQ(::send(fd, raw.data(), raw.size(), MSG_NOSIGNAL), ssize_t(raw.size()));
    }
    if (half_close) ::shutdown(fd, SHUT_WR);
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;)
      out.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    return out;
  }

  std::unique_ptr<HttpServer> server_;
};

TEST_F(Server, ServesGetAndHead) {
  auto r = exchange("GET /a%20b?x=1 HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 200 OK\r\n")) << r;
  EXPECT_TRUE(has(r, "Content-Length: 13\r\n")) << r;
  EXPECT_TRUE(has(r, "Connection: close\r\n"));
  EXPECT_TRUE(has(r, "X-Content-Type-Options: nosniff\r\n"));
  EXPECT_TRUE(r.ends_with("\r\n\r\nGET /a b ?x=1")) << r;
  auto head = exchange("HEAD / HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(head.starts_with("HTTP/1.1 200 OK\r\n")) << head;
  EXPECT_TRUE(head.ends_with("\r\n\r\n")) << head;  // no body
}

TEST_F(Server, RefusesWhatItDoesNotServe) {
  EXPECT_TRUE(exchange("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n").starts_with("HTTP/1.1 405"));
  EXPECT_TRUE(
      exchange("GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello").starts_with("HTTP/1.1 413"));
  EXPECT_TRUE(
      exchange("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").starts_with("HTTP/1.1 413"));
  EXPECT_TRUE(exchange("GET / SPDY/9\r\n\r\n").starts_with("HTTP/1.1 400"));
  EXPECT_TRUE(exchange("GET http://x/ HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 400"));
  EXPECT_TRUE(exchange("GET /%zz HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 400"));
  EXPECT_TRUE(exchange("GET / HTTP/1.1\r\nno colon here\r\n\r\n").starts_with("HTTP/1.1 400"));
  EXPECT_TRUE(
      exchange("GET /" + std::string(4000, 'a') + " HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 431"));
  EXPECT_TRUE(exchange("GET /throw HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 500"));
}

TEST_F(Server, DropsASilentClientAfterTheReadTimeout) {
  const auto start = std::chrono::steady_clock::now();
  auto r = exchange("GET / HTTP/1.1\r\n", false);  // the head never ends
  EXPECT_TRUE(r.starts_with("HTTP/1.1 408")) << r;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  // ...and the server still serves others.
  EXPECT_TRUE(exchange("GET / HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 200"));
}

std::set<int> open_fds() {
  std::set<int> fds;
  for (int fd = 0; fd < 1024; ++fd) {
    if (::fcntl(fd, F_GETFD) >= 0) fds.insert(fd);
  }
  return fds;
}

// The descriptors a server opens (listening socket, eventfd, accepted connections) are
// all close-on-exec. Those the test process inherited are not ours to judge.
TEST(ServerFds, DescriptorsAreCloseOnExec) {
  const auto before = open_fds();
  ServerOptions o;
  o.port = 0;
  o.threads = 1;
  std::atomic<int> seen{0};
  auto s = HttpServer::start(o, [&seen, &before](const HttpRequest&, int) {
    for (const int fd : open_fds()) {  // now including the accepted connection
      if (before.count(fd) != 0) continue;
      seen += 1;
      EXPECT_TRUE(::fcntl(fd, F_GETFD) & FD_CLOEXEC) << "fd " << fd;
    }
    return HttpResponse{};
  });
  ASSERT_TRUE(s);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>((*s)->port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string req = "GET / HTTP/1.1\r\n\r\n";
  ASSERT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), ssize_t(req.size()));
  char buf[512];
  while (::recv(fd, buf, sizeof buf, 0) > 0) {
  }
  ::close(fd);
  EXPECT_GE(seen.load(), 4);  // listening socket, eventfd, this client's two ends
}

TEST(ServerStart, BadAddressAndBusyPort) {
  ServerOptions o;
  o.host = "localhost";
  auto bad = HttpServer::start(o, {});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, ErrorKind::kInvalid);
  o.host = "127.0.0.1";
  o.port = 0;
  auto first = HttpServer::start(o, {});
  ASSERT_TRUE(first);
  o.port = (*first)->port();
  auto second = HttpServer::start(o, {});
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().kind, ErrorKind::kUnavailable);
}

}  // namespace
}  // namespace opfleet::ui
