// The report chart: a well-formed standalone SVG, escaped text, values and times mapped to
// the pixels they should land on, fault windows and marks across every panel, empty and
// non-finite data, deterministic and compact output. SampleChart writes a realistic chart
// next to the test binary (loadsim-chart-sample.svg) for a person to look at.
#include "loadsim/chart.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace opfleet::loadsim {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// --- A small XML reader: enough to reject what is not well-formed and to query the result.

struct Element {
  std::string name;
  std::map<std::string, std::string> attrs;
  std::string text;  // the element's own character data, entities decoded
  std::vector<Element> children;

  std::string attr(const std::string& key) const {
    const auto it = attrs.find(key);
    return it == attrs.end() ? "" : it->second;
  }
  double number(const std::string& key) const { return std::stod(attr(key)); }
  // Its text and its descendants' (a <text> with a <tspan>).
  std::string all_text() const {
    std::string out = text;
    for (const Element& c : children) out += c.all_text();
    return out;
  }
};

class XmlReader {
 public:
  explicit XmlReader(std::string_view doc) : s_(doc) {}

  Element document() {
    check_characters();
    if (s_.starts_with("<?xml")) skip_past("?>");
    skip_space();
    Element root = element();
    skip_space();
    if (pos_ != s_.size()) error("content after the root element");
    return root;
  }

 private:
  [[noreturn]] void error(const std::string& what) const {
    throw std::runtime_error(what + " at offset " + std::to_string(pos_));
  }

  // XML 1.0 characters only: well-formed UTF-8, no control characters but tab and newlines.
  void check_characters() const {
    for (std::size_t i = 0; i < s_.size();) {
      const auto c = static_cast<unsigned char>(s_[i]);
      if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') throw std::runtime_error("control char");
      std::size_t len = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
      if (len == 0 || i + len > s_.size()) throw std::runtime_error("bad UTF-8");
      for (std::size_t k = 1; k < len; ++k) {
        if ((static_cast<unsigned char>(s_[i + k]) & 0xC0) != 0x80) {
          throw std::runtime_error("bad UTF-8");
        }
      }
      i += len;
    }
  }

  void skip_space() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  void skip_past(std::string_view end) {
    const std::size_t at = s_.find(end, pos_);
    if (at == std::string_view::npos) error("unterminated");
    pos_ = at + end.size();
  }
  void expect(char c) {
    if (pos_ >= s_.size() || s_[pos_] != c) error(std::string("expected '") + c + "'");
    ++pos_;
  }
  std::string name() {
    const std::size_t start = pos_;
    while (pos_ < s_.size() &&
           (std::isalnum(static_cast<unsigned char>(s_[pos_])) ||
            std::string_view("_:-.").find(s_[pos_]) != std::string_view::npos)) {
      ++pos_;
    }
    if (pos_ == start || std::isdigit(static_cast<unsigned char>(s_[start]))) error("bad name");
    return std::string(s_.substr(start, pos_ - start));
  }
  // Character data up to `stop`, with the predefined and numeric entities decoded.
  std::string chars(char stop) {
    std::string out;
    while (pos_ < s_.size() && s_[pos_] != stop) {
      const char c = s_[pos_];
      if (c == '<') error("raw '<'");
      if (c != '&') {
        out += c;
        ++pos_;
        continue;
      }
      const std::size_t semi = s_.find(';', pos_);
      if (semi == std::string_view::npos) error("raw '&'");
      const std::string_view entity = s_.substr(pos_ + 1, semi - pos_ - 1);
      static const std::map<std::string_view, char> kNamed = {
          {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}};
      if (const auto it = kNamed.find(entity); it != kNamed.end()) {
        out += it->second;
      } else if (entity.size() > 1 && entity[0] == '#' &&
                 entity.find_first_not_of("0123456789", 1) == std::string_view::npos) {
        const long code = std::stol(std::string(entity.substr(1)));
        if (code <= 0 || code > 0x7F) error("numeric entity beyond ASCII");
        out += static_cast<char>(code);
      } else {
        error("unknown entity");
      }
      pos_ = semi + 1;
    }
    return out;
  }

  Element element() {
    expect('<');
    Element e;
    e.name = name();
    while (true) {
      const std::size_t before = pos_;
      skip_space();
      if (pos_ < s_.size() && (s_[pos_] == '/' || s_[pos_] == '>')) break;
      if (pos_ == before) error("no space before attribute");
      const std::string key = name();
      expect('=');
      const char quote = pos_ < s_.size() ? s_[pos_] : '\0';
      if (quote != '"' && quote != '\'') error("unquoted attribute");
      ++pos_;
      std::string value = chars(quote);
      expect(quote);
      if (!e.attrs.emplace(key, std::move(value)).second) error("duplicate attribute " + key);
    }
    if (s_[pos_] == '/') {
      ++pos_;
      expect('>');
      return e;
    }
    expect('>');
    while (true) {
      e.text += chars('<');
      if (pos_ >= s_.size()) error("unclosed <" + e.name + ">");
      if (s_.substr(pos_, 4) == "<!--") {
        skip_past("-->");
      } else if (s_.substr(pos_, 2) == "</") {
        pos_ += 2;
        if (name() != e.name) error("mismatched </...> for <" + e.name + ">");
        skip_space();
        expect('>');
        return e;
      } else {
        e.children.push_back(element());
      }
    }
  }

  std::string_view s_;
  std::size_t pos_ = 0;
};

Element parse(const std::string& svg) {
  return XmlReader(svg).document();
}

void collect(const Element& e, const std::function<bool(const Element&)>& match,
             std::vector<const Element*>& out) {
  if (match(e)) out.push_back(&e);
  for (const Element& c : e.children) collect(c, match, out);
}

std::vector<const Element*> find(const Element& root, const std::string& name,
                                 const std::string& cls = "") {
  std::vector<const Element*> out;
  collect(
      root,
      [&](const Element& e) { return e.name == name && (cls.empty() || e.attr("class") == cls); },
      out);
  return out;
}

// Every <text> in document order.
std::vector<std::string> texts(const Element& root) {
  std::vector<std::string> out;
  for (const Element* e : find(root, "text")) out.push_back(e->all_text());
  return out;
}

int count(const std::vector<std::string>& items, const std::string& wanted) {
  return static_cast<int>(std::count(items.begin(), items.end(), wanted));
}

// The texts inside the first <g> of a class (tick labels).
std::vector<std::string> group_texts(const Element& root, const std::string& cls) {
  const auto groups = find(root, "g", cls);
  if (groups.empty()) return {};
  return texts(*groups.front());
}

struct Point {
  double x, y;
};

std::vector<Point> points(const Element& polyline) {
  std::vector<Point> out;
  std::istringstream in(polyline.attr("points"));
  std::string pair;
  while (in >> pair) {
    const std::size_t comma = pair.find(',');
    out.push_back({std::stod(pair.substr(0, comma)), std::stod(pair.substr(comma + 1))});
  }
  return out;
}

struct Rect {
  double x, y, w, h;
};

Rect rect(const Element& e) {
  return {e.number("x"), e.number("y"), e.number("width"), e.number("height")};
}

// The vertical lines "Mx y1Vy2" of a path.
struct VLine {
  double x, y1, y2;
};

std::vector<VLine> vlines(const std::string& d) {
  std::vector<VLine> out;
  for (std::size_t at = d.find('M'); at != std::string::npos; at = d.find('M', at + 1)) {
    const std::size_t space = d.find(' ', at);
    const std::size_t v = d.find('V', at);
    out.push_back(
        {std::stod(d.substr(at + 1)), std::stod(d.substr(space + 1)), std::stod(d.substr(v + 1))});
  }
  return out;
}

ChartSpec one_series(std::vector<std::pair<double, double>> pts, double duration,
                     bool step = false) {
  ChartSpec spec;
  spec.duration_s = duration;
  spec.panels.push_back({"Queue depth", "messages", {{"depth", std::move(pts), "", step}}});
  return spec;
}

// Rounded to a tenth of a pixel, so a coordinate is within 0.05 of the exact one (and the
// plot rectangle's too).
constexpr double kTol = 0.11;

// --- Tests.

TEST(ChartTest, IsAStandaloneSvgDocument) {
  ChartSpec spec = one_series({{0, 1}, {10, 2}}, 10);
  spec.title = "steady";
  spec.width = 800;
  const std::string svg = render_svg(spec);
  ASSERT_TRUE(svg.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")) << svg;
  const Element root = parse(svg);
  EXPECT_EQ(root.name, "svg");
  EXPECT_EQ(root.attr("xmlns"), "http://www.w3.org/2000/svg");
  EXPECT_EQ(root.attr("version"), "1.1");
  EXPECT_EQ(root.attr("width"), "800");
  const int height = std::stoi(root.attr("height"));
  EXPECT_GT(height, 150);
  EXPECT_EQ(root.attr("viewBox"), "0 0 800 " + std::to_string(height));
  EXPECT_EQ(root.attr("font-family"), "sans-serif");
  ASSERT_FALSE(root.children.empty());
  EXPECT_EQ(root.children[0].name, "title");
  EXPECT_EQ(root.children[0].text, "steady");
  // A white background covering the whole image, drawn first.
  ASSERT_GE(root.children.size(), 2U);
  EXPECT_EQ(root.children[1].name, "rect");
  EXPECT_EQ(root.children[1].attr("fill"), "#fff");
  EXPECT_EQ(root.children[1].attr("width"), "800");
  EXPECT_EQ(root.children[1].attr("height"), std::to_string(height));
}

TEST(ChartTest, ReaderRejectsMalformedXml) {
  // The checker itself must be able to fail, or the tests above prove nothing.
  EXPECT_THROW(parse("<svg><g></svg>"), std::runtime_error);
  EXPECT_THROW(parse("<svg><text>a < b</text></svg>"), std::runtime_error);
  EXPECT_THROW(parse("<svg><text>a & b</text></svg>"), std::runtime_error);
  EXPECT_THROW(parse("<svg x=1/>"), std::runtime_error);
  EXPECT_THROW(parse("<svg x=\"1\" x=\"2\"/>"), std::runtime_error);
  EXPECT_THROW(parse("<svg/><svg/>"), std::runtime_error);
  EXPECT_THROW(parse("<svg>\x01</svg>"), std::runtime_error);
  EXPECT_THROW(parse("<svg>\xff</svg>"), std::runtime_error);
  EXPECT_NO_THROW(parse("<?xml version=\"1.0\"?>\n<svg a='&amp;&#39;'><g/>x&lt;y</svg>\n"));
}

TEST(ChartTest, EscapesEveryText) {
  const std::string nasty = R"(<b>Tom & "Jerry's"</b>)";
  ChartSpec spec;
  spec.title = "title " + nasty;
  spec.subtitle = "subtitle " + nasty;
  spec.duration_s = 100;
  spec.panels.push_back(
      {"panel " + nasty, "unit " + nasty, {{"series " + nasty, {{0, 1}, {50, 2}}, "", false}}});
  // A colour is written into an attribute: it must not be able to add one.
  spec.panels[0].series.push_back({"coloured", {{0, 3}}, R"(red" onload="alert(1))", false});
  spec.windows.push_back({10, 20, "window " + nasty});
  spec.marks.push_back({30, "mark " + nasty});
  const std::string svg = render_svg(spec);

  EXPECT_THAT(svg, Not(HasSubstr("<b>")));
  EXPECT_THAT(svg, Not(HasSubstr("Jerry's")));
  EXPECT_THAT(svg, HasSubstr("&lt;b&gt;Tom &amp; &quot;Jerry&#39;s&quot;&lt;/b&gt;"));
  const Element root = parse(svg);
  const auto all = texts(root);
  for (const std::string prefix : {"title ", "subtitle ", "series ", "window ", "mark "}) {
    EXPECT_EQ(count(all, prefix + nasty), 1) << prefix;
  }
  EXPECT_EQ(count(all, "panel " + nasty + " (unit " + nasty + ")"), 1);
  EXPECT_EQ(root.children[0].text, "title " + nasty);
  for (const Element* e : find(root, "circle")) {
    EXPECT_EQ(e->attr("fill"), R"(red" onload="alert(1))");
    EXPECT_EQ(e->attrs.count("onload"), 0U);
  }
}

TEST(ChartTest, ReplacesWhatXmlCannotCarry) {
  ChartSpec spec = one_series({{0, 1}}, 10);
  spec.title = std::string("bell\x07 tab\t bad\xC3 ok \xC3\xA9 \xE2\x82\xAC");
  const Element root = parse(render_svg(spec));  // throws on control chars or bad UTF-8
  EXPECT_EQ(root.children[0].text,
            "bell\xEF\xBF\xBD tab  bad\xEF\xBF\xBD ok \xC3\xA9 \xE2\x82\xAC");
}

TEST(ChartTest, MapsValuesToPlotPixels) {
  const Element root = parse(render_svg(one_series({{0, 0}, {50, 5}, {100, 10}}, 100)));
  const auto plots = find(root, "rect", "plot");
  ASSERT_EQ(plots.size(), 1U);
  const Rect p = rect(*plots[0]);
  EXPECT_EQ(group_texts(root, "yticks"), (std::vector<std::string>{"0", "2", "4", "6", "8", "10"}));
  const auto lines = find(root, "polyline", "series");
  ASSERT_EQ(lines.size(), 1U);
  const auto v = points(*lines[0]);
  ASSERT_EQ(v.size(), 3U) << lines[0]->attr("points");
  EXPECT_NEAR(v[0].x, p.x, kTol);
  EXPECT_NEAR(v[0].y, p.y + p.h, kTol);
  EXPECT_NEAR(v[1].x, p.x + p.w / 2, kTol);
  EXPECT_NEAR(v[1].y, p.y + p.h / 2, kTol);
  EXPECT_NEAR(v[2].x, p.x + p.w, kTol);
  EXPECT_NEAR(v[2].y, p.y, kTol);
}

TEST(ChartTest, YAxisEndsAtANiceValueAboveTheData) {
  // Max 7 of a count: ticks 0..8 by 2, so 7 sits an eighth below the top.
  const Element root = parse(render_svg(one_series({{0, 3}, {10, 7}}, 10)));
  EXPECT_EQ(group_texts(root, "yticks"), (std::vector<std::string>{"0", "2", "4", "6", "8"}));
  const Rect p = rect(*find(root, "rect", "plot")[0]);
  const auto v = points(*find(root, "polyline", "series")[0]);
  ASSERT_EQ(v.size(), 2U);
  EXPECT_NEAR(v[0].y, p.y + p.h * 5 / 8, kTol);
  EXPECT_NEAR(v[1].y, p.y + p.h / 8, kTol);
}

TEST(ChartTest, CountsGetWholeTicksAndFractionsGetDecimals) {
  EXPECT_EQ(group_texts(parse(render_svg(one_series({{0, 1}, {5, 3}}, 5))), "yticks"),
            (std::vector<std::string>{"0", "1", "2", "3"}));
  EXPECT_EQ(group_texts(parse(render_svg(one_series({{0, 0.1}, {5, 0.7}}, 5))), "yticks"),
            (std::vector<std::string>{"0", "0.2", "0.4", "0.6", "0.8"}));
  EXPECT_EQ(group_texts(parse(render_svg(one_series({{0, 1200}, {5, 23000}}, 5))), "yticks"),
            (std::vector<std::string>{"0", "5k", "10k", "15k", "20k", "25k"}));
  // Negative data extends the axis below zero.
  EXPECT_EQ(group_texts(parse(render_svg(one_series({{0, -3}, {5, 4}}, 5))), "yticks"),
            (std::vector<std::string>{"-4", "-2", "0", "2", "4"}));
}

TEST(ChartTest, StepSeriesHoldsEachValueUntilTheNextSample) {
  const Element root = parse(render_svg(one_series({{0, 1}, {10, 3}, {20, 2}}, 20, true)));
  const Rect p = rect(*find(root, "rect", "plot")[0]);
  const auto v = points(*find(root, "polyline", "series")[0]);
  const auto px = [&](double t) { return p.x + p.w * t / 20; };
  const auto py = [&](double value) { return p.y + p.h * (1 - value / 3); };  // axis 0..3
  const std::vector<Point> want = {
      {px(0), py(1)}, {px(10), py(1)}, {px(10), py(3)}, {px(20), py(3)}, {px(20), py(2)}};
  ASSERT_EQ(v.size(), want.size()) << find(root, "polyline", "series")[0]->attr("points");
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(v[i].x, want[i].x, kTol) << i;
    EXPECT_NEAR(v[i].y, want[i].y, kTol) << i;
  }
}

TEST(ChartTest, TimeAxisHasReadableNiceTicks) {
  const auto labels = [](double duration) {
    return group_texts(parse(render_svg(one_series({{0, 1}}, duration))), "time");
  };
  EXPECT_THAT(labels(150), ElementsAre("0s", "15s", "30s", "45s", "1m", "1m15s", "1m30s", "1m45s",
                                       "2m", "2m15s", "2m30s"));
  EXPECT_THAT(labels(4), ElementsAre("0s", "0.5s", "1s", "1.5s", "2s", "2.5s", "3s", "3.5s", "4s"));
  EXPECT_THAT(labels(3600), ElementsAre("0s", "10m", "20m", "30m", "40m", "50m", "1h"));
  EXPECT_THAT(labels(2 * 86400),
              ElementsAre("0s", "6h", "12h", "18h", "1d", "1d6h", "1d12h", "1d18h", "2d"));

  // Label positions are proportional to time; duration 0 means up to the last sample.
  const Element root = parse(render_svg(one_series({{0, 1}, {300, 2}}, 0)));
  const Rect p = rect(*find(root, "rect", "plot")[0]);
  const auto ticks = find(*find(root, "g", "time")[0], "text");
  ASSERT_EQ(ticks.size(), 11U);
  EXPECT_EQ(ticks.back()->text, "5m");
  for (std::size_t i = 0; i < ticks.size(); ++i) {
    EXPECT_NEAR(ticks[i]->number("x"), p.x + p.w * static_cast<double>(i) / 10, kTol);
  }
}

TEST(ChartTest, FaultWindowsShadeEveryPanelInProportion) {
  ChartSpec spec = one_series({{0, 1}, {200, 2}}, 200);
  spec.panels.push_back({"Workers", "", {{"workers", {{0, 4}, {200, 4}}, "", true}}});
  spec.panels.push_back({"Completions", "ops/s", {}});
  spec.windows.push_back({50, 100, "partition"});
  spec.windows.push_back({150, 400, "past the end"});  // clipped to the time range
  spec.windows.push_back({300, 400, "outside"});       // not drawn
  const Element root = parse(render_svg(spec));
  const auto plots = find(root, "rect", "plot");
  const auto bands = find(root, "rect", "window");
  ASSERT_EQ(plots.size(), 3U);
  ASSERT_EQ(bands.size(), 6U);
  for (std::size_t i = 0; i < plots.size(); ++i) {
    const Rect p = rect(*plots[i]);
    const Rect a = rect(*bands[2 * i]);
    const Rect b = rect(*bands[2 * i + 1]);
    EXPECT_NEAR(a.x, p.x + p.w * 0.25, kTol);
    EXPECT_NEAR(a.w, p.w * 0.25, kTol);
    EXPECT_NEAR(a.y, p.y, kTol);
    EXPECT_NEAR(a.h, p.h, kTol);
    EXPECT_NEAR(b.x, p.x + p.w * 0.75, kTol);
    EXPECT_NEAR(b.x + b.w, p.x + p.w, kTol);
  }
  const auto all = texts(root);
  EXPECT_EQ(count(all, "partition"), 1);  // written once, at the top
  EXPECT_EQ(count(all, "past the end"), 1);
  EXPECT_EQ(count(all, "outside"), 0);
  // The label sits above the first panel.
  for (const Element* t : find(root, "text")) {
    if (t->text == "partition") {
      EXPECT_LT(t->number("y"), rect(*plots[0]).y);
    }
  }
}

TEST(ChartTest, MarksCrossEveryPanelAndCloseLabelsDoNotOverlap) {
  ChartSpec spec = one_series({{0, 1}, {100, 2}}, 100);
  spec.panels.push_back({"Workers", "", {{"workers", {{0, 4}, {100, 3}}, "", true}}});
  spec.marks = {{10, "worker 1 killed"},
                {11, "worker 2 killed"},
                {12, "worker 3 killed"},
                {99.5, "near the right edge"},
                {150, "after the end"}};
  const Element root = parse(render_svg(spec));
  const auto plots = find(root, "rect", "plot");
  const auto marks = find(root, "path", "marks");
  ASSERT_EQ(marks.size(), 2U);
  for (std::size_t i = 0; i < 2; ++i) {
    const Rect p = rect(*plots[i]);
    const auto lines = vlines(marks[i]->attr("d"));
    ASSERT_EQ(lines.size(), 4U) << marks[i]->attr("d");
    const std::vector<double> at = {0.10, 0.11, 0.12, 0.995};
    for (std::size_t k = 0; k < at.size(); ++k) {
      EXPECT_NEAR(lines[k].x, p.x + p.w * at[k], kTol) << k;
      EXPECT_NEAR(lines[k].y1, p.y, kTol) << k;  // from the top of the plot to its bottom
      EXPECT_NEAR(lines[k].y2, p.y + p.h, kTol) << k;
    }
  }
  // Each label once; those that would overprint each other are on different rows.
  std::vector<const Element*> killed, edge;
  for (const Element* t : find(root, "text")) {
    if (t->text.find("killed") != std::string::npos) killed.push_back(t);
    if (t->text == "near the right edge") edge.push_back(t);
  }
  ASSERT_EQ(killed.size(), 3U);
  ASSERT_EQ(edge.size(), 1U);
  EXPECT_EQ(count(texts(root), "after the end"), 0);
  std::vector<double> ys;
  for (const Element* t : killed) ys.push_back(t->number("y"));
  std::sort(ys.begin(), ys.end());
  EXPECT_LT(ys[0], ys[1]);
  EXPECT_LT(ys[1], ys[2]);
  EXPECT_LT(ys[2], rect(*plots[0]).y);  // all above the first plot
  // The last label would run off the image: it is written leftwards from its line.
  EXPECT_EQ(edge[0]->attr("text-anchor"), "end");
  EXPECT_LT(edge[0]->number("x"), rect(*plots[0]).x + rect(*plots[0]).w);
}

TEST(ChartTest, EmptyDataRendersEmptyPanels) {
  ChartSpec spec;
  spec.panels.push_back({"No series", "", {}});
  spec.panels.push_back({"Empty series", "", {{"depth", {}, "", false}}});
  const double nan = std::numeric_limits<double>::quiet_NaN();
  spec.panels.push_back({"Only NaN", "", {{"depth", {{nan, 1}, {1, nan}}, "", false}}});
  spec.panels.push_back({"Has data", "", {{"depth", {{0, 1}, {5, 2}}, "", false}}});
  const Element root = parse(render_svg(spec));
  EXPECT_EQ(count(texts(root), "no data"), 3);
  EXPECT_EQ(find(root, "rect", "plot").size(), 4U);
  EXPECT_EQ(find(root, "polyline", "series").size(), 1U);
  EXPECT_EQ(count(texts(root), "depth"), 3);  // the legends still name the series

  const Element nothing = parse(render_svg(ChartSpec{}));
  EXPECT_EQ(count(texts(nothing), "no data"), 1);
  EXPECT_EQ(find(nothing, "rect", "plot").size(), 1U);
}

TEST(ChartTest, DropsNonFinitePoints) {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  ChartSpec spec =
      one_series({{0, 1}, {10, nan}, {20, inf}, {inf, 5}, {nan, 9}, {30, 2}, {40, 1e300}}, 0);
  spec.windows.push_back({nan, 5, "nan window"});
  spec.marks.push_back({inf, "inf mark"});
  const std::string svg = render_svg(spec);
  const Element root = parse(svg);
  for (const char* bad : {"nan", "inf", "NaN", "Inf", "e+"}) EXPECT_THAT(svg, Not(HasSubstr(bad)));
  const auto v = points(*find(root, "polyline", "series")[0]);
  EXPECT_EQ(v.size(), 2U);  // (0, 1) and (30, 2)
  EXPECT_EQ(group_texts(root, "yticks"), (std::vector<std::string>{"0", "1", "2"}));
  EXPECT_EQ(group_texts(root, "time").back(), "30s");  // the range ends at the last good sample
  EXPECT_EQ(count(texts(root), "nan window"), 0);
}

TEST(ChartTest, SameSpecSameBytes) {
  ChartSpec spec = one_series({{0, 1}, {3, 2.25}, {7.5, 0.125}}, 10);
  spec.windows.push_back({2, 4, "w"});
  spec.marks.push_back({5, "m"});
  const std::string first = render_svg(spec);
  const ChartSpec copy = spec;
  EXPECT_EQ(render_svg(copy), first);
  EXPECT_EQ(render_svg(spec), first);
  spec.marks[0].at_s = 6;
  EXPECT_NE(render_svg(spec), first);
}

TEST(ChartTest, OutputIsCompact) {
  const auto render = [](int n, bool step) {
    std::vector<std::pair<double, double>> pts;
    for (int i = 0; i < n; ++i) pts.emplace_back(i * 1800.0 / (n - 1), 10 + std::sin(i / 7.0) * 5);
    return render_svg(one_series(std::move(pts), 1800, step));
  };
  const auto elements = [](const std::string& svg) {
    return std::count(svg.begin(), svg.end(), '<');
  };
  // One element per series, not per point.
  EXPECT_EQ(elements(render(10, false)), elements(render(3600, false)));
  const std::string big = render(3600, false);
  const Element root = parse(big);
  const auto line = find(root, "polyline", "series");
  ASSERT_EQ(line.size(), 1U);
  std::istringstream in(line[0]->attr("points"));
  std::string pair;
  while (in >> pair) {
    for (const std::string& part :
         {pair.substr(0, pair.find(',')), pair.substr(pair.find(',') + 1)}) {
      const std::size_t dot = part.find('.');
      ASSERT_TRUE(dot == std::string::npos || part.size() - dot == 2) << part;
      ASSERT_FALSE(dot != std::string::npos && part.back() == '0') << part;
    }
  }
  // A steady count costs two vertices however many samples it has.
  std::vector<std::pair<double, double>> steady;
  for (int i = 0; i <= 600; ++i) steady.emplace_back(i, 4);
  const Element flat = parse(render_svg(one_series(steady, 600, true)));
  EXPECT_EQ(points(*find(flat, "polyline", "series")[0]).size(), 2U);
  // A spike survives the merging of straight runs.
  const Element spike =
      parse(render_svg(one_series({{0, 1}, {10, 5}, {10, 1}, {20, 1}}, 20, true)));
  const auto sv = points(*find(spike, "polyline", "series")[0]);
  double top = 1e9;
  for (const Point& p : sv) top = std::min(top, p.y);
  EXPECT_NEAR(top, rect(*find(spike, "rect", "plot")[0]).y, kTol);
}

TEST(ChartTest, LegendNamesEachSeriesInItsColour) {
  ChartSpec spec;
  spec.duration_s = 10;
  spec.panels.push_back({"Ops",
                         "",
                         {{"in flight", {{0, 1}, {1, 2}}, "", false},
                          {"completed", {{0, 2}, {1, 3}}, "", false},
                          {"failed", {{0, 0}, {1, 1}}, "#123456", false}}});
  const Element root = parse(render_svg(spec));
  const auto lines = find(root, "polyline", "series");
  ASSERT_EQ(lines.size(), 3U);
  const auto legend = find(root, "g", "legend");
  ASSERT_EQ(legend.size(), 1U);
  const auto swatches = find(*legend[0], "path");
  const auto names = find(*legend[0], "text");
  ASSERT_EQ(swatches.size(), 3U);
  ASSERT_EQ(names.size(), 3U);
  const std::vector<std::string> want = {"in flight", "completed", "failed"};
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(names[i]->text, want[i]);
    EXPECT_EQ(swatches[i]->attr("stroke"), lines[i]->attr("stroke"));
  }
  EXPECT_NE(lines[0]->attr("stroke"), lines[1]->attr("stroke"));
  EXPECT_EQ(lines[2]->attr("stroke"), "#123456");
}

// A realistic report chart, written next to the test binary for a person to look at
// (`rsvg-convert loadsim-chart-sample.svg > sample.png`).
TEST(ChartTest, SampleChart) {
  ChartSpec spec;
  spec.title = "loadsim: worker-failure + partition";
  spec.subtitle = "mixed jobs, 4 workers x 4 slots, time scale 100x, 600 s";
  spec.duration_s = 600;
  ChartSeries depth{"visible", {}, "", true}, inflight_msgs{"in flight", {}, "", true};
  ChartSeries running{"running ops", {}, "", true}, workers{"workers", {}, "", true};
  ChartSeries done{"completed/s", {}, "", false}, failed{"failed/s", {}, "", false};
  for (int t = 0; t <= 600; t += 2) {
    const double burst = t >= 120 && t < 200 ? (t - 120) * 3.0
                         : t >= 200          ? std::max(0.0, 240 - (t - 200) * 1.5)
                                             : 0;
    const bool partitioned = t >= 300 && t < 360;
    const int alive = t >= 240 && t < 252 ? 3 : 4;
    depth.points.emplace_back(
        t, std::round(12 + burst + (partitioned ? (t - 300) * 2 : 0) + 5 * std::sin(t / 9.0)));
    inflight_msgs.points.emplace_back(t, partitioned ? 0 : alive * 4);
    running.points.emplace_back(t, partitioned ? 0 : alive * 4 - (t % 10 == 0 ? 1 : 0));
    workers.points.emplace_back(t, alive);
    done.points.emplace_back(t, partitioned ? 0 : 8 + 2 * std::sin(t / 5.0) + (alive - 4) * 2);
    failed.points.emplace_back(t, t % 50 == 0 ? 1 : 0);
  }
  spec.panels = {{"Queue depth", "messages", {depth, inflight_msgs}},
                 {"In-flight ops", "ops", {running}},
                 {"Workers", "processes", {workers}},
                 {"Completions", "ops/s", {done, failed}}};
  spec.windows = {{300, 360, "network partition (SQS + PostgreSQL)"}, {120, 200, "burst x5"}};
  spec.marks = {
      {240, "worker 2 killed (SIGKILL)"}, {246, "worker 3 killed"}, {252, "workers restarted"}};
  const std::string svg = render_svg(spec);
  EXPECT_NO_THROW(parse(svg));

  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe");
  const std::filesystem::path target = self.parent_path() / "loadsim-chart-sample.svg";
  const std::filesystem::path tmp =
      target.string() + ".tmp" + std::to_string(static_cast<long>(::getpid()));
  {
    std::ofstream out(tmp, std::ios::binary);
    out << svg;
    ASSERT_TRUE(out.good());
  }
  std::filesystem::rename(tmp, target);  // readers never see half a file
  std::printf("sample chart: %s (%zu bytes)\n", target.c_str(), svg.size());
}

}  // namespace
}  // namespace opfleet::loadsim
