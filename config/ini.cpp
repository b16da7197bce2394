#include "config/ini.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace opfleet::config::ini {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Section and key names: what option and subcommand names are made of, plus '_' and '.' so
// that a near miss is reported as an unknown key rather than as a syntax error.
bool is_name(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.';
  });
}

}  // namespace

Result<Document> parse(std::string_view text, std::string_view file) {
  Document doc;
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // UTF-8 BOM from Windows editors
  std::string section;
  int line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view raw = text.substr(pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    auto error = [&](std::string_view what) {
      return fail(Error::invalid(fmt::format("{} line {}: {}", file, line_no, what)));
    };
    if (line.front() == '[') {
      if (line.back() != ']') return error("a section header is '[name]' alone on its line");
      std::string_view name = trim(line.substr(1, line.size() - 2));
      if (!is_name(name)) return error(fmt::format("bad section name '[{}]'", name));
      section = std::string(name);
      doc.sections.push_back(Section{section, line_no});
      continue;
    }
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      return error("expected 'key = value', '[section]' or a comment ('#' or ';')");
    }
    std::string_view key = trim(line.substr(0, eq));
    if (!is_name(key)) return error(fmt::format("bad key '{}' (expected 'key = value')", key));
    doc.entries.push_back(
        Entry{section, std::string(key), std::string(trim(line.substr(eq + 1))), line_no});
  }
  return doc;
}

}  // namespace opfleet::config::ini
