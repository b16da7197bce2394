// The load simulator's report chart: stacked time-series panels (queue depth, in-flight
// ops, workers, completions...) over one shared time axis, with the injected faults drawn
// across every panel, so a person sees at a glance what happened and when.
//
// A pure function from a spec to a standalone SVG 1.1 document: no I/O, no clock, no
// locale, so the same spec always gives the same bytes (reports can be diffed and tested).
// Every text is escaped; non-finite points are dropped; an empty panel says "no data".
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace opfleet::loadsim {

struct ChartSeries {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (t seconds since the start, value)
  std::string color;  // a CSS colour written by the caller; empty: the next palette colour
  bool step = false;  // a count that holds until the next sample (workers, depth): step line
};

struct ChartPanel {
  std::string title;
  std::string unit;  // shown after the title, e.g. "messages", "ops/s"
  std::vector<ChartSeries> series;
};

// A fault that lasts (a network partition): a shaded band over every panel.
struct ChartWindow {
  double start_s = 0;
  double end_s = 0;
  std::string label;
};

// An instant fault (a worker killed): a dashed vertical line over every panel.
struct ChartMark {
  double at_s = 0;
  std::string label;
};

struct ChartSpec {
  std::string title;
  std::string subtitle;
  double duration_s = 0;  // the time axis is [0, duration]; 0: up to the last time in the data
  std::vector<ChartPanel> panels;
  std::vector<ChartWindow> windows;
  std::vector<ChartMark> marks;
  int width = 960;         // of the whole image, in pixels
  int panel_height = 150;  // of each panel's plot area (its title and legend come on top)
};

// The chart as an SVG document (with its XML declaration), ready to be written to a file
// or served as image/svg+xml.
std::string render_svg(const ChartSpec& spec);

}  // namespace opfleet::loadsim
