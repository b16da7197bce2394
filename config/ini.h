// The configuration file's syntax, without its meaning (config.cpp decides which keys exist):
//
//   # comment            ; comment too (whole lines only: values may contain '#' and ';')
//   log-level = info     top-level key: applies to every subcommand
//   [worker]             section: the keys below apply to `opfleet worker` only
//   slots = 8
//
// Keys and values are trimmed; a value is the rest of the line after the first '='.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace opfleet::config::ini {

struct Entry {
  std::string section;  // "" at top level
  std::string key;
  std::string value;
  int line = 0;  // 1-based
};

struct Section {
  std::string name;
  int line = 0;
};

struct Document {
  std::vector<Entry> entries;     // in file order
  std::vector<Section> sections;  // every [header], in file order (repeats included)
};

// `file` only names the file in error messages ("FILE line N: ...").
Result<Document> parse(std::string_view text, std::string_view file);

}  // namespace opfleet::config::ini
