// parse(): four layers (flags > OPFLEET_* environment > INI file > defaults) merged key by key.
//
// program_options can merge layers itself (store() keeps the first value it sees), but then
// it cannot say where a bad value came from. Instead each key takes its value from exactly
// one layer, the highest that has it; each occurrence is validated on its own first, so an
// error names the flag, the environment variable or the file line that holds the bad value.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <sstream>
#include <typeinfo>

#include <fmt/format.h>

#include "cli/exit_codes.h"
#include "common/log.h"
#include "config/config.h"
#include "config/ini.h"
#include "config/secrets.h"
#include "config/validate.h"

namespace opfleet::config {
namespace {

// Keys never read from the environment or the file: --help is an action, not a setting.
constexpr std::string_view kHelp = "help";
// The file cannot name the file to read; the environment can (OPFLEET_CONFIG).
constexpr std::string_view kConfig = "config";
// A configuration file is a few kilobytes; anything larger is a mistake (a log, a binary).
constexpr size_t kMaxConfigBytes = 1 << 20;

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  return fmt::format("{}", fmt::join(parts, sep));
}

// How program_options names an option in the variables_map: its long name, or "-x" for an
// option that only has a short one.
const std::string& key_of(const po::option_description& d) {
  return d.key(std::string());
}

// "--slots", or "-x" for a short-only option.
std::string flag_name(std::string_view key) {
  return key.starts_with('-') ? std::string(key) : fmt::format("--{}", key);
}

bool is_multi(const po::option_description& d) {
  return d.semantic()->is_composing() || d.semantic()->max_tokens() > 1;
}

// Option name -> takes several values? For the options a command reads from the environment
// and the file: all of them except --help, hidden options and positional operands.
using KeySet = std::map<std::string, bool, std::less<>>;

KeySet configurable_keys(const CommandSpec& spec) {
  std::set<std::string, std::less<>> operands;
  for (const auto& opt : spec.hidden.options()) operands.insert(opt->long_name());
  // An unlimited positional reports max_total_count() == UINT_MAX and repeats its last name;
  // 64 positions cover every distinct name a real command has.
  unsigned positions = std::min(spec.positional.max_total_count(), 64u);
  for (unsigned i = 0; i < positions; ++i) operands.insert(spec.positional.name_for_position(i));
  KeySet keys;
  po::options_description all = all_options(spec);
  for (const auto& opt : all.options()) {
    const std::string& name = opt->long_name();
    if (name.empty() || name == kHelp || operands.contains(name)) continue;
    keys[name] = is_multi(*opt);
  }
  return keys;
}

// Which keys the file may hold: at top level, anything some subcommand (or a shared group)
// knows; in [name], what subcommand `name` knows.
struct FileSchema {
  KeySet top;
  std::map<std::string, KeySet, std::less<>> sections;
};

FileSchema file_schema(const CommandSpec& current) {
  FileSchema schema;
  auto add = [&](const CommandSpec& spec) {
    KeySet keys = configurable_keys(spec);
    for (const auto& [k, multi] : keys) schema.top[k] = schema.top[k] || multi;
    if (!spec.name.empty()) schema.sections[std::string(spec.name)] = std::move(keys);
  };
  add(shared_spec());
  for (const CommandSpec& spec : registered_specs()) add(spec);
  add(current);
  schema.top.erase(std::string(kConfig));
  for (auto& [name, keys] : schema.sections) keys.erase(std::string(kConfig));
  return schema;
}

std::string unknown_key_hint(std::string_view key, const KeySet& known) {
  std::string dashed(key);
  std::replace(dashed.begin(), dashed.end(), '_', '-');
  if (dashed != key && known.contains(dashed)) return fmt::format(" (did you mean '{}'?)", dashed);
  return {};
}

// One occurrence of a value in one layer.
struct Occurrence {
  std::vector<std::string> tokens;
  std::string where;     // for messages: "the command line", "OPFLEET_X", "FILE line N"
  std::string original;  // the flag as typed, for po's messages
};

struct Layer {
  Source source;
  std::map<std::string, std::vector<Occurrence>, std::less<>> values;
};

// The file's values for `spec`, after checking every line of it against the schema.
Result<Layer> file_layer(const ini::Document& doc, const std::string& file,
                         const FileSchema& schema, const CommandSpec& spec) {
  for (const ini::Section& section : doc.sections) {
    if (!schema.sections.contains(section.name)) {
      std::vector<std::string> names;
      for (const auto& [name, keys] : schema.sections) names.push_back(name);
      return fail(Error::invalid(fmt::format(
          "unknown section [{}] in {} line {} (a section is named after a subcommand: {})",
          section.name, file, section.line, join(names, ", "))));
    }
  }
  std::map<std::pair<std::string, std::string>, int> first_line;
  for (const ini::Entry& e : doc.entries) {
    const KeySet* keys = &schema.top;
    std::string in_section;
    if (!e.section.empty()) {
      keys = &schema.sections.find(e.section)->second;
      in_section = fmt::format(" (section [{}])", e.section);
    }
    if (e.key == kConfig) {
      return fail(Error::invalid(
          fmt::format("key 'config' in {} line {}: the file to read is chosen by --config or "
                      "OPFLEET_CONFIG, not by a file",
                      file, e.line)));
    }
    auto known = keys->find(e.key);
    if (known == keys->end()) {
      return fail(Error::invalid(fmt::format("unknown key '{}' in {} line {}{}{}", e.key, file,
                                             e.line, in_section, unknown_key_hint(e.key, *keys))));
    }
    auto [it, inserted] = first_line.try_emplace({e.section, e.key}, e.line);
    if (!inserted && !known->second) {
      return fail(Error::invalid(fmt::format("duplicate key '{}' in {} lines {} and {}{}", e.key,
                                             file, it->second, e.line, in_section)));
    }
  }
  // Top-level values, then this command's section, which replaces them key by key.
  KeySet mine = configurable_keys(spec);
  Layer top{Source::kFile, {}};
  Layer section{Source::kFile, {}};
  for (const ini::Entry& e : doc.entries) {
    if (!mine.contains(e.key)) continue;  // another subcommand's key
    Layer* layer = e.section.empty() ? &top : e.section == spec.name ? &section : nullptr;
    if (layer == nullptr) continue;
    layer->values[e.key].push_back(
        Occurrence{{e.value}, fmt::format("{} line {}", file, e.line), e.key});
  }
  for (auto& [key, occurrences] : section.values) top.values[key] = std::move(occurrences);
  return top;
}

Layer env_layer(const KeySet& keys, const ParseOptions& options) {
  Layer layer{Source::kEnvironment, {}};
  for (const auto& [key, multi] : keys) {
    std::string name = env_name(key);
    std::optional<std::string> value = options.getenv(name);
    // Empty counts as unset: `OPFLEET_X=` in a unit file or shell means "not configured".
    if (!value || value->empty()) continue;
    std::vector<std::string> tokens;
    if (multi) {
      // The environment cannot repeat a variable, so lists are comma-separated there.
      size_t pos = 0;
      while (pos <= value->size()) {
        size_t comma = value->find(',', pos);
        if (comma == std::string::npos) comma = value->size();
        std::string item = value->substr(pos, comma - pos);
        item.erase(0, item.find_first_not_of(" \t"));
        item.erase(item.find_last_not_of(" \t") + 1);
        if (!item.empty()) tokens.push_back(std::move(item));
        pos = comma + 1;
      }
    } else {
      tokens.push_back(*value);
    }
    layer.values[key].push_back(Occurrence{std::move(tokens), name, name});
  }
  return layer;
}

Layer flag_layer(const po::parsed_options& parsed) {
  Layer layer{Source::kFlag, {}};
  for (const po::option& o : parsed.options) {
    if (o.string_key.empty()) continue;
    std::string original = o.original_tokens.empty() ? o.string_key : o.original_tokens.front();
    layer.values[o.string_key].push_back(Occurrence{o.value, "the command line", original});
  }
  return layer;
}

// Why program_options rejected a value, in words a user can act on.
std::string reason_for(const po::error& e, const po::value_semantic& semantic) {
  if (dynamic_cast<const InvalidValue*>(&e) != nullptr) return e.what();
  if (dynamic_cast<const po::invalid_bool_value*>(&e) != nullptr) {
    return "expected true or false (or yes/no, on/off, 1/0)";
  }
  if (const auto* typed = dynamic_cast<const po::typed_value_base*>(&semantic)) {
    const std::type_info& t = typed->value_type();
    if (t == typeid(int) || t == typeid(long) || t == typeid(long long) || t == typeid(unsigned) ||
        t == typeid(unsigned long) || t == typeid(unsigned long long) ||
        t == typeid(std::vector<int>)) {
      return "expected a whole number";
    }
    if (t == typeid(double) || t == typeid(float)) return "expected a number";
  }
  return {};
}

std::string invalid_value_message(const std::string& key, const Occurrence& occ,
                                  const std::string& reason) {
  std::string value = displayable(key, join(occ.tokens, ","));
  std::string what = is_secret_key(key)
                         ? fmt::format("invalid value for {}", flag_name(key))
                         : fmt::format("invalid value '{}' for {}", value, flag_name(key));
  return fmt::format("{} (from {}){}", what, occ.where, reason.empty() ? "" : ": " + reason);
}

// Validates each occurrence on its own (so the message can name it), then stores them all.
Status store_key(const po::options_description& all, const po::option_description& opt,
                 const std::vector<Occurrence>& occurrences, po::variables_map* vm) {
  const std::string& key = key_of(opt);
  for (const Occurrence& occ : occurrences) {
    try {
      boost::any scratch;
      opt.semantic()->parse(scratch, occ.tokens, true);
    } catch (const po::error& e) {
      return fail(Error::invalid(invalid_value_message(key, occ, reason_for(e, *opt.semantic()))));
    }
  }
  po::parsed_options one(&all);
  for (const Occurrence& occ : occurrences) {
    po::option o(key, occ.tokens);
    o.original_tokens = {occ.original};
    one.options.push_back(std::move(o));
  }
  try {
    po::store(one, *vm);
  } catch (const po::multiple_occurrences&) {
    return fail(Error::invalid(fmt::format("{} given more than once (from {})", flag_name(key),
                                           occurrences.back().where)));
  } catch (const po::error& e) {
    return fail(Error::invalid(fmt::format("{}: {}", flag_name(key), e.what())));
  }
  return ok();
}

Result<std::optional<std::string>> read_config_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<std::string>();
    return fail(
        Error::invalid(fmt::format("cannot open config file {}: {}", path, std::strerror(errno))));
  }
  std::string text;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return fail(
          Error::invalid(fmt::format("cannot read config file {}: {}", path, std::strerror(err))));
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > kMaxConfigBytes) {
      ::close(fd);
      return fail(Error::invalid(
          fmt::format("config file {} is larger than {} bytes", path, kMaxConfigBytes)));
    }
  }
  ::close(fd);
  return std::optional<std::string>(std::move(text));
}

// The value of a defaulted option as text, for `config show`.
std::string any_to_text(const boost::any& v) {
  if (v.empty()) return {};
  if (const auto* s = boost::any_cast<std::string>(&v)) return *s;
  if (const auto* i = boost::any_cast<int>(&v)) return std::to_string(*i);
  if (const auto* l = boost::any_cast<long>(&v)) return std::to_string(*l);
  if (const auto* ll = boost::any_cast<long long>(&v)) return std::to_string(*ll);
  if (const auto* u = boost::any_cast<unsigned>(&v)) return std::to_string(*u);
  if (const auto* ul = boost::any_cast<unsigned long>(&v)) return std::to_string(*ul);
  if (const auto* d = boost::any_cast<double>(&v)) return fmt::format("{}", *d);
  if (const auto* b = boost::any_cast<bool>(&v)) return *b ? "true" : "false";
  if (const auto* ms = boost::any_cast<std::chrono::milliseconds>(&v)) {
    return format_duration(*ms);
  }
  if (const auto* vs = boost::any_cast<std::vector<std::string>>(&v)) return join(*vs, ",");
  if (const auto* vi = boost::any_cast<std::vector<int>>(&v)) {
    return fmt::format("{}", fmt::join(*vi, ","));
  }
  return "(set)";
}

// Checks that involve two options of the shared groups.
Status check_combinations(const Parsed& p) {
  const po::variables_map& vm = p.vm;
  if (vm.count("sqs-retry-base-ms") != 0 && vm.count("sqs-retry-cap-ms") != 0) {
    int base = vm["sqs-retry-base-ms"].as<int>();
    int cap = vm["sqs-retry-cap-ms"].as<int>();
    if (cap < base) {
      const Origin& o = p.origins.at("sqs-retry-cap-ms");
      return fail(Error::invalid(fmt::format(
          "invalid value '{}' for --sqs-retry-cap-ms ({}): must be at least --sqs-retry-base-ms "
          "({})",
          cap, o.source == Source::kDefault ? "the default" : "from " + describe(o), base)));
    }
  }
  return ok();
}

Status check_required(const po::options_description& all, const Parsed& p,
                      const std::string& file) {
  for (const auto& opt : all.options()) {
    if (!opt->semantic()->is_required()) continue;
    const std::string& key = key_of(*opt);
    auto it = p.vm.find(key);
    bool missing = it == p.vm.end() || it->second.empty() || it->second.defaulted();
    if (!missing) {
      const auto* s = boost::any_cast<std::string>(&it->second.value());
      missing = s != nullptr && s->empty();
    }
    if (missing) {
      return fail(Error::invalid(
          fmt::format("{} is required: give the flag, set {}, or add '{} = ...' to {}",
                      flag_name(key), env_name(key), key, file)));
    }
  }
  return ok();
}

// Wraps each paragraph of `text` at `width` columns (a summary is written as one long line).
std::string wrap(std::string_view text, size_t width) {
  std::string out;
  size_t column = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    if (text[pos] == '\n') {
      out.push_back('\n');
      column = 0;
      ++pos;
      continue;
    }
    if (text[pos] == ' ') {
      ++pos;
      continue;
    }
    size_t end = text.find_first_of(" \n", pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view word = text.substr(pos, end - pos);
    if (column > 0 && column + 1 + word.size() > width) {
      out.push_back('\n');
      column = 0;
    } else if (column > 0) {
      out.push_back(' ');
      ++column;
    }
    out.append(word);
    column += word.size();
    pos = end;
  }
  return out;
}

void apply_logging(const CommandSpec& spec, const po::variables_map& vm) {
  log::Level level = log::Level::kInfo;
  log::Format format = log::Format::kText;
  if (vm.count("log-level") != 0) log::parse_level(vm["log-level"].as<std::string>(), &level);
  if (vm.count("log-format") != 0) log::parse_format(vm["log-format"].as<std::string>(), &format);
  log::configure(level, format, spec.name.empty() ? "opfleet" : spec.name);
}

}  // namespace

po::options_description all_options(const CommandSpec& spec) {
  po::options_description all;
  if (spec.options.find_nothrow(std::string(kHelp), false) == nullptr) {
    all.add(general_options());
  }
  all.add(spec.options);
  if (!spec.hidden.options().empty()) all.add(spec.hidden);
  return all;
}

std::vector<std::string> settable_options(const CommandSpec& spec) {
  KeySet keys = configurable_keys(spec);
  std::vector<std::string> names;
  po::options_description all = all_options(spec);  // outlives the loop (not a temporary)
  for (const auto& opt : all.options()) {
    if (keys.contains(opt->long_name())) names.push_back(opt->long_name());
  }
  return names;
}

std::string env_name(std::string_view option) {
  std::string name = "OPFLEET_";
  for (char c : option) {
    name.push_back(c == '-' || c == '.'
                       ? '_'
                       : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return name;
}

std::string describe(const Origin& origin) {
  switch (origin.source) {
    case Source::kFlag:
      return fmt::format("flag {}", origin.where);
    case Source::kEnvironment:
      return fmt::format("env {}", origin.where);
    case Source::kFile:
      return fmt::format("file {}", origin.where);
    case Source::kDefault:
      return "default";
  }
  return "default";
}

std::string help_text(const CommandSpec& spec) {
  po::options_description visible;
  if (spec.options.find_nothrow(std::string(kHelp), false) == nullptr) {
    visible.add(general_options());
  }
  visible.add(spec.options);
  std::ostringstream stream;
  stream << visible;
  // Nested option groups each open with a blank line; one between groups is enough.
  std::string options = stream.str();
  while (options.starts_with("\n")) options.erase(0, 1);
  for (size_t p = options.find("\n\n\n"); p != std::string::npos; p = options.find("\n\n\n")) {
    options.erase(p, 1);
  }
  std::string usage =
      spec.usage.empty() ? fmt::format("opfleet {} [options]", spec.name) : std::string(spec.usage);
  return fmt::format(
      "usage: {}\n\n{}\n\n{}\n"
      "Every option can also be set in the environment (--foo-bar as OPFLEET_FOO_BAR)\n"
      "or in the config file ('foo-bar = value' at top level or under [{}]).\n"
      "Flags win over the environment, the environment over the file, the file over\n"
      "the defaults. 'opfleet config show --for {}' prints the effective values.\n",
      usage, wrap(spec.summary, 79), options, spec.name, spec.name);
}

Result<Parsed> parse(const CommandSpec& spec, int argc, char** argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  return parse(spec, args, ParseOptions{});
}

Result<Parsed> parse(const CommandSpec& spec, const std::vector<std::string>& args,
                     const ParseOptions& options_in) {
  ParseOptions options = options_in;
  if (!options.getenv) {
    options.getenv = [](const std::string& name) -> std::optional<std::string> {
      const char* v = std::getenv(name.c_str());
      return v == nullptr ? std::nullopt : std::optional<std::string>(v);
    };
  }
  po::options_description all = all_options(spec);
  Parsed out;

  // 1. Flags. Abbreviated long options are off: `--data` must not quietly mean --database-url,
  // and adding an option later must not change what an existing command line means.
  Layer flags{Source::kFlag, {}};
  try {
    flags = flag_layer(
        po::command_line_parser(args)
            .options(all)
            .positional(spec.positional)
            .style(po::command_line_style::default_style & ~po::command_line_style::allow_guessing)
            .run());
  } catch (const po::error& e) {
    return fail(Error::invalid(fmt::format("{} (see opfleet {} --help)", e.what(), spec.name)));
  }
  if (flags.values.contains(kHelp)) {
    out.help = true;
    out.help_text = help_text(spec);
    return out;
  }

  // 2. Environment.
  KeySet keys = configurable_keys(spec);
  Layer env = env_layer(keys, options);

  // 3. The file: chosen by --config, else OPFLEET_CONFIG, else the default (which may be absent).
  std::string file = options.default_config_file;
  std::string chosen_by;
  for (const Layer* layer : {&flags, &env}) {
    auto it = layer->values.find(kConfig);
    if (it != layer->values.end() && !it->second.back().tokens.empty()) {
      file = it->second.back().tokens.front();
      chosen_by = layer == &flags ? "--config" : env_name(kConfig);
      break;
    }
  }
  Layer from_file{Source::kFile, {}};
  OPFLEET_TRY(std::optional<std::string> text, read_config_file(file));
  if (!text && !chosen_by.empty()) {
    return fail(
        Error::not_found(fmt::format("config file {} does not exist (from {})", file, chosen_by)));
  }
  if (text) {
    OPFLEET_TRY(ini::Document doc, ini::parse(*text, file));
    OPFLEET_TRY(from_file, file_layer(doc, file, file_schema(spec), spec));
    out.config_file = file;
  }

  // 4. Merge: each key from the highest layer that has it; defaults fill the rest.
  for (const auto& opt : all.options()) {
    const std::string& key = key_of(*opt);
    Origin origin;
    for (const Layer* layer : {&flags, &env, &from_file}) {
      auto it = layer->values.find(key);
      if (it == layer->values.end()) continue;
      OPFLEET_TRY_STATUS(store_key(all, *opt, it->second, &out.vm));
      origin.source = layer->source;
      origin.where = layer->source == Source::kFlag ? flag_name(key) : it->second.back().where;
      for (const Occurrence& occ : it->second) {
        origin.tokens.insert(origin.tokens.end(), occ.tokens.begin(), occ.tokens.end());
      }
      break;
    }
    if (key != kHelp) out.origins[key] = std::move(origin);
  }
  try {
    po::store(po::parsed_options(&all), out.vm);  // applies the defaults of untouched keys
  } catch (const po::error& e) {
    return fail(Error::invalid(e.what()));
  }
  for (auto& [key, origin] : out.origins) {
    if (origin.source == Source::kDefault && out.vm.count(key) != 0) {
      std::string text_value = any_to_text(out.vm[key].value());
      if (!text_value.empty()) origin.tokens = {std::move(text_value)};
    }
  }

  OPFLEET_TRY_STATUS(check_combinations(out));
  if (options.check_required) {
    OPFLEET_TRY_STATUS(check_required(all, out, file));
    try {
      po::notify(out.vm);  // runs notifiers and fills variables bound with po::value(&x)
    } catch (const po::error& e) {
      return fail(Error::invalid(e.what()));
    }
  }
  if (options.configure_logging) apply_logging(spec, out.vm);
  return out;
}

int parse_or_exit(const CommandSpec& spec, int argc, char** argv, Parsed* out) {
  auto parsed = parse(spec, argc, argv);
  if (!parsed) {
    fmt::print(stderr, "opfleet {}: {}\n", spec.name, parsed.error().message);
    return cli::kExitUsage;
  }
  if (parsed->help) {
    fmt::print("{}", parsed->help_text);
    std::fflush(stdout);
    return cli::kExitOk;
  }
  *out = std::move(*parsed);
  return -1;
}

}  // namespace opfleet::config
