// The job registry: built-ins plus a file or a directory of files.
#include "jobs/registry.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace opfleet::jobs {
namespace {

namespace fs = std::filesystem;

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "opfleet-jobs-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir = tmpl;
  }
  void TearDown() override { fs::remove_all(dir); }

  fs::path write(const std::string& name, const std::string& text) {
    const fs::path p = dir / name;
    std::ofstream(p) << text;
    return p;
  }
  static std::string one_job(const std::string& name) {
    return R"({"version": 1, "jobs": [{"name": ")" + name +
           R"(", "ops": [{"key": "a", "kind": "sleep", "mean_s": 1}]}]})";
  }

  fs::path dir;
};

TEST_F(RegistryTest, BuiltinsOnlyWhenNoFileIsConfigured) {
  auto r = load_registry("");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->names(), (std::vector<std::string>{"fast_job", "slow_job", "mixed_job",
                                                  "parallel_fast_job", "sequential_slow_job"}));
  EXPECT_EQ(r->source_of("mixed_job"), "built-in");
  EXPECT_NE(r->find("fast_job"), nullptr);
  EXPECT_EQ(r->find("nope"), nullptr);
}

TEST_F(RegistryTest, LoadsAFile) {
  const auto file = write("extra.json", one_job("etl"));
  auto r = load_registry(file.string());
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_NE(r->find("etl"), nullptr);
  EXPECT_EQ(r->source_of("etl"), file.string());
  EXPECT_EQ(r->jobs().size(), 6u);
}

TEST_F(RegistryTest, LoadsEveryJsonFileOfADirectoryInNameOrder) {
  write("b.json", one_job("second"));
  write("a.json", one_job("first"));
  write("notes.txt", "not a job file");
  auto r = load_registry(dir.string());
  ASSERT_TRUE(r) << r.error().message;
  const auto names = r->names();
  ASSERT_EQ(names.size(), 7u);
  EXPECT_EQ(names[5], "first");
  EXPECT_EQ(names[6], "second");
}

TEST_F(RegistryTest, ABuiltinCannotBeRedefined) {
  write("clash.json", one_job("fast_job"));
  auto r = load_registry(dir.string());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("job 'fast_job' is already defined (built-in)"),
            std::string::npos)
      << r.error().message;
}

TEST_F(RegistryTest, LoadingIsAllOrNothing) {
  write("a.json", one_job("good"));
  write("b.json",
        R"({"jobs": [{"name": "bad", "ops": [{"key": "x", "kind": "sleep", "mean_s": -1}]}]})");
  Registry reg = Registry::with_builtins();
  auto st = reg.load(dir);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("b.json"), std::string::npos) << st.error().message;
  EXPECT_NE(st.error().message.find("mean_s"), std::string::npos);
  EXPECT_EQ(reg.find("good"), nullptr);  // a.json's job was not kept either
  EXPECT_EQ(reg.jobs().size(), 5u);
}

TEST_F(RegistryTest, MissingPathIsNotFound) {
  auto r = load_registry((dir / "absent.json").string());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kNotFound);
}

TEST_F(RegistryTest, CommandAllowListAppliesToEveryJob) {
  write(
      "cmd.json",
      R"({"jobs": [{"name": "cmd", "ops": [{"key": "x", "kind": "command", "argv": ["/bin/true"]}]}]})");
  auto r = load_registry(dir.string());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->check_commands_allowed({"/bin/true"}));
  EXPECT_FALSE(r->check_commands_allowed({"/bin/false"}));
}

}  // namespace
}  // namespace opfleet::jobs
