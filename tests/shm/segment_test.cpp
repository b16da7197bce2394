#include "shm/segment.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "tests/support/stack_env.h"

namespace opfleet::shm {
namespace {

std::string instance_name() { return testing::unique_name("shmtest"); }

TEST(Segment, CreateThenAttachSeesTheSameMemory) {
  auto name = instance_name();
  auto created = SegmentHandle::create(name, getpid());
  ASSERT_TRUE(created) << created.error().describe();
  EXPECT_FALSE(created->rebuilt_stale());
  created->get()->header.desired_workers.store(7);

  auto attached = SegmentHandle::attach(name);
  ASSERT_TRUE(attached) << attached.error().describe();
  EXPECT_EQ(attached->get()->header.desired_workers.load(), 7u);
  EXPECT_EQ(attached->get()->header.supervisor_pid.load(), getpid());
  created->remove();
}

TEST(Segment, IsMode0600) {
  auto name = instance_name();
  auto created = SegmentHandle::create(name, getpid());
  ASSERT_TRUE(created);
  struct stat st {};
  ASSERT_EQ(::stat(("/dev/shm/" + segment_name(name)).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  created->remove();
}

TEST(Segment, AttachWithoutSupervisorIsNotFound) {
  auto attached = SegmentHandle::attach(instance_name());
  ASSERT_FALSE(attached);
  EXPECT_EQ(attached.error().kind, ErrorKind::kNotFound);
}

TEST(Segment, AttachRejectsAnotherLayoutVersion) {
  auto name = instance_name();
  auto created = SegmentHandle::create(name, getpid());
  ASSERT_TRUE(created);
  created->get()->header.layout_version = kLayoutVersion + 1;
  auto attached = SegmentHandle::attach(name);
  ASSERT_FALSE(attached);
  EXPECT_NE(attached.error().message.find("layout version"), std::string::npos)
      << attached.error().message;
  created->get()->header.magic = 0;
  attached = SegmentHandle::attach(name);
  ASSERT_FALSE(attached);
  EXPECT_NE(attached.error().message.find("magic"), std::string::npos);
  created->remove();
}

TEST(Segment, SecondLiveSupervisorIsRefused) {
  auto name = instance_name();
  auto first = SegmentHandle::create(name, getpid());
  ASSERT_TRUE(first);
  // A different owner pid while the recorded one (us) is alive: refused.
  auto second = SegmentHandle::create(name, getpid() + 100000);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().kind, ErrorKind::kConflict);
  first->remove();
}

TEST(Segment, StaleSegmentOfADeadSupervisorIsRebuilt) {
  auto name = instance_name();
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The "crashed supervisor": creates the segment, dirties it, dies without cleanup.
    auto seg = SegmentHandle::create(name, getpid());
    if (!seg) _exit(1);
    seg->get()->header.desired_workers.store(42);
    seg->get()->workers[3].pid.store(12345);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  auto rebuilt = SegmentHandle::create(name, getpid());
  ASSERT_TRUE(rebuilt) << rebuilt.error().describe();
  EXPECT_TRUE(rebuilt->rebuilt_stale());
  EXPECT_EQ(rebuilt->get()->header.desired_workers.load(), 0u);
  EXPECT_EQ(rebuilt->get()->workers[3].pid.load(), 0);
  EXPECT_EQ(rebuilt->get()->header.supervisor_pid.load(), getpid());
  rebuilt->remove();
}

TEST(Segment, ForeignLayoutIsRebuiltByTheSupervisor) {
  auto name = instance_name();
  auto first = SegmentHandle::create(name, getpid());
  ASSERT_TRUE(first);
  first->get()->header.layout_version = 999;
  auto again = SegmentHandle::create(name, getpid());
  ASSERT_TRUE(again) << again.error().describe();
  EXPECT_TRUE(again->rebuilt_stale());
  EXPECT_EQ(again->get()->header.layout_version, kLayoutVersion);
  again->remove();
}

TEST(Segment, InvalidInstanceNamesAreRejected) {
  EXPECT_FALSE(SegmentHandle::create("../etc", getpid()));
  EXPECT_FALSE(SegmentHandle::create("", getpid()));
  EXPECT_FALSE(SegmentHandle::attach("a b"));
}

}  // namespace
}  // namespace opfleet::shm
