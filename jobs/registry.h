// The jobs a process knows: the built-ins plus those of the configured job file or
// directory ('jobs-file'). Names are unique across both: a file cannot redefine a
// built-in (a surprise in production); give the job another name.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "jobs/job.h"

namespace opfleet::jobs {

class Registry {
 public:
  Registry() = default;
  static Registry with_builtins();

  // Validates and adds a job; `source` ("built-in", a file name) names it in errors.
  Status add(JobDef job, std::string_view source);
  // A job file, or every *.json file of a directory (in name order). All or nothing: on
  // error the registry is unchanged.
  Status load(const std::filesystem::path& path);

  const JobDef* find(std::string_view name) const;
  const std::vector<JobDef>& jobs() const { return jobs_; }
  std::vector<std::string> names() const;
  // Where a job came from ("built-in" or its file); empty for an unknown job.
  std::string source_of(std::string_view name) const;

  // check_command_allowed for every job.
  Status check_commands_allowed(const std::vector<std::string>& allow_list) const;

 private:
  std::vector<JobDef> jobs_;
  std::vector<std::string> sources_;
};

// The built-ins, plus the jobs of `jobs_file` (a file or a directory) when not empty.
Result<Registry> load_registry(const std::string& jobs_file);

}  // namespace opfleet::jobs
