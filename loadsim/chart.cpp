#include "loadsim/chart.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <iterator>
#include <string_view>

#include <fmt/format.h>

namespace opfleet::loadsim {

namespace {

// Layout in pixels. Text widths are estimated (no font metrics in a pure function): an
// average sans-serif glyph is about 0.6 em wide, enough to place legends and to keep
// fault labels apart.
constexpr double kLeft = 56;              // y tick labels
constexpr double kRight = 24;             // half of the last time label
constexpr double kLabelRow = 14;          // one row of fault labels above the panels
constexpr std::size_t kMaxLabelRows = 4;  // beyond this, labels share the least crowded row
constexpr double kLegendRow = 18;         // panel title and legend
constexpr double kPanelGap = 12;
constexpr double kTimeLabels = 26;  // under the last panel
constexpr double kMinTickGap = 75;  // between time labels
constexpr double kGlyph = 0.6;

// Values this large cannot be a count, a rate or a latency; dropping them like the
// non-finite ones keeps all axis arithmetic finite.
constexpr double kMaxMagnitude = 1e15;
// Coordinates far outside the image (points past the time range) are clamped before
// rounding; the clip path hides them anyway.
constexpr double kMaxCoordinate = 1e6;

// Okabe-Ito colours, told apart with the common colour-vision deficiencies. Vermillion is
// left out because faults are red; yellow comes last because it is faint on white.
constexpr std::array<std::string_view, 7> kPalette = {"#0072B2", "#E69F00", "#009E73", "#CC79A7",
                                                      "#56B4E9", "#000000", "#F0E442"};
constexpr std::string_view kFault = "#CC3311";
constexpr std::string_view kBand = R"(fill="#CC3311" fill-opacity="0.13")";

bool continuation(std::string_view s, std::size_t i) {
  return i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80;
}

// The length of the well-formed UTF-8 sequence at s[i] that XML 1.0 may carry, or 0.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto lead = static_cast<unsigned char>(s[i]);
  const auto second = i + 1 < s.size() ? static_cast<unsigned char>(s[i + 1]) : 0U;
  std::size_t len = 0;
  unsigned lo = 0x80, hi = 0xBF;  // the second byte's range excludes overlongs and surrogates
  if (lead >= 0xC2 && lead <= 0xDF) len = 2;
  if (lead >= 0xE0 && lead <= 0xEF) len = 3;
  if (lead >= 0xF0 && lead <= 0xF4) len = 4;
  if (lead == 0xE0) lo = 0xA0;
  if (lead == 0xED) hi = 0x9F;
  if (lead == 0xF0) lo = 0x90;
  if (lead == 0xF4) hi = 0x8F;
  if (len == 0 || second < lo || second > hi) return 0;
  for (std::size_t k = 2; k < len; ++k) {
    if (!continuation(s, i + k)) return 0;
  }
  // U+FFFE and U+FFFF are not XML characters.
  if (lead == 0xEF && second == 0xBF && static_cast<unsigned char>(s[i + 2]) >= 0xBE) return 0;
  return len;
}

// For element content and quoted attributes alike (&#39;, not &apos;: the SVG may be
// inlined in HTML). Labels come from scenario files, so what XML cannot carry (control
// characters, malformed UTF-8) becomes U+FFFD rather than a document a browser refuses.
std::string escape(std::string_view s) {
  constexpr std::string_view kSpecial = "&<>\"'\t\n\r";
  constexpr std::array<std::string_view, 8> kReplacement = {"&amp;", "&lt;", "&gt;", "&quot;",
                                                            "&#39;", " ",    " ",    " "};
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t special = kSpecial.find(s[i]);
    const std::size_t len = c >= 0x80 ? utf8_length(s, i) : 1;
    if (special != std::string_view::npos) {
      out += kReplacement[special];
    } else if (len == 0 || c < 0x20) {
      out += "\xEF\xBF\xBD";
    } else {
      out += s.substr(i, len);
    }
    i += std::max<std::size_t>(len, 1);
  }
  return out;
}

double text_width(std::string_view s, double font_size) {
  std::size_t glyphs = 0;
  for (std::size_t i = 0; i < s.size(); ++i) glyphs += continuation(s, i) ? 0 : 1;
  return static_cast<double>(glyphs) * font_size * kGlyph;
}

long long tenths(double v) {
  return std::llround(std::clamp(v, -kMaxCoordinate, kMaxCoordinate) * 10);
}

// One decimal, no "-0", no trailing ".0": coordinates are the bulk of the document.
std::string fmt_tenths(long long t) {
  if (t % 10 == 0) return fmt::format("{}", t / 10);
  return fmt::format("{}{}.{}", t < 0 ? "-" : "", std::llabs(t) / 10, std::llabs(t) % 10);
}

std::string num(double v) {
  return fmt_tenths(tenths(v));
}

// The smallest of 1, 2, 5 x 10^k that is at least `raw` (> 0).
double nice_step(double raw) {
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  for (const double f : {1.0, 2.0, 5.0}) {
    if (f * p >= raw * (1 - 1e-9)) return f * p;
  }
  return 10 * p;
}

int decimals(double step) {
  return step >= 1 ? 0 : static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
}

// "0.50" -> "0.5", "2.0" -> "2": tick labels as short as their step allows.
std::string fixed(double v, int places) {
  std::string s = fmt::format("{:.{}f}", v, places);
  if (places > 0) {
    s.erase(s.find_last_not_of('0') + 1);
    if (s.back() == '.') s.pop_back();
  }
  return s == "-0" ? "0" : s;
}

std::string value_label(double v, double step) {
  if (v == 0) return "0";
  if (step >= 1e6) return fixed(v / 1e6, decimals(step / 1e6)) + "M";
  if (step >= 1e3) return fixed(v / 1e3, decimals(step / 1e3)) + "k";
  return fixed(v, decimals(step));
}

// 1/2/5 x 10^k up to ten seconds, then steps a clock reader expects, then whole days.
double time_step(double duration, double max_ticks) {
  const double raw = duration / max_ticks;
  if (nice_step(raw) <= 10) return nice_step(raw);
  for (const double s : {15., 30., 60., 120., 300., 600., 900., 1800., 3600., 7200., 10800., 21600.,
                         43200., 86400.}) {
    if (s >= raw) return s;
  }
  return 86400 * nice_step(raw / 86400);
}

// "0s", "45s", "1m30s", "2h", "1d6h"; fractions of a second when the step has them.
std::string time_label(double t, double step) {
  if (step < 1) return fixed(t, decimals(step)) + "s";
  const long long s = std::llround(t);
  std::string out;
  if (s >= 86400) out += fmt::format("{}d", s / 86400);
  if (s / 3600 % 24 != 0) out += fmt::format("{}h", s / 3600 % 24);
  if (s / 60 % 60 != 0) out += fmt::format("{}m", s / 60 % 60);
  if (s % 60 != 0 || out.empty()) out += fmt::format("{}s", s % 60);
  return out;
}

struct Sample {
  double t = 0;
  double v = 0;
};

// A panel's y axis: lo..hi in steps, from zero (or below, for negative data) to a nice
// value at or above the data; whole-number steps when every value is a whole number.
struct Axis {
  double lo = 0;
  double hi = 1;
  double step = 1;
};

Axis value_axis(double min, double max, bool integral) {
  Axis a;
  a.lo = std::min(0.0, min);
  a.hi = std::max(0.0, max);
  if (a.hi - a.lo <= 0) a.hi = a.lo + 1;
  a.step = nice_step((a.hi - a.lo) / 5);
  if (integral) a.step = std::max(a.step, 1.0);
  a.lo = a.step * std::floor(a.lo / a.step + 1e-9);
  a.hi = a.step * std::ceil(a.hi / a.step - 1e-9);
  return a;
}

struct Panel {
  const ChartPanel* source = nullptr;
  std::vector<std::vector<Sample>> series;  // finite samples, ordered by time
  Axis axis;
  bool empty = true;  // nothing to draw in the time range
};

// Vertices in tenths of a pixel. Repeats are dropped and straight horizontal or vertical
// runs merged: no pixel changes, but a steady worker count costs two vertices, not one per
// sample.
class Polyline {
 public:
  void add(double x, double y) {
    const Vertex v{tenths(x), tenths(y)};
    if (!v_.empty() && v_.back() == v) return;
    if (v_.size() >= 2) {
      const Vertex& a = v_[v_.size() - 2];
      const Vertex& b = v_.back();
      const bool horizontal = a.y == b.y && b.y == v.y && (a.x <= b.x) == (b.x <= v.x);
      const bool vertical = a.x == b.x && b.x == v.x && (a.y <= b.y) == (b.y <= v.y);
      if (horizontal || vertical) v_.pop_back();
    }
    v_.push_back(v);
  }
  std::size_t size() const { return v_.size(); }
  std::string points() const {
    std::string out;
    for (const Vertex& v : v_) {
      out += fmt::format("{}{},{}", out.empty() ? "" : " ", fmt_tenths(v.x), fmt_tenths(v.y));
    }
    return out;
  }

 private:
  struct Vertex {
    long long x, y;
    bool operator==(const Vertex&) const = default;
  };
  std::vector<Vertex> v_;
};

struct Label {
  double x = 0;    // the window's start or the mark's time, in pixels
  double end = 0;  // the window's end (== x for a mark)
  std::string text;
  bool is_window = false;
  int row = 0;
  bool anchor_end = false;  // written leftwards: no room on the right
};

class Renderer {
 public:
  explicit Renderer(const ChartSpec& spec)
      : spec_(spec),
        width_(std::clamp(spec.width, 320, 20000)),
        plot_h_(std::clamp(spec.panel_height, 40, 4000)),
        plot_w_(width_ - kLeft - kRight) {}

  std::string render() {
    prepare();
    double y = 10;
    std::string body;
    if (!spec_.title.empty()) {
      body += fmt::format(R"(<text x="{}" y="{}" font-size="16" font-weight="bold">{}</text>)",
                          kLeft, y + 14, escape(spec_.title));
      y += 22;
    }
    if (!spec_.subtitle.empty()) {
      body += fmt::format(R"(<text x="{}" y="{}" font-size="12" fill="#555">{}</text>)", kLeft,
                          y + 11, escape(spec_.subtitle));
      y += 18;
    }
    if (y > 10) y += 6;
    y = fault_labels(body, y);
    for (std::size_t i = 0; i < panels_.size(); ++i) {
      y = panel(body, i, y);
      y += i + 1 < panels_.size() ? kPanelGap : 0;
    }
    time_labels(body, y);
    const int height = static_cast<int>(std::ceil(y + kTimeLabels));
    std::string title = escape(spec_.title.empty() ? std::string("load simulation") : spec_.title);
    return fmt::format(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        R"(<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{0}" height="{1}" )"
        R"(viewBox="0 0 {0} {1}" font-family="sans-serif" font-size="11">)"
        "\n<title>{2}</title>\n"
        R"(<rect width="{0}" height="{1}" fill="#fff"/>)"
        "\n{3}</svg>\n",
        width_, height, title, body);
  }

 private:
  double x_of(double t) const { return kLeft + t / duration_ * plot_w_; }
  double y_of(const Axis& a, double v, double top) const {
    return top + (a.hi - v) / (a.hi - a.lo) * plot_h_;
  }
  double tick_step() const {
    return time_step(duration_, std::max(2.0, std::floor(plot_w_ / kMinTickGap)));
  }
  std::vector<double> time_ticks() const {
    const double step = tick_step();
    std::vector<double> ticks;
    for (int i = 0; i * step <= duration_ * (1 + 1e-9); ++i) ticks.push_back(i * step);
    return ticks;
  }

  void prepare() {
    static const ChartPanel kNoPanel;
    std::vector<const ChartPanel*> sources;
    for (const ChartPanel& p : spec_.panels) sources.push_back(&p);
    if (sources.empty()) sources.push_back(&kNoPanel);  // still an axis and "no data"
    double last = 0;
    const auto usable = [](double d) { return std::isfinite(d) && std::abs(d) <= kMaxMagnitude; };
    for (const ChartPanel* src : sources) {
      Panel& p = panels_.emplace_back();
      p.source = src;
      for (const ChartSeries& s : src->series) {
        auto& samples = p.series.emplace_back();
        for (const auto& [t, v] : s.points) {
          if (usable(t) && usable(v)) samples.push_back({t, v});
        }
        std::stable_sort(samples.begin(), samples.end(),
                         [](const Sample& a, const Sample& b) { return a.t < b.t; });
        if (!samples.empty()) last = std::max(last, samples.back().t);
      }
    }
    for (const ChartWindow& w : spec_.windows) {
      if (usable(w.start_s) && usable(w.end_s)) last = std::max({last, w.start_s, w.end_s});
    }
    for (const ChartMark& m : spec_.marks) {
      if (usable(m.at_s)) last = std::max(last, m.at_s);
    }
    duration_ =
        usable(spec_.duration_s) && spec_.duration_s > 0 ? spec_.duration_s : (last > 0 ? last : 1);
    // Only what falls in the time range sizes the y axis.
    for (Panel& p : panels_) {
      double lo = 0, hi = 0;
      bool integral = true;
      for (const auto& samples : p.series) {
        for (const Sample& s : samples) {
          if (s.t < 0 || s.t > duration_) continue;
          lo = p.empty ? s.v : std::min(lo, s.v);
          hi = p.empty ? s.v : std::max(hi, s.v);
          integral = integral && s.v == std::floor(s.v);
          p.empty = false;
        }
      }
      p.axis = value_axis(lo, hi, integral);
    }
  }

  // The fault labels, once, above the panels: each in the first row where it does not run
  // into the previous label, so close marks stagger instead of overprinting.
  double fault_labels(std::string& out, double top) {
    for (const ChartWindow& w : spec_.windows) {
      const double a = std::min(w.start_s, w.end_s), b = std::max(w.start_s, w.end_s);
      if (!std::isfinite(a) || !std::isfinite(b) || b < 0 || a > duration_) continue;
      const double xa = x_of(std::max(a, 0.0)), xb = x_of(std::min(b, duration_));
      labels_.push_back({xa, std::max(xb, xa + 1), w.label, true});  // at least a pixel wide
    }
    for (const ChartMark& m : spec_.marks) {
      if (std::isfinite(m.at_s) && m.at_s >= 0 && m.at_s <= duration_) {
        labels_.push_back({x_of(m.at_s), x_of(m.at_s), m.label, false});
      }
    }
    std::stable_sort(labels_.begin(), labels_.end(),
                     [](const Label& a, const Label& b) { return a.x < b.x; });
    std::vector<double> row_end;
    for (Label& l : labels_) {
      const double w = text_width(l.text, 10.5) + 3;
      // Near the right edge a label ends where its window or mark does.
      l.anchor_end = l.x + w > width_ - 2;
      const double from = l.anchor_end ? std::min(l.x, l.end - w) : l.x;
      const double to = std::max(l.end, l.anchor_end ? l.end : l.x + w);
      auto row =
          std::find_if(row_end.begin(), row_end.end(), [&](double end) { return end + 6 <= from; });
      if (row == row_end.end() && row_end.size() < kMaxLabelRows) {
        row = row_end.insert(row_end.end(), to);
      } else if (row == row_end.end()) {
        row = std::min_element(row_end.begin(), row_end.end());
      }
      *row = std::max(*row, to);
      l.row = static_cast<int>(row - row_end.begin());
    }
    const double bottom = top + static_cast<double>(row_end.size()) * kLabelRow;
    std::string bands, lines, texts;
    for (const Label& l : labels_) {
      const double row_top = top + l.row * kLabelRow;
      if (l.is_window) {
        bands += fmt::format(R"(<rect x="{}" y="{}" width="{}" height="{}"/>)", num(l.x),
                             num(row_top), num(l.end - l.x), num(bottom - row_top));
      } else {
        lines += fmt::format("M{} {}V{}", num(l.x), num(row_top + 2), num(bottom));
      }
      texts += fmt::format(R"(<text x="{}" y="{}"{}>{}</text>)",
                           num(l.anchor_end ? l.end - 3 : l.x + 3), num(row_top + 10.5),
                           l.anchor_end ? R"( text-anchor="end")" : "", escape(l.text));
    }
    if (!labels_.empty()) {
      out += fmt::format(R"(<g class="faults"><g {}>{}</g>)", kBand, bands);
      if (!lines.empty()) {
        out += fmt::format(R"(<path d="{}" stroke="{}" stroke-dasharray="3 2" fill="none"/>)",
                           lines, kFault);
      }
      out += fmt::format(R"(<g font-size="10.5" fill="{}">{}</g></g>)", kFault, texts);
    }
    return labels_.empty() ? top : bottom + 4;
  }

  // One panel: title and legend, then the plot; returns the plot's bottom.
  double panel(std::string& out, std::size_t index, double top) {
    const Panel& p = panels_[index];
    const ChartPanel& src = *p.source;
    out += R"(<g class="panel">)";
    std::string title = escape(src.title);
    double x = kLeft + text_width(src.title, 12.5);
    if (!src.unit.empty()) {
      // The space outside the tspan: renderers may trim it at the start of one.
      title +=
          fmt::format(R"( <tspan font-weight="normal" fill="#666">({})</tspan>)", escape(src.unit));
      x += text_width(src.unit, 12) + 10;
    }
    out += fmt::format(R"(<text x="{}" y="{}" font-size="12" font-weight="bold">{}</text>)", kLeft,
                       num(top + 13), title);

    // The legend follows the title and wraps under it when the row is full.
    std::vector<std::string> colors;
    std::size_t next_color = 0;
    std::string legend;
    double row_top = top;
    x += src.title.empty() && src.unit.empty() ? 0 : 20;
    for (const ChartSeries& s : src.series) {
      colors.push_back(!s.color.empty() ? escape(s.color)
                                        : std::string(kPalette[next_color++ % kPalette.size()]));
      const double w = 20 + text_width(s.name, 11) + 16;
      if (x + w > width_ - kRight && x > kLeft) {
        x = kLeft;
        row_top += kLegendRow;
      }
      legend += fmt::format(
          R"(<path d="M{} {}h14" stroke="{}" stroke-width="3"/><text x="{}" y="{}">{}</text>)",
          num(x), num(row_top + 9), colors.back(), num(x + 20), num(row_top + 13), escape(s.name));
      x += w;
    }
    if (!legend.empty()) out += fmt::format(R"(<g class="legend">{}</g>)", legend);

    const double plot_top = row_top + kLegendRow + 2;
    const double bottom = plot_top + plot_h_;
    const double right = width_ - kRight;
    out +=
        fmt::format(R"(<rect class="plot" x="{}" y="{}" width="{}" height="{}" fill="#f8f8f8"/>)",
                    kLeft, num(plot_top), num(plot_w_), plot_h_);

    std::string bands;
    for (const Label& l : labels_) {
      if (l.is_window) {
        bands += fmt::format(R"(<rect class="window" x="{}" y="{}" width="{}" height="{}"/>)",
                             num(l.x), num(plot_top), num(l.end - l.x), plot_h_);
      }
    }
    if (!bands.empty()) out += fmt::format("<g {}>{}</g>", kBand, bands);

    // Grid: a line per value tick and per time tick; the tick labels on the left.
    const Axis& a = p.axis;
    std::string grid, ticks;
    const int n = static_cast<int>(std::lround((a.hi - a.lo) / a.step));
    for (int i = 0; i <= n; ++i) {
      const double v = a.lo + i * a.step;
      const double yv = y_of(a, v, plot_top);
      grid += fmt::format("M{} {}H{}", kLeft, num(yv), num(right));
      ticks += fmt::format(R"(<text x="{}" y="{}">{}</text>)", kLeft - 6, num(yv + 3.5),
                           value_label(v, a.step));
    }
    for (const double t : time_ticks()) {
      grid += fmt::format("M{} {}V{}", num(x_of(t)), num(plot_top), num(bottom));
    }
    out += fmt::format(R"(<path d="{}" stroke="#e0e0e0" fill="none"/>)", grid);
    out += fmt::format(R"(<g class="yticks" font-size="10" fill="#555" text-anchor="end">{}</g>)",
                       ticks);

    std::string marks;
    for (const Label& l : labels_) {
      if (!l.is_window) marks += fmt::format("M{} {}V{}", num(l.x), num(plot_top), num(bottom));
    }
    if (!marks.empty()) {
      out += fmt::format(
          R"(<path class="marks" d="{}" stroke="{}" stroke-dasharray="4 3" fill="none"/>)", marks,
          kFault);
    }
    out += fmt::format(R"(<path d="M{0} {1}V{2}M{0} {3}H{4}" stroke="#888" fill="none"/>)", kLeft,
                       num(plot_top), num(bottom), num(y_of(a, 0, plot_top)), num(right));

    if (p.empty) {
      out += fmt::format(R"(<text x="{}" y="{}" text-anchor="middle" font-size="12" )"
                         R"(fill="#999">no data</text>)",
                         num(kLeft + plot_w_ / 2), num(plot_top + plot_h_ / 2.0 + 4));
    } else {
      series(out, index, plot_top, colors);
    }
    out += "</g>\n";
    return bottom;
  }

  // The lines, clipped to the plot (points past the time range run off its edge); one
  // element per series, a dot for a series of one sample.
  void series(std::string& out, std::size_t index, double top,
              const std::vector<std::string>& colors) const {
    const Panel& p = panels_[index];
    // 2 px of slack so a line along the top or the bottom is not cut in half.
    out += fmt::format(
        R"(<defs><clipPath id="plot{0}"><rect x="{1}" y="{2}" width="{3}" height="{4}"/>)"
        R"svg(</clipPath></defs><g clip-path="url(#plot{0})" fill="none" stroke-width="1.8" )svg"
        R"(stroke-linejoin="round" stroke-linecap="round">)",
        index, kLeft - 2, num(top - 2), num(plot_w_ + 4), plot_h_ + 4);
    for (std::size_t i = 0; i < p.series.size(); ++i) {
      Polyline line;
      const bool step = p.source->series[i].step;
      const std::vector<Sample>& samples = p.series[i];
      for (std::size_t k = 0; k < samples.size(); ++k) {
        const double x = x_of(samples[k].t);
        if (step && k > 0) line.add(x, y_of(p.axis, samples[k - 1].v, top));
        line.add(x, y_of(p.axis, samples[k].v, top));
      }
      if (line.size() == 1) {
        const std::string xy = line.points();
        const std::size_t comma = xy.find(',');
        out += fmt::format(R"(<circle cx="{}" cy="{}" r="2.5" fill="{}"/>)", xy.substr(0, comma),
                           xy.substr(comma + 1), colors[i]);
      } else if (line.size() > 1) {
        out += fmt::format(R"(<polyline class="series" stroke="{}" points="{}"/>)", colors[i],
                           line.points());
      }
    }
    out += "</g>";
  }

  void time_labels(std::string& out, double bottom) const {
    const double step = tick_step();
    std::string texts;
    for (const double t : time_ticks()) {
      texts += fmt::format(R"(<text x="{}" y="{}">{}</text>)", num(x_of(t)), num(bottom + 15),
                           time_label(t, step));
    }
    out += fmt::format(R"(<g class="time" font-size="10" fill="#555" text-anchor="middle">{}</g>)"
                       "\n",
                       texts);
  }

  const ChartSpec& spec_;
  int width_;
  int plot_h_;
  double plot_w_;
  double duration_ = 1;
  std::vector<Panel> panels_;
  std::vector<Label> labels_;
};

}  // namespace

std::string render_svg(const ChartSpec& spec) {
  return Renderer(spec).render();
}

}  // namespace opfleet::loadsim
