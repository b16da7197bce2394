// Shared credentials and config files (~/.aws/credentials, ~/.aws/config), the format
// the AWS CLI writes: INI sections, "key = value", '#' or ';' comments, indented lines
// for nested settings (e.g. "s3 =" blocks), which hold nothing we use.
#include <cctype>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "aws/credentials.h"
#include "aws/text_file.h"
#include "common/log.h"

namespace opfleet::aws {
namespace {

using Section = std::map<std::string, std::string>;
using IniFile = std::map<std::string, Section>;

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Errors name the file and line but never echo the line: it may hold a secret.
Result<IniFile> parse_ini(std::string_view text, const std::string& path) {
  IniFile file;
  Section* section = nullptr;
  bool in_nested = false;  // after "key =" with an empty value, indented lines belong to it
  int line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view raw = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    bool indented = std::isspace(static_cast<unsigned char>(raw.front()));
    if (indented && in_nested) continue;
    if (line.front() == '[') {
      if (line.back() != ']') {
        return fail(Error::invalid(fmt::format("{}:{}: malformed section header", path, line_no)));
      }
      section = &file[std::string(trim(line.substr(1, line.size() - 2)))];
      in_nested = false;
      continue;
    }
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      return fail(Error::invalid(fmt::format("{}:{}: expected 'key = value'", path, line_no)));
    }
    if (section == nullptr) continue;  // keys before any section apply to no profile
    std::string key = lower(trim(line.substr(0, eq)));
    std::string_view value = trim(line.substr(eq + 1));
    in_nested = value.empty();
    (*section)[key] = std::string(value);
  }
  return file;
}

std::string env_or(const char* name, std::string fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

// Settings that mean "credentials come from somewhere else", which opfleet does not
// implement; naming them beats a vague "no keys".
constexpr std::string_view kUnsupportedKeys[] = {"role_arn", "credential_process", "sso_session",
                                                 "sso_start_url", "web_identity_token_file"};

class ProfileProvider final : public CredentialsProvider {
 public:
  explicit ProfileProvider(ProfileOptions options) {
    std::string from_env = env_or("AWS_PROFILE", "");
    explicit_profile_ = !options.profile.empty() || !from_env.empty();
    profile_ = !options.profile.empty() ? options.profile
                                        : (!from_env.empty() ? from_env : std::string("default"));
    credentials_file_ =
        detail::expand_home(!options.credentials_file.empty()
                                ? options.credentials_file
                                : env_or("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"));
    config_file_ = detail::expand_home(!options.config_file.empty()
                                           ? options.config_file
                                           : env_or("AWS_CONFIG_FILE", "~/.aws/config"));
  }

  Result<Credentials> get() override {
    std::lock_guard lock(mutex_);
    if (cached_) return *cached_;
    OPFLEET_TRY(Credentials c, load());
    cached_ = c;
    log::info("aws_credentials_loaded", {{"source", c.source}});
    return c;
  }

 private:
  // One file's section for the profile; nullopt when the file or the section is absent.
  Result<std::optional<Section>> section_of(const std::string& path, bool config_style,
                                            bool* file_found) {
    auto text = detail::read_text_file(path);
    if (!text) {
      if (text.error().kind == ErrorKind::kNotFound) return std::optional<Section>();
      return fail(std::move(text).error());
    }
    *file_found = true;
    OPFLEET_TRY(IniFile ini, parse_ini(*text, path));
    // The config file names profiles "[profile NAME]", except the default one, which
    // the CLI writes as "[default]".
    std::string name = config_style && profile_ != "default" ? "profile " + profile_ : profile_;
    if (auto it = ini.find(name); it != ini.end()) return std::optional<Section>(it->second);
    if (config_style && profile_ == "default") {
      if (auto it = ini.find("profile default"); it != ini.end()) {
        return std::optional<Section>(it->second);
      }
    }
    return std::optional<Section>();
  }

  Result<Credentials> load() {
    bool credentials_found = false;
    bool config_found = false;
    OPFLEET_TRY(auto from_credentials, section_of(credentials_file_, false, &credentials_found));
    OPFLEET_TRY(auto from_config, section_of(config_file_, true, &config_found));
    if (!credentials_found && !config_found) {
      return fail(Error::not_found(fmt::format(
          "no shared credentials file ({}) or config file ({})", credentials_file_, config_file_)));
    }
    if (!from_credentials && !from_config) {
      std::string msg = fmt::format("profile '{}' is in neither {} nor {}", profile_,
                                    credentials_file_, config_file_);
      // A profile the user asked for by name must exist; the implicit default may not.
      if (explicit_profile_) return fail(Error::invalid(std::move(msg)));
      return fail(Error::not_found(std::move(msg)));
    }
    // The credentials file wins over the config file for the same key.
    Section merged = from_config.value_or(Section{});
    for (auto& [k, v] : from_credentials.value_or(Section{})) merged[k] = v;

    Credentials c;
    c.access_key_id = merged["aws_access_key_id"];
    c.secret_access_key = merged["aws_secret_access_key"];
    c.session_token = merged["aws_session_token"];
    c.source = "profile:" + profile_;
    if (c.access_key_id.empty() && c.secret_access_key.empty()) {
      for (std::string_view key : kUnsupportedKeys) {
        if (merged.contains(std::string(key))) {
          return fail(Error::invalid(fmt::format(
              "profile '{}' gets credentials through '{}', which opfleet does not support; "
              "use static keys, the environment, or the ECS/EC2 role",
              profile_, key)));
        }
      }
      return fail(Error::not_found(fmt::format("profile '{}' has no aws_access_key_id", profile_)));
    }
    if (c.access_key_id.empty() || c.secret_access_key.empty()) {
      return fail(Error::make(
          ErrorKind::kAuth,
          fmt::format("profile '{}' has only one of aws_access_key_id/aws_secret_access_key",
                      profile_)));
    }
    return c;
  }

  std::string profile_;
  bool explicit_profile_ = false;
  std::string credentials_file_;
  std::string config_file_;
  std::mutex mutex_;
  std::optional<Credentials> cached_;
};

}  // namespace

std::shared_ptr<CredentialsProvider> profile_credentials(ProfileOptions options) {
  return std::make_shared<ProfileProvider>(std::move(options));
}

}  // namespace opfleet::aws
