// The run folder belongs to one run: a second run on it fails at once naming the
// holder, the lock goes with the run, stale temporaries are cleared at the start, a
// failed write leaves no temporary behind, and a failed metrics write is an error.
#include <fcntl.h>
#include <sys/file.h>

#include "engine/train/run_folder.h"
#include "engine/train/train_testing.h"

namespace sprout::train {
namespace {

namespace fs = std::filesystem;

class RunFolderTest : public TrainTest {
 protected:
  static std::string host() {
    char buf[256] = {0};
    ::gethostname(buf, sizeof buf - 1);
    return buf;
  }
};

TEST_F(RunFolderTest, ASecondRunOnTheFolderFailsNamingTheHolder) {
  const fs::path run = dir_ / "run";
  Trainer first(tiny(), Device::cpu(), run.string(), true);
  const std::string e = error_of([&] { Trainer second(tiny(), Device::cpu(), run.string(), true); });
  EXPECT_EQ(e, "run folder " + run.string() + " is in use by another run (pid " + std::to_string(::getpid()) +
                   " on host " + host() + "; lock file " + (run / "run.lock").string() + ")");
  EXPECT_EQ(bytes_of(run / "run.lock"), "pid " + std::to_string(::getpid()) + " on host " + host() + "\n");
  first.fit();  // the holder is unharmed
  EXPECT_TRUE(fs::exists(run / "summary.json"));
}

TEST_F(RunFolderTest, TheLockGoesWithTheRun) {
  const fs::path run = dir_ / "run";
  { Trainer first(tiny(), Device::cpu(), run.string(), true); }
  Trainer second(tiny(), Device::cpu(), run.string(), true);
  EXPECT_EQ(second.fit()["steps"], 16);
}

// The lock of another process (here this one, through its own open file).
TEST_F(RunFolderTest, ALockHeldElsewhereIsRespected) {
  const fs::path run = dir_ / "run";
  fs::create_directories(run);
  const int fd = ::open((run / "run.lock").c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  ASSERT_EQ(::write(fd, "pid 4242 on host elsewhere\n", 27), 27);
  EXPECT_NE(error_of([&] { RunFolder f(run.string()); }).find("in use by another run (pid 4242 on host elsewhere;"),
            std::string::npos);
  ::close(fd);
  RunFolder f(run.string());
  EXPECT_EQ(f.file("x.json"), (run / "x.json").string());
}

TEST_F(RunFolderTest, StaleTemporariesAreClearedAtTheStart) {
  const fs::path run = dir_ / "run";
  fs::create_directories(run);
  for (const char* f : {"checkpoint.safetensors.tmp", "summary.json.tmp", "notes.txt"}) std::ofstream(run / f) << "x";
  Trainer t(tiny(), Device::cpu(), run.string(), true);
  EXPECT_FALSE(fs::exists(run / "checkpoint.safetensors.tmp"));
  EXPECT_FALSE(fs::exists(run / "summary.json.tmp"));
  EXPECT_EQ(bytes_of(run / "notes.txt"), "x");
  t.fit();
  EXPECT_EQ(names_in(run), (std::vector<std::string>{"checkpoint.safetensors", "metrics.jsonl", "model.safetensors",
                                                     "notes.txt", "run.lock", "summary.json"}));
}

// summary.json cannot be renamed into place (a folder holds its name): the error names
// the file, and no summary.json.tmp is left.
TEST_F(RunFolderTest, AFailedWriteLeavesNoTemporary) {
  const fs::path run = dir_ / "run";
  fs::create_directories(run / "summary.json" / "in_the_way");
  Trainer t(tiny(), Device::cpu(), run.string(), true);
  EXPECT_NE(error_of([&] { t.fit(); }).find("cannot write " + (run / "summary.json").string()), std::string::npos);
  EXPECT_FALSE(fs::exists(run / "summary.json.tmp"));
  EXPECT_TRUE(fs::exists(run / "model.safetensors"));
}

TEST_F(RunFolderTest, AFailedMetricsWriteIsAnError) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full to stand for a full disk";
  const fs::path run = dir_ / "run";
  fs::create_directories(run);
  fs::create_symlink("/dev/full", run / "metrics.jsonl");
  Trainer t(tiny(), Device::cpu(), run.string(), true);
  EXPECT_EQ(error_of([&] { t.fit(); }), "cannot write " + (run / "metrics.jsonl").string() +
                                            ": No space left on device");
  EXPECT_FALSE(fs::exists(run / "summary.json"));
}

TEST_F(RunFolderTest, WholeFileWrites) {
  const std::string path = (dir_ / "a.json").string();
  write_file_atomic(path, "{\"a\": 1}\n");
  EXPECT_EQ(bytes_of(path), "{\"a\": 1}\n");
  write_file_atomic(path, "2\n");
  EXPECT_EQ(bytes_of(path), "2\n");
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  EXPECT_NE(error_of([&] { write_file_atomic((dir_ / "no" / "b.json").string(), "x"); })
                .find("cannot write " + (dir_ / "no" / "b.json").string() + ": No such file or directory"),
            std::string::npos);
}

}  // namespace
}  // namespace sprout::train
