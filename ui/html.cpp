#include "ui/html.h"

#include <cmath>

#include <fmt/format.h>

namespace opfleet::ui::html {

std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string time(std::string_view iso_utc) {
  if (iso_utc.empty()) return "-";
  const std::string e = escape(iso_utc);
  return fmt::format(R"(<time datetime="{}">{}</time>)", e, e);
}

std::string duration(std::optional<double> seconds) {
  if (!seconds || !std::isfinite(*seconds)) return "-";
  const double s = *seconds < 0 ? 0 : *seconds;
  if (s < 1) return fmt::format("{:.0f} ms", s * 1000);
  if (s < 60) return fmt::format("{:.1f} s", s);
  const auto total = static_cast<long long>(s);
  if (total < 3600) return fmt::format("{} min {:02} s", total / 60, total % 60);
  if (total < 86400) return fmt::format("{} h {:02} min", total / 3600, (total % 3600) / 60);
  return fmt::format("{} d {} h", total / 86400, (total % 86400) / 3600);
}

std::string status(std::string_view value) {
  std::string cls;
  for (const char c : value) {
    if ((c >= 'a' && c <= 'z') || c == '_') cls += c;
  }
  return fmt::format(R"(<span class="status status-{}">{}</span>)", cls, escape(value));
}

std::string link(std::string_view href, std::string_view text) {
  return fmt::format(R"(<a href="{}">{}</a>)", escape(href), escape(text));
}

std::string layout(const Page& page) {
  std::string nav;
  for (const auto* entry : {"runs", "fleet", "queue", "scaling", "schedules"}) {
    nav += fmt::format(R"(<a href="/{0}"{1}>{0}</a>)", entry,
                       page.active == entry ? R"( class="active")" : "");
  }
  return fmt::format(
      R"(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{0} - opfleet</title>{4}
<link rel="stylesheet" href="/static/style.css">
<script src="/static/app.js" defer></script>
</head>
<body data-refresh="{1}">
<header><a class="brand" href="/runs">opfleet</a><nav>{2}</nav>
<label class="refresh"><input type="checkbox" id="auto-refresh"> auto-refresh</label></header>
<main>
<h1>{0}</h1>
{3}
</main>
</body>
</html>
)",
      escape(page.title), page.refresh_seconds, nav, page.body,
      page.force_refresh && page.refresh_seconds > 0
          ? fmt::format(R"(<meta http-equiv="refresh" content="{}">)", page.refresh_seconds)
          : std::string());
}

std::string_view stylesheet() {
  return R"(body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d232a;background:#f6f7f9}
header{display:flex;gap:1.5em;align-items:center;padding:.6em 1.2em;background:#1d232a;color:#fff}
header a{color:#cfd6de;text-decoration:none;margin-right:1em}header a.active,header a:hover{color:#fff}
.brand{font-weight:700;color:#fff!important}.refresh{margin-left:auto;font-size:.9em}
main{padding:1em 1.5em}h1{font-size:1.4em;margin:.2em 0 .6em}h2{font-size:1.1em;margin:1.4em 0 .5em}
table{border-collapse:collapse;background:#fff;width:100%;margin-bottom:1em}
th,td{text-align:left;padding:.3em .6em;border-bottom:1px solid #e3e6ea;vertical-align:top}
th{background:#eef0f3;font-weight:600}td.num,th.num{text-align:right}
.status{display:inline-block;padding:0 .5em;border-radius:.8em;font-size:.85em;background:#e3e6ea}
.status-succeeded{background:#d3f0d9}.status-failed,.status-crashed,.status-error{background:#f8d3d3}
.status-running{background:#d6e6fb}.status-queued,.status-pending{background:#fbf0c8}
.status-skipped,.status-cancelled{background:#e7e7e7}.status-fenced,.status-lease_expired,.status-handed_back,.status-fault{background:#f9dfc4}
.error{color:#a11;white-space:pre-wrap;font-family:monospace;font-size:.9em}
pre,.mono{font-family:monospace;font-size:.9em;white-space:pre-wrap;margin:0}
form.filters{display:flex;gap:.8em;align-items:end;margin-bottom:1em;flex-wrap:wrap}
form.filters label{display:flex;flex-direction:column;font-size:.85em}
.pager{display:flex;gap:1em;margin:.5em 0}.muted{color:#6b7580}.stale{color:#a11;font-weight:600}
.cards{display:flex;gap:1em;flex-wrap:wrap;margin-bottom:1em}
.card{background:#fff;padding:.6em 1em;border:1px solid #e3e6ea;border-radius:6px;min-width:9em}
.card b{display:block;font-size:1.5em}svg{background:#fff;border:1px solid #e3e6ea;max-width:100%}
.problem{background:#fff3f3;border:1px solid #f0b8b8;padding:1em;border-radius:6px}
)";
}

std::string_view script() {
  return R"(// Times in the viewer's zone; optional auto-refresh (remembered per browser).
'use strict';
document.querySelectorAll('time[datetime]').forEach(function (t) {
  var d = new Date(t.getAttribute('datetime'));
  if (!isNaN(d)) { t.title = t.getAttribute('datetime'); t.textContent = d.toLocaleString(); }
});
(function () {
  var period = parseInt(document.body.dataset.refresh || '0', 10);
  var box = document.getElementById('auto-refresh');
  if (!box) return;
  if (!period) { box.parentNode.style.display = 'none'; return; }
  box.checked = localStorage.getItem('opfleet.autorefresh') !== 'off';
  box.addEventListener('change', function () {
    localStorage.setItem('opfleet.autorefresh', box.checked ? 'on' : 'off');
    if (box.checked) location.reload();
  });
  setTimeout(function () { if (box.checked) location.reload(); }, period * 1000);
})();
)";
}

}  // namespace opfleet::ui::html
