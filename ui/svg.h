// Charts as inline SVG, rendered on the server: no JavaScript library, nothing to load,
// and the page reads the same with scripts off. Labels are escaped like any other text.
#pragma once

#include <string>
#include <vector>

namespace opfleet::ui::svg {

struct Point {
  double t = 0;  // seconds since the epoch
  double v = 0;
};

struct Series {
  std::string name;
  std::string color;  // a CSS color written by the code, never from data
  std::vector<Point> points;
};

// A line chart of `series` over [t0, t1], y from 0 to the largest value. An empty
// chart says "no samples in this window".
std::string line_chart(const std::vector<Series>& series, double t0, double t1,
                       const std::string& y_label, int width = 960, int height = 220);

struct Mark {
  double t = 0;
  std::string kind;   // decision, action, fault, error: the lane and colour
  std::string label;  // tooltip text
};

// One lane per kind over [t0, t1], a dot per mark with its label as a tooltip; `level`
// (e.g. the worker count after each action) is drawn as a step line above the lanes.
std::string timeline(const std::vector<Mark>& marks, const std::vector<Point>& level, double t0,
                     double t1, int width = 960, int height = 240);

}  // namespace opfleet::ui::svg
