// SPDX-License-Identifier: Apache-2.0
// LocalBackend: the conformance suite, the on-disk layout and name mapping,
// temporary files and crash leftovers, foreign files, directory pruning.

#include "storage/local/local_backend.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "storage/backend_test_suite.h"
#include "testing/test_util.h"

namespace strongroom::storage::testing {
namespace {

using ::strongroom::testing::ScratchDir;

struct LocalBackendFactory {
  ScratchDir dir;
  std::unique_ptr<Backend> Make() {
    auto backend = LocalBackend::Create(dir.path() + "/store");
    return backend ? std::move(backend).value() : nullptr;
  }
};

INSTANTIATE_TYPED_TEST_SUITE_P(Local, BackendConformanceTest,
                               ::testing::Types<LocalBackendFactory>);

std::vector<std::string> DirEntries(const std::string& path) {
  std::vector<std::string> out;
  for (const auto& entry : std::filesystem::directory_iterator(path)) {
    out.push_back(entry.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

void WriteRawFile(const std::string& path, std::string_view content, bool sync) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(::write(fd, content.data(), content.size()), ssize_t(content.size()));
  if (sync) {
    ASSERT_EQ(::fsync(fd), 0);
  }
  ASSERT_EQ(::close(fd), 0);
}

class LocalBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = scratch_.path() + "/deep/er/root";
    auto backend = LocalBackend::Create(root_);
    ASSERT_TRUE(backend) << backend.error().ToString();
    backend_ = std::move(backend).value();
  }
  // Blob operations through the interface (Create is overloaded on LocalBackend).
  Backend& blobs() { return *backend_; }

  ScratchDir scratch_;
  std::string root_;
  std::unique_ptr<LocalBackend> backend_;
};

TEST_F(LocalBackendTest, CreateMakesTheLayout) {
  EXPECT_EQ(backend_->root(), root_);
  EXPECT_EQ(backend_->blobs_dir(), root_ + "/blobs");
  EXPECT_EQ(backend_->tmp_dir(), root_ + "/tmp");
  EXPECT_TRUE(std::filesystem::is_directory(root_ + "/blobs"));
  EXPECT_TRUE(std::filesystem::is_directory(root_ + "/tmp"));
  // Opening an existing root again works; a trailing slash is tolerated.
  auto again = LocalBackend::Create(root_ + "/");
  ASSERT_TRUE(again);
  EXPECT_EQ((*again)->root(), root_);
  // A root that is a file is refused.
  WriteRawFile(scratch_.path() + "/file", "x", false);
  EXPECT_FALSE(LocalBackend::Create(scratch_.path() + "/file"));
  EXPECT_TRUE(FailsWith(LocalBackend::Create(std::string()), ErrorCode::kInvalidArgument));
}

TEST_F(LocalBackendTest, NameMappingIsDocumentedLayout) {
  std::string blobs = root_ + "/blobs";
  EXPECT_EQ(*backend_->BlobPath("objects/ab/0001"), blobs + "/+objects/+ab/=0001");
  EXPECT_EQ(*backend_->BlobPath("x"), blobs + "/=x");
  EXPECT_EQ(*backend_->BlobPath("x/"), blobs + "/+x/=");
  EXPECT_EQ(*backend_->BlobPath("./."), blobs + "/+./=.");
  std::string a200(200, 'a'), b200(200, 'b');
  EXPECT_EQ(*backend_->BlobPath(a200), blobs + "/=" + a200);
  EXPECT_EQ(*backend_->BlobPath(a200 + "c"), blobs + "/~" + a200 + "/=c");
  EXPECT_EQ(*backend_->BlobPath(a200 + b200 + "/z"), blobs + "/~" + a200 + "/+" + b200 + "/=z");
  EXPECT_TRUE(FailsWith(backend_->BlobPath("../x"), ErrorCode::kInvalidArgument));

  ASSERT_TRUE(WriteBlob(*backend_, "objects/ab/0001", AsBytes("one")));
  std::ifstream file(blobs + "/+objects/+ab/=0001");
  std::string content((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, "one");
  struct stat st;
  ASSERT_EQ(::stat((blobs + "/+objects/+ab/=0001").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(LocalBackendTest, WriterUsesATemporaryFileUntilCommit) {
  std::string tmp = backend_->tmp_dir();
  {
    auto writer = blobs().Create("staged");
    ASSERT_TRUE(writer);
    ASSERT_TRUE((*writer)->Write(Pattern(3 << 20, 1)));
    auto entries = DirEntries(tmp);
    ASSERT_EQ(entries.size(), 1u);
    struct stat st;
    ASSERT_EQ(::stat((tmp + "/" + entries[0]).c_str(), &st), 0);
    EXPECT_GE(st.st_size, 2 << 20);  // buffered in 1 MiB units, flushed as it goes
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_TRUE(DirEntries(backend_->blobs_dir()).empty());
  }
  EXPECT_TRUE(DirEntries(tmp).empty()) << "destroying the writer unlinks its temp file";

  auto writer = blobs().Create("staged");
  ASSERT_TRUE(writer);
  ASSERT_TRUE((*writer)->Write(AsBytes("abc")));
  ASSERT_TRUE((*writer)->Commit());
  EXPECT_TRUE(DirEntries(tmp).empty());
  EXPECT_TRUE(Exists(*backend_->BlobPath("staged")));
  writer->reset();
  EXPECT_TRUE(Exists(*backend_->BlobPath("staged"))) << "destroying a committed writer keeps it";
}

TEST_F(LocalBackendTest, CleanTemporaryFilesRemovesLeftoversButNotLiveWriters) {
  std::string tmp = backend_->tmp_dir();
  WriteRawFile(tmp + "/w-left1", "partial", false);
  WriteRawFile(tmp + "/other", "", false);
  ASSERT_EQ(::mkdir((tmp + "/emptydir").c_str(), 0700), 0);
  auto live = blobs().Create("live/blob");
  ASSERT_TRUE(live);
  ASSERT_TRUE((*live)->Write(AsBytes("still writing")));

  auto removed = backend_->CleanTemporaryFiles();
  ASSERT_TRUE(removed) << removed.error().ToString();
  EXPECT_EQ(*removed, 3u);
  EXPECT_EQ(DirEntries(tmp).size(), 1u);  // the live writer's file

  ASSERT_TRUE((*live)->Commit());
  auto read = ReadBlob(*backend_, "live/blob");
  ASSERT_TRUE(read);
  EXPECT_EQ(AsChars(*read), "still writing");
  EXPECT_TRUE(DirEntries(tmp).empty());
  removed = backend_->CleanTemporaryFiles();
  ASSERT_TRUE(removed);
  EXPECT_EQ(*removed, 0u);
}

TEST_F(LocalBackendTest, CrashLeftoverIsNotListedAndIsCleanedOnRestart) {
  // What a crash between write and rename leaves: a complete, fsynced file
  // in tmp/ that never got its name.
  ASSERT_TRUE(WriteBlob(*backend_, "committed", AsBytes("ok")));
  std::string leftover = backend_->tmp_dir() + "/w-crash1";
  WriteRawFile(leftover, std::string(100000, 'z'), true);

  auto listed = backend_->List("");
  ASSERT_TRUE(listed);
  EXPECT_EQ(Names(*listed), std::vector<std::string>{"committed"});

  // "Restart": a new backend on the same root cleans up at start.
  backend_.reset();
  auto restarted = LocalBackend::Create(root_);
  ASSERT_TRUE(restarted);
  EXPECT_TRUE(Exists(leftover));
  auto removed = (*restarted)->CleanTemporaryFiles();
  ASSERT_TRUE(removed);
  EXPECT_EQ(*removed, 1u);
  EXPECT_FALSE(Exists(leftover));
  listed = (*restarted)->List("");
  ASSERT_TRUE(listed);
  EXPECT_EQ(Names(*listed), std::vector<std::string>{"committed"});
  auto read = ReadBlob(**restarted, "committed");
  ASSERT_TRUE(read);
  EXPECT_EQ(AsChars(*read), "ok");
}

TEST_F(LocalBackendTest, ListIgnoresForeignFiles) {
  std::string blobs = backend_->blobs_dir();
  ASSERT_TRUE(WriteBlob(*backend_, "dir/real", AsBytes("1")));
  WriteRawFile(blobs + "/README", "not a blob", false);
  WriteRawFile(blobs + "/+dir/stray", "not a blob", false);
  ASSERT_EQ(::mkdir((blobs + "/~short").c_str(), 0700), 0);  // non-canonical split
  WriteRawFile(blobs + "/~short/=x", "not canonical", false);
  WriteRawFile(blobs + "/=bad name", "invalid name", false);
  ASSERT_EQ(::mkdir((blobs + "/=adir").c_str(), 0700), 0);  // a directory where a file belongs
  ASSERT_EQ(::symlink((blobs + "/+dir/=real").c_str(), (blobs + "/=link").c_str()), 0);
  WriteRawFile(blobs + "/+notadir", "a file where a directory belongs", false);
  ASSERT_EQ(::symlink((blobs + "/+dir").c_str(), (blobs + "/+linkdir").c_str()), 0);
  auto listed = backend_->List("");
  ASSERT_TRUE(listed) << listed.error().ToString();
  EXPECT_EQ(Names(*listed), std::vector<std::string>{"dir/real"});
}

TEST_F(LocalBackendTest, DeleteRemovesDirectoriesItEmpties) {
  std::string blobs = backend_->blobs_dir();
  ASSERT_TRUE(WriteBlob(*backend_, "a/b/c/one", AsBytes("1")));
  ASSERT_TRUE(WriteBlob(*backend_, "a/two", AsBytes("2")));
  ASSERT_TRUE(backend_->Delete("a/b/c/one"));
  EXPECT_FALSE(Exists(blobs + "/+a/+b"));
  EXPECT_TRUE(Exists(blobs + "/+a/=two"));
  ASSERT_TRUE(backend_->Delete("a/two"));
  EXPECT_TRUE(DirEntries(blobs).empty());
  EXPECT_TRUE(std::filesystem::is_directory(blobs)) << "the root of the blobs stays";
}

TEST_F(LocalBackendTest, CommitSurvivesConcurrentPruningOfItsDirectory) {
  // One thread keeps emptying (and so removing) a directory that another
  // keeps committing into.
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::thread churn([&] {
    while (!stop.load()) {
      if (!WriteBlob(*backend_, "hot/dir/churn", AsBytes("c")) ||
          !backend_->Delete("hot/dir/churn")) {
        ++failures;
      }
    }
  });
  for (int i = 0; i < 300; ++i) {
    std::string name = "hot/dir/keep" + std::to_string(i % 2);
    if (!WriteBlob(*backend_, name, AsBytes(std::to_string(i)))) ++failures;
    if (i % 2 == 1) {
      if (!backend_->Delete("hot/dir/keep0") || !backend_->Delete("hot/dir/keep1")) ++failures;
    }
  }
  stop = true;
  churn.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(LocalBackendTest, AnotherBackendOnTheSameRootSeesCommittedBlobs) {
  auto other = LocalBackend::Create(root_);
  ASSERT_TRUE(other);
  ASSERT_TRUE(WriteBlob(*backend_, "shared/x", AsBytes("from one")));
  auto read = ReadBlob(**other, "shared/x");
  ASSERT_TRUE(read);
  EXPECT_EQ(AsChars(*read), "from one");
  ASSERT_TRUE((*other)->Delete("shared/x"));
  EXPECT_TRUE(FailsWith(backend_->Open("shared/x"), ErrorCode::kNotFound));
}

TEST_F(LocalBackendTest, WritersOutliveTheBackend) {
  auto writer = blobs().Create("late");
  ASSERT_TRUE(writer);
  backend_.reset();
  ASSERT_TRUE((*writer)->Write(AsBytes("late bytes")));
  ASSERT_TRUE((*writer)->Commit());
  auto reopened = LocalBackend::Create(root_);
  ASSERT_TRUE(reopened);
  auto read = ReadBlob(**reopened, "late");
  ASSERT_TRUE(read);
  EXPECT_EQ(AsChars(*read), "late bytes");
}

}  // namespace
}  // namespace strongroom::storage::testing
