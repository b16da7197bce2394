#include "ui/svg.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <ctime>

#include <fmt/format.h>

#include "ui/html.h"

namespace opfleet::ui::svg {

namespace {

constexpr double kLeft = 56, kRight = 12, kTop = 12, kBottom = 28;

// "HH:MM" UTC for axis ticks (the page's own times are localised by script; an axis
// label cannot be, so it says UTC).
std::string clock_label(double t) {
  const auto secs = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:02}:{:02}", tm.tm_hour, tm.tm_min);
}

struct Frame {
  double t0, t1, vmax;
  int width, height;
  double x(double t) const {
    const double span = t1 > t0 ? t1 - t0 : 1;
    return kLeft + (t - t0) / span * (width - kLeft - kRight);
  }
  double y(double v) const {
    const double top = vmax > 0 ? vmax : 1;
    return height - kBottom - v / top * (height - kTop - kBottom);
  }
};

std::string time_axis(const Frame& f) {
  std::string out = fmt::format(R"(<line x1="{0}" y1="{1}" x2="{2}" y2="{1}" stroke="#99a"/>)",
                                kLeft, f.height - kBottom, f.width - kRight);
  for (int i = 0; i <= 4; ++i) {
    const double t = f.t0 + (f.t1 - f.t0) * i / 4;
    // The last label ends at the right edge and names the zone.
    out += fmt::format(R"(<text x="{:.1f}" y="{}" font-size="11" text-anchor="{}">{}{}</text>)",
                       f.x(t), f.height - 10, i == 4 ? "end" : "middle", clock_label(t),
                       i == 4 ? " UTC" : "");
  }
  return out;
}

}  // namespace

std::string line_chart(const std::vector<Series>& series, double t0, double t1,
                       const std::string& y_label, int width, int height) {
  double vmax = 0;
  std::size_t points = 0;
  for (const auto& s : series) {
    for (const auto& p : s.points) vmax = std::max(vmax, p.v);
    points += s.points.size();
  }
  vmax = vmax <= 0 ? 1 : std::ceil(vmax * 1.1);
  const Frame f{t0, t1, vmax, width, height};
  std::string out = fmt::format(
      R"(<svg class="chart" role="img" viewBox="0 0 {0} {1}" width="{0}" height="{1}" xmlns="http://www.w3.org/2000/svg">)",
      width, height);
  out += time_axis(f);
  for (int i = 0; i <= 2; ++i) {
    const double v = vmax * i / 2;
    out += fmt::format(
        R"(<line x1="{0}" y1="{1:.1f}" x2="{2}" y2="{1:.1f}" stroke="#e3e6ea"/><text x="{3}" y="{4:.1f}" font-size="11" text-anchor="end">{5}</text>)",
        kLeft, f.y(v), width - kRight, kLeft - 4, f.y(v) + 4, fmt::format("{:g}", v));
  }
  out += fmt::format(
      R"svg(<text x="12" y="{}" font-size="11" transform="rotate(-90 12 {})" text-anchor="middle">{}</text>)svg",
      height / 2, height / 2, html::escape(y_label));
  if (points == 0) {
    out += fmt::format(
        R"(<text x="{}" y="{}" font-size="13" text-anchor="middle" fill="#6b7580">no samples in this window</text>)",
        width / 2, height / 2);
  }
  double legend_x = kLeft + 8;
  for (const auto& s : series) {
    if (!s.points.empty()) {
      std::string path;
      for (const auto& p : s.points) {
        path += fmt::format("{}{:.1f},{:.1f}", path.empty() ? "M" : " L", f.x(p.t), f.y(p.v));
      }
      out += fmt::format(R"(<path d="{}" fill="none" stroke="{}" stroke-width="1.8"/>)", path,
                         s.color);
    }
    out += fmt::format(
        R"(<rect x="{0:.0f}" y="{1}" width="10" height="10" fill="{2}"/><text x="{3:.0f}" y="{4}" font-size="11">{5}</text>)",
        legend_x, kTop, s.color, legend_x + 14, kTop + 9, html::escape(s.name));
    legend_x += 24 + 7.0 * static_cast<double>(s.name.size());
  }
  out += "</svg>";
  return out;
}

std::string timeline(const std::vector<Mark>& marks, const std::vector<Point>& level, double t0,
                     double t1, int width, int height) {
  static constexpr std::array<std::pair<const char*, const char*>, 4> kLanes = {
      {{"decision", "#4a7fd4"}, {"action", "#2e9a50"}, {"fault", "#e08a1e"}, {"error", "#c33"}}};
  double vmax = 1;
  for (const auto& p : level) vmax = std::max(vmax, p.v);
  const double lane_h = 18;
  const double chart_bottom = height - kBottom - lane_h * static_cast<double>(kLanes.size());
  const Frame level_frame{t0, t1, std::ceil(vmax * 1.2), width,
                          static_cast<int>(chart_bottom + kBottom)};
  const Frame f{t0, t1, 1, width, height};
  std::string out = fmt::format(
      R"(<svg class="chart timeline" role="img" viewBox="0 0 {0} {1}" width="{0}" height="{1}" xmlns="http://www.w3.org/2000/svg">)",
      width, height);
  out += time_axis(f);
  out += fmt::format(
      R"(<text x="{}" y="{}" font-size="11" text-anchor="end">{:g}</text><text x="{}" y="{:.1f}" font-size="11" text-anchor="end">workers</text>)",
      kLeft - 4, kTop + 10, level_frame.vmax, kLeft - 4, kTop + 24.0);
  if (!level.empty()) {
    std::string path;
    double prev_y = 0;
    for (const auto& p : level) {
      const double x = level_frame.x(p.t);
      const double y = level_frame.y(p.v);
      path += path.empty() ? fmt::format("M{:.1f},{:.1f}", x, y)
                           : fmt::format(" L{:.1f},{:.1f} L{:.1f},{:.1f}", x, prev_y, x, y);
      prev_y = y;
    }
    path += fmt::format(" L{:.1f},{:.1f}", level_frame.x(t1), prev_y);
    out += fmt::format(R"(<path d="{}" fill="none" stroke="#2e9a50" stroke-width="2"/>)", path);
  }
  for (std::size_t i = 0; i < kLanes.size(); ++i) {
    const double y = chart_bottom + lane_h * static_cast<double>(i) + lane_h / 2;
    out += fmt::format(
        R"(<text x="{}" y="{:.1f}" font-size="11" text-anchor="end">{}</text><line x1="{}" y1="{:.1f}" x2="{}" y2="{:.1f}" stroke="#eef0f3"/>)",
        kLeft - 4, y + 4, kLanes[i].first, kLeft, y, width - kRight, y);
    for (const auto& m : marks) {
      if (m.kind != kLanes[i].first) continue;
      out += fmt::format(
          R"(<circle class="mark mark-{}" cx="{:.1f}" cy="{:.1f}" r="5" fill="{}"><title>{}</title></circle>)",
          kLanes[i].first, f.x(m.t), y, kLanes[i].second, html::escape(m.label));
    }
  }
  out += "</svg>";
  return out;
}

}  // namespace opfleet::ui::svg
