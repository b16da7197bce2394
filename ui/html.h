// HTML building blocks. The one rule: every value that comes from the database or the
// request goes through escape() (or a helper built on it) before it reaches a page, so a
// job tag or an error text containing markup renders as text.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace opfleet::ui::html {

// & < > " ' -> entities: safe in element content and in quoted attribute values.
std::string escape(std::string_view text);

// <time datetime="ISO">ISO</time>: the page script rewrites it in the viewer's time zone
// (the server cannot know it); "-" for an empty time.
std::string time(std::string_view iso_utc);

// Human-readable duration: "350 ms", "12.3 s", "4 min 05 s", "2 h 03 min", "3 d 4 h"; "-"
// when absent.
std::string duration(std::optional<double> seconds);

// <span class="status status-X">X</span>, X escaped (and reduced to [a-z_] in the class).
std::string status(std::string_view status);

// A link whose href is built from trusted parts plus escaped text.
std::string link(std::string_view href, std::string_view text);

struct Page {
  std::string title;        // escaped by layout()
  std::string active;       // nav entry: "runs", "fleet", "queue", "scaling", "schedules"
  std::string body;         // already-safe HTML
  int refresh_seconds = 0;  // auto-refresh period; 0: none
  // Refresh even when the viewer turned auto-refresh off (an error page that should
  // recover by itself once the database is back).
  bool force_refresh = false;
};

// The whole document: head, nav, body, the stylesheet and script (served by /static/).
std::string layout(const Page& page);

// The static assets (no build chain: plain CSS and a few lines of JavaScript).
std::string_view stylesheet();
std::string_view script();

}  // namespace opfleet::ui::html
