#include "config/validate.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <limits>

namespace opfleet::config {
namespace {

using std::chrono::milliseconds;

bool is_lower_alnum_dash(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::islower(c) != 0 || std::isdigit(c) != 0 || c == '-';
  });
}

std::string check_queue_name(const std::string& name, bool allow_empty) {
  if (name.empty()) return allow_empty ? std::string() : "must not be empty";
  static constexpr std::string_view kFifo = ".fifo";
  std::string_view base = name;
  if (base.size() > kFifo.size() && base.ends_with(kFifo)) base.remove_suffix(kFifo.size());
  bool chars_ok = std::all_of(base.begin(), base.end(), [](unsigned char c) {
    return std::isalnum(c) != 0 || c == '-' || c == '_';
  });
  if (name.size() > 80 || !chars_ok) {
    return "an SQS queue name is 1 to 80 characters of A-Z a-z 0-9 - _ (FIFO names end in .fifo)";
  }
  return {};
}

}  // namespace

po::typed_value<std::string>* one_of(std::vector<std::string> choices) {
  return checked<std::string>([choices = std::move(choices)](const std::string& v) {
    if (std::find(choices.begin(), choices.end(), v) != choices.end()) return std::string();
    return fmt::format("expected one of: {}", fmt::join(choices, ", "));
  });
}

po::typed_value<std::string>* non_empty_string() {
  return checked<std::string>(
      [](const std::string& v) { return v.empty() ? "must not be empty" : std::string(); });
}

po::typed_value<std::string>* http_url() {
  return checked<std::string>([](const std::string& v) {
    if (v.empty()) return std::string();
    std::string_view rest = v;
    if (rest.starts_with("https://")) {
      rest.remove_prefix(8);
    } else if (rest.starts_with("http://")) {
      rest.remove_prefix(7);
    } else {
      return std::string("expected an http:// or https:// URL");
    }
    bool has_host = !rest.empty() && rest.front() != '/' && rest.front() != ':';
    bool no_space =
        std::none_of(v.begin(), v.end(), [](unsigned char c) { return std::isspace(c) != 0; });
    return has_host && no_space ? std::string() : std::string("expected an http(s)://host URL");
  });
}

po::typed_value<std::string>* sqs_queue_name(bool allow_empty) {
  return checked<std::string>(
      [allow_empty](const std::string& v) { return check_queue_name(v, allow_empty); });
}

po::typed_value<std::string>* aws_region() {
  return checked<std::string>([](const std::string& v) {
    return !v.empty() && is_lower_alnum_dash(v)
               ? std::string()
               : std::string("expected a region name such as us-east-1");
  });
}

po::typed_value<milliseconds>* duration(milliseconds min) {
  return checked<milliseconds>([min](const milliseconds& v) {
    return v < min ? fmt::format("must be at least {}", format_duration(min)) : std::string();
  });
}

Result<milliseconds> parse_duration(std::string_view text) {
  auto bad = [&] {
    return fail(Error::invalid(fmt::format(
        "'{}' is not a duration (write it with units: 250ms, 30s, 5m, 1h, 2d, 1m30s)", text)));
  };
  if (text == "0") return milliseconds::zero();
  if (text.empty()) return bad();
  // A year of milliseconds is far beyond any sane setting and far below int64 overflow.
  constexpr std::int64_t kMaxMs = std::int64_t{366} * 24 * 3600 * 1000;
  std::int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    std::int64_t n = 0;
    size_t digits = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) != 0) {
      n = n * 10 + (text[i] - '0');
      ++i;
      if (++digits > 12) return bad();
    }
    size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i])) != 0) ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    std::int64_t scale = 0;
    if (unit == "ms")
      scale = 1;
    else if (unit == "s")
      scale = 1000;
    else if (unit == "m")
      scale = 60 * 1000;
    else if (unit == "h")
      scale = 3600 * 1000;
    else if (unit == "d")
      scale = 24 * 3600 * 1000;
    if (digits == 0 || scale == 0) return bad();
    total += n * scale;
    if (total > kMaxMs) {
      return fail(Error::invalid(fmt::format("duration '{}' is longer than a year", text)));
    }
  }
  return milliseconds(total);
}

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find(',', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view item = text.substr(start, end - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
    start = end + 1;
  }
  return out;
}

std::string format_duration(milliseconds d) {
  std::int64_t ms = d.count();
  if (ms == 0) return "0s";
  if (ms % (24 * 3600 * 1000) == 0) return fmt::format("{}d", ms / (24 * 3600 * 1000));
  if (ms % (3600 * 1000) == 0) return fmt::format("{}h", ms / (3600 * 1000));
  if (ms % (60 * 1000) == 0) return fmt::format("{}m", ms / (60 * 1000));
  if (ms % 1000 == 0) return fmt::format("{}s", ms / 1000);
  return fmt::format("{}ms", ms);
}

}  // namespace opfleet::config

namespace boost {

void validate(boost::any& store, const std::vector<std::string>& tokens,
              std::chrono::milliseconds* /*tag*/, int /*tag*/) {
  namespace po = boost::program_options;
  po::validators::check_first_occurrence(store);
  const std::string& text = po::validators::get_single_string(tokens);
  auto d = opfleet::config::parse_duration(text);
  if (!d) throw opfleet::config::InvalidValue("expected a duration such as 250ms, 30s, 5m or 1h");
  store = boost::any(*d);
}

}  // namespace boost
