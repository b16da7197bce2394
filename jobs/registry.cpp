#include "jobs/registry.h"

#include <algorithm>
#include <system_error>

#include <fmt/format.h>

#include "jobs/builtin.h"
#include "jobs/parse.h"

namespace opfleet::jobs {

namespace fs = std::filesystem;

Registry Registry::with_builtins() {
  Registry r;
  for (JobDef& j : builtin_jobs()) {
    // The built-ins are validated by the unit tests; failing here would be a bug.
    auto st = r.add(std::move(j), "built-in");
    (void)st;
  }
  return r;
}

Status Registry::add(JobDef job, std::string_view source) {
  if (auto st = validate(job); !st) {
    return fail(Error::invalid(fmt::format("{}: {}", source, st.error().message)));
  }
  if (const JobDef* existing = find(job.name); existing != nullptr) {
    Error e = Error::invalid(
        fmt::format("{}: job '{}' is already defined ({})", source, job.name, source_of(job.name)));
    e.kind = ErrorKind::kConflict;
    return fail(std::move(e));
  }
  jobs_.push_back(std::move(job));
  sources_.emplace_back(source);
  return ok();
}

Status Registry::load(const fs::path& path) {
  std::error_code ec;
  std::vector<fs::path> files;
  if (fs::is_directory(path, ec)) {
    for (const auto& entry : fs::directory_iterator(path, ec)) {
      if (entry.path().extension() == ".json" && entry.is_regular_file(ec)) {
        files.push_back(entry.path());
      }
    }
    if (ec) {
      return fail(Error::invalid(
          fmt::format("{}: cannot list the job directory: {}", path.string(), ec.message())));
    }
    std::sort(files.begin(), files.end());
  } else if (fs::exists(path, ec)) {
    files.push_back(path);
  } else {
    return fail(Error::not_found(fmt::format("{}: no such job file or directory", path.string())));
  }
  Registry next = *this;  // all or nothing
  for (const fs::path& file : files) {
    OPFLEET_TRY(auto defs, load_jobs_file(file));
    for (JobDef& j : defs) OPFLEET_TRY_STATUS(next.add(std::move(j), file.string()));
  }
  *this = std::move(next);
  return ok();
}

const JobDef* Registry::find(std::string_view name) const {
  for (const JobDef& j : jobs_) {
    if (j.name == name) return &j;
  }
  return nullptr;
}

std::vector<std::string> Registry::names() const {
  std::vector<std::string> out;
  out.reserve(jobs_.size());
  for (const JobDef& j : jobs_) out.push_back(j.name);
  return out;
}

std::string Registry::source_of(std::string_view name) const {
  for (std::size_t i = 0; i < jobs_.size(); ++i) {
    if (jobs_[i].name == name) return sources_[i];
  }
  return {};
}

Status Registry::check_commands_allowed(const std::vector<std::string>& allow_list) const {
  for (const JobDef& j : jobs_) OPFLEET_TRY_STATUS(check_command_allowed(j, allow_list));
  return ok();
}

Result<Registry> load_registry(const std::string& jobs_file) {
  Registry r = Registry::with_builtins();
  if (!jobs_file.empty()) OPFLEET_TRY_STATUS(r.load(jobs_file));
  return r;
}

}  // namespace opfleet::jobs
