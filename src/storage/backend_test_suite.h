// SPDX-License-Identifier: Apache-2.0
#pragma once

// The conformance suite every storage::Backend must pass. Instantiate it with
// a factory type that has a default constructor and
//   std::unique_ptr<Backend> Make();
// returning a fresh, empty backend (the factory owns any scratch resources
// and releases them in its destructor, after the backend is destroyed):
//
//   INSTANTIATE_TYPED_TEST_SUITE_P(Local, BackendConformanceTest,
//                                  ::testing::Types<LocalBackendFactory>);

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <iterator>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/bytes.h"
#include "base/error.h"
#include "base/io.h"
#include "storage/backend.h"
#include "testing/test_util.h"

namespace strongroom::storage::testing {

using ::strongroom::testing::FailsWith;
using ::strongroom::testing::Pattern;

// Writes `data` in pieces of irregular sizes (so buffering boundaries are
// crossed) and commits.
inline Result<void> WriteBlob(Backend& backend, std::string_view name, ByteView data) {
  STRONGROOM_ASSIGN_OR_RETURN(auto writer, backend.Create(name));
  static constexpr size_t kPieces[] = {1, 7, 4096, 65536, 1 << 20, 3 << 20, 333};
  size_t offset = 0;
  for (size_t i = 0; offset < data.size(); ++i) {
    size_t n = std::min(kPieces[i % std::size(kPieces)], data.size() - offset);
    STRONGROOM_RETURN_IF_ERROR(writer->Write(data.subspan(offset, n)));
    offset += n;
  }
  return writer->Commit();
}

inline Result<Bytes> ReadAll(RandomAccessSource& source) {
  Bytes out(source.size());
  STRONGROOM_RETURN_IF_ERROR(source.ReadAt(0, out));
  return out;
}

inline Result<Bytes> ReadBlob(Backend& backend, std::string_view name) {
  STRONGROOM_ASSIGN_OR_RETURN(auto source, backend.Open(name));
  return ReadAll(*source);
}

inline std::vector<std::string> Names(const std::vector<BlobInfo>& infos) {
  std::vector<std::string> names;
  for (const auto& info : infos) names.push_back(info.name);
  return names;
}

template <typename Factory>
class BackendConformanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = factory_.Make();
    ASSERT_NE(backend_, nullptr);
  }
  Backend& backend() { return *backend_; }

  Factory factory_;
  std::unique_ptr<Backend> backend_;  // destroyed before factory_
};

TYPED_TEST_SUITE_P(BackendConformanceTest);

TYPED_TEST_P(BackendConformanceTest, CreateCommitOpenAndReadRanges) {
  Backend& backend = this->backend();
  Bytes data = Pattern(3 * 1024 * 1024 + 12345, 1);  // crosses the 1 MiB buffer
  ASSERT_TRUE(WriteBlob(backend, "objects/ab/0001", data));

  auto source = backend.Open("objects/ab/0001");
  ASSERT_TRUE(source) << source.error().ToString();
  ASSERT_EQ((*source)->size(), data.size());
  auto all = ReadAll(**source);
  ASSERT_TRUE(all);
  EXPECT_EQ(*all, data);

  for (auto [offset, length] : std::vector<std::pair<size_t, size_t>>{{0, 0},
                                                                      {0, 1},
                                                                      {1, 100},
                                                                      {1048575, 2},
                                                                      {2000000, 1048576},
                                                                      {data.size() - 1, 1},
                                                                      {data.size(), 0}}) {
    Bytes part(length);
    ASSERT_TRUE((*source)->ReadAt(offset, part)) << offset << "+" << length;
    EXPECT_TRUE(std::equal(part.begin(), part.end(), data.begin() + offset))
        << offset << "+" << length;
  }
}

TYPED_TEST_P(BackendConformanceTest, ConcurrentReadsOfOneSource) {
  Backend& backend = this->backend();
  Bytes data = Pattern(1 << 20, 2);
  ASSERT_TRUE(WriteBlob(backend, "shared", data));
  auto source = backend.Open("shared");
  ASSERT_TRUE(source);
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (size_t offset = t * 997; offset + 4096 <= data.size(); offset += 65536) {
        Bytes part(4096);
        if (!(*source)->ReadAt(offset, part) ||
            !std::equal(part.begin(), part.end(), data.begin() + offset)) {
          ++mismatches;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TYPED_TEST_P(BackendConformanceTest, UncommittedWriterIsInvisible) {
  Backend& backend = this->backend();
  auto writer = backend.Create("pending/blob");
  ASSERT_TRUE(writer);
  Bytes data = Pattern(2 << 20, 3);  // more than one buffer: some bytes hit the disk
  ASSERT_TRUE((*writer)->Write(data));
  EXPECT_TRUE(FailsWith(backend.Open("pending/blob"), ErrorCode::kNotFound));
  EXPECT_TRUE(FailsWith(backend.Stat("pending/blob"), ErrorCode::kNotFound));
  auto listed = backend.List("");
  ASSERT_TRUE(listed);
  EXPECT_TRUE(listed->empty());
  ASSERT_TRUE((*writer)->Commit());
  auto after = backend.Stat("pending/blob");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->size, data.size());
}

TYPED_TEST_P(BackendConformanceTest, DestroyWithoutCommitDiscards) {
  Backend& backend = this->backend();
  {
    auto writer = backend.Create("discarded");
    ASSERT_TRUE(writer);
    ASSERT_TRUE((*writer)->Write(Pattern(1000, 4)));
  }
  EXPECT_TRUE(FailsWith(backend.Open("discarded"), ErrorCode::kNotFound));

  // An abandoned replacement leaves the old blob untouched.
  Bytes old_data = Pattern(5000, 5);
  ASSERT_TRUE(WriteBlob(backend, "kept", old_data));
  {
    auto writer = backend.Create("kept");
    ASSERT_TRUE(writer);
    ASSERT_TRUE((*writer)->Write(Pattern(7000, 6)));
  }
  auto read = ReadBlob(backend, "kept");
  ASSERT_TRUE(read);
  EXPECT_EQ(*read, old_data);
  auto listed = backend.List("");
  ASSERT_TRUE(listed);
  EXPECT_EQ(Names(*listed), std::vector<std::string>{"kept"});
}

TYPED_TEST_P(BackendConformanceTest, WriterRefusesUseAfterCommit) {
  Backend& backend = this->backend();
  auto writer = backend.Create("once");
  ASSERT_TRUE(writer);
  ASSERT_TRUE((*writer)->Write(AsBytes("abc")));
  ASSERT_TRUE((*writer)->Commit());
  EXPECT_TRUE(FailsWith((*writer)->Write(AsBytes("d")), ErrorCode::kFailedPrecondition));
  EXPECT_TRUE(FailsWith((*writer)->Commit(), ErrorCode::kFailedPrecondition));
  writer->reset();  // destroying a committed writer keeps the blob
  auto read = ReadBlob(backend, "once");
  ASSERT_TRUE(read);
  EXPECT_EQ(AsChars(*read), "abc");
}

TYPED_TEST_P(BackendConformanceTest, ReplaceIsAtomicForOpenReaders) {
  Backend& backend = this->backend();
  Bytes old_data = Pattern(2 << 20, 7);
  Bytes new_data = Pattern(100, 8);
  ASSERT_TRUE(WriteBlob(backend, "dir/replaced", old_data));
  auto old_reader = backend.Open("dir/replaced");
  ASSERT_TRUE(old_reader);

  ASSERT_TRUE(WriteBlob(backend, "dir/replaced", new_data));
  auto new_read = ReadBlob(backend, "dir/replaced");
  ASSERT_TRUE(new_read);
  EXPECT_EQ(*new_read, new_data);
  auto stat = backend.Stat("dir/replaced");
  ASSERT_TRUE(stat);
  EXPECT_EQ(stat->size, new_data.size());

  // The reader opened before the replacement still sees the old bytes in full.
  EXPECT_EQ((*old_reader)->size(), old_data.size());
  auto old_read = ReadAll(**old_reader);
  ASSERT_TRUE(old_read);
  EXPECT_EQ(*old_read, old_data);

  // ... and after a delete, too.
  ASSERT_TRUE(backend.Delete("dir/replaced"));
  Bytes tail(10);
  ASSERT_TRUE((*old_reader)->ReadAt(old_data.size() - 10, tail));
  EXPECT_TRUE(std::equal(tail.begin(), tail.end(), old_data.end() - 10));
}

TYPED_TEST_P(BackendConformanceTest, DeleteIsIdempotent) {
  Backend& backend = this->backend();
  ASSERT_TRUE(WriteBlob(backend, "a/b/c", Pattern(10, 9)));
  ASSERT_TRUE(WriteBlob(backend, "a/b/d", Pattern(10, 10)));
  EXPECT_TRUE(backend.Delete("a/b/c"));
  EXPECT_TRUE(FailsWith(backend.Open("a/b/c"), ErrorCode::kNotFound));
  EXPECT_TRUE(backend.Delete("a/b/c"));
  EXPECT_TRUE(backend.Delete("never/existed"));
  EXPECT_TRUE(backend.Delete("a"));  // a "directory" of other blobs is no blob
  auto listed = backend.List("");
  ASSERT_TRUE(listed);
  EXPECT_EQ(Names(*listed), std::vector<std::string>{"a/b/d"});
  EXPECT_TRUE(backend.Delete("a/b/d"));
  listed = backend.List("");
  ASSERT_TRUE(listed);
  EXPECT_TRUE(listed->empty());
  // The name can be used again.
  ASSERT_TRUE(WriteBlob(backend, "a/b/c", Pattern(3, 11)));
  auto stat = backend.Stat("a/b/c");
  ASSERT_TRUE(stat);
  EXPECT_EQ(stat->size, 3u);
}

TYPED_TEST_P(BackendConformanceTest, StatReportsSizes) {
  Backend& backend = this->backend();
  for (size_t size : {0u, 1u, 4096u, 1048576u, 1048577u}) {
    std::string name = "sizes/" + std::to_string(size);
    ASSERT_TRUE(WriteBlob(backend, name, Pattern(size, size)));
    auto info = backend.Stat(name);
    ASSERT_TRUE(info) << info.error().ToString();
    EXPECT_EQ(info->name, name);
    EXPECT_EQ(info->size, size);
  }
  EXPECT_TRUE(FailsWith(backend.Stat("sizes/2"), ErrorCode::kNotFound));
  EXPECT_TRUE(FailsWith(backend.Stat("sizes"), ErrorCode::kNotFound));
}

TYPED_TEST_P(BackendConformanceTest, ListByPrefixIsSortedByBytes) {
  Backend& backend = this->backend();
  // Inserted out of order; includes names that are prefixes of others and
  // characters that sort before and after '/'.
  std::vector<std::string> names = {"b",       "a/z",   "a/b/c", "a-b", "a.b", "a/b",
                                    "a/b/c/d", "A",     "a_",    "a",   "a/",  "a0",
                                    "zz/top",  "a/b-c", "a/b.c", "a/bc"};
  for (size_t i = 0; i < names.size(); ++i) {
    ASSERT_TRUE(WriteBlob(backend, names[i], Pattern(i, i))) << names[i];
  }
  std::vector<std::string> sorted = names;
  std::sort(sorted.begin(), sorted.end());

  auto all = backend.List("");
  ASSERT_TRUE(all);
  EXPECT_EQ(Names(*all), sorted);
  for (const auto& info : *all) {
    size_t index = std::find(names.begin(), names.end(), info.name) - names.begin();
    EXPECT_EQ(info.size, index) << info.name;
  }

  for (std::string prefix :
       {"a", "a/", "a/b", "a/b/", "a/b/c", "a/b/c/", "b", "c", "zz/", "zz/t", "a/b/c/d/e", "A"}) {
    std::vector<std::string> expected;
    for (const auto& name : sorted) {
      if (std::string_view(name).starts_with(prefix)) expected.push_back(name);
    }
    auto listed = backend.List(prefix);
    ASSERT_TRUE(listed) << prefix;
    EXPECT_EQ(Names(*listed), expected) << "prefix '" << prefix << "'";
  }
}

TYPED_TEST_P(BackendConformanceTest, InvalidNamesAreRejected) {
  Backend& backend = this->backend();
  std::vector<std::string> invalid = {"",
                                      "..",
                                      "a/..",
                                      "../a",
                                      "a/../b",
                                      "a..b",
                                      "/a",
                                      "/",
                                      "a//b",
                                      "a/b//",
                                      "a b",
                                      "a\\b",
                                      "a:b",
                                      "a*",
                                      "\xc3\xa9",
                                      std::string("a\0b", 3),
                                      "a\nb",
                                      "~a",
                                      "+a",
                                      "=a",
                                      std::string(kMaxBlobNameSize + 1, 'x')};
  for (const std::string& name : invalid) {
    EXPECT_TRUE(FailsWith(ValidateBlobName(name), ErrorCode::kInvalidArgument)) << name;
    EXPECT_TRUE(FailsWith(backend.Create(name), ErrorCode::kInvalidArgument)) << name;
    EXPECT_TRUE(FailsWith(backend.Open(name), ErrorCode::kInvalidArgument)) << name;
    EXPECT_TRUE(FailsWith(backend.Stat(name), ErrorCode::kInvalidArgument)) << name;
    EXPECT_TRUE(FailsWith(backend.Delete(name), ErrorCode::kInvalidArgument)) << name;
  }
}

TYPED_TEST_P(BackendConformanceTest, EdgeCaseValidNamesRoundTrip) {
  Backend& backend = this->backend();
  std::string longest(kMaxBlobNameSize, 'x');
  std::string long_components =
      std::string(300, 'p') + "/" + std::string(200, 'q') + "/" + std::string(10, 'r');
  std::string many_slashes;
  while (many_slashes.size() + 2 <= kMaxBlobNameSize) many_slashes += "a/";
  std::vector<std::string> names = {".",
                                    "a/.",
                                    "./a",
                                    "a/./b",
                                    "a/",
                                    "a/b/",
                                    "-",
                                    "_",
                                    ".hidden",
                                    "a.",
                                    "a",
                                    "a/b",
                                    "A-Z_a-z.0-9",
                                    longest,
                                    long_components,
                                    many_slashes,
                                    longest.substr(0, 400) + "/y",
                                    std::string(200, 's'),
                                    std::string(201, 's'),
                                    std::string(400, 's') + "/"};
  for (size_t i = 0; i < names.size(); ++i) {
    ASSERT_TRUE(ValidateBlobName(names[i])) << names[i];
    auto written = WriteBlob(backend, names[i], Pattern(i + 1, i));
    ASSERT_TRUE(written) << names[i] << ": " << written.error().ToString();
  }
  for (size_t i = 0; i < names.size(); ++i) {
    auto read = ReadBlob(backend, names[i]);
    ASSERT_TRUE(read) << names[i] << ": " << read.error().ToString();
    EXPECT_EQ(*read, Pattern(i + 1, i)) << names[i];
  }
  std::vector<std::string> sorted = names;
  std::sort(sorted.begin(), sorted.end());
  auto listed = backend.List("");
  ASSERT_TRUE(listed);
  EXPECT_EQ(Names(*listed), sorted);
  for (const auto& name : names) ASSERT_TRUE(backend.Delete(name)) << name;
  listed = backend.List("");
  ASSERT_TRUE(listed);
  EXPECT_TRUE(listed->empty());
}

TYPED_TEST_P(BackendConformanceTest, RangedReadPastEndIsOutOfRange) {
  Backend& backend = this->backend();
  Bytes data = Pattern(1000, 12);
  ASSERT_TRUE(WriteBlob(backend, "ranged", data));
  auto source = backend.Open("ranged");
  ASSERT_TRUE(source);
  Bytes one(1), two(2), big(1001);
  EXPECT_TRUE(FailsWith((*source)->ReadAt(1000, one), ErrorCode::kOutOfRange));
  EXPECT_TRUE(FailsWith((*source)->ReadAt(999, two), ErrorCode::kOutOfRange));
  EXPECT_TRUE(FailsWith((*source)->ReadAt(0, big), ErrorCode::kOutOfRange));
  EXPECT_TRUE(FailsWith((*source)->ReadAt(UINT64_MAX, one), ErrorCode::kOutOfRange));
  EXPECT_TRUE(FailsWith((*source)->ReadAt(UINT64_MAX - 1, two), ErrorCode::kOutOfRange));
  EXPECT_TRUE((*source)->ReadAt(999, one));
  EXPECT_EQ(one[0], data[999]);
}

TYPED_TEST_P(BackendConformanceTest, ZeroByteBlob) {
  Backend& backend = this->backend();
  auto writer = backend.Create("empty");
  ASSERT_TRUE(writer);
  ASSERT_TRUE((*writer)->Write({}));
  ASSERT_TRUE((*writer)->Commit());
  auto source = backend.Open("empty");
  ASSERT_TRUE(source);
  EXPECT_EQ((*source)->size(), 0u);
  EXPECT_TRUE((*source)->ReadAt(0, {}));
  Bytes one(1);
  EXPECT_TRUE(FailsWith((*source)->ReadAt(0, one), ErrorCode::kOutOfRange));
  auto info = backend.Stat("empty");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->size, 0u);
  auto listed = backend.List("e");
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].size, 0u);
}

TYPED_TEST_P(BackendConformanceTest, ConcurrentWritersOfDifferentNames) {
  Backend& backend = this->backend();
  constexpr int kThreads = 8;
  constexpr int kBlobsPerThread = 20;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kBlobsPerThread; ++i) {
        // Threads share parent directories, and delete some blobs while
        // others create siblings (emptied directories get removed).
        std::string name =
            "shared/" + std::to_string(i % 3) + "/t" + std::to_string(t) + "-" + std::to_string(i);
        if (!WriteBlob(backend, name, Pattern(1000 + t * 100 + i, t * 1000 + i))) ++failures;
        if (i % 4 == 3 && !backend.Delete(name)) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  ASSERT_EQ(failures.load(), 0);
  auto listed = backend.List("shared/");
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->size(), size_t{kThreads * (kBlobsPerThread - kBlobsPerThread / 4)});
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kBlobsPerThread; ++i) {
      std::string name =
          "shared/" + std::to_string(i % 3) + "/t" + std::to_string(t) + "-" + std::to_string(i);
      auto read = ReadBlob(backend, name);
      if (i % 4 == 3) {
        EXPECT_TRUE(FailsWith(read, ErrorCode::kNotFound)) << name;
      } else {
        ASSERT_TRUE(read) << name;
        EXPECT_EQ(*read, Pattern(1000 + t * 100 + i, t * 1000 + i)) << name;
      }
    }
  }
}

TYPED_TEST_P(BackendConformanceTest, ConcurrentCreateOfOneNameLastCommitWins) {
  Backend& backend = this->backend();
  constexpr int kThreads = 6;
  constexpr int kRounds = 3;
  constexpr size_t kSize = (1 << 20) + 4097;  // more than one write buffer
  // Every byte of a content says which writer made it, so a mix is visible.
  std::vector<Bytes> contents;
  for (int t = 0; t < kThreads * kRounds; ++t) contents.emplace_back(kSize, uint8_t(t + 1));

  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  std::atomic<int> torn{0};
  std::thread reader([&] {
    while (!done.load()) {
      auto source = backend.Open("contended/blob");
      if (!source) {
        if (source.error().code() != ErrorCode::kNotFound) ++failures;
        continue;
      }
      auto bytes = ReadAll(**source);
      if (!bytes || bytes->size() != kSize ||
          std::count(bytes->begin(), bytes->end(), (*bytes)[0]) != std::ptrdiff_t(kSize)) {
        ++torn;
      }
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int round = 0; round < kRounds; ++round) {
        int id = round * kThreads + t;
        if (!WriteBlob(backend, "contended/blob", contents[id])) ++failures;
      }
    });
  }
  for (auto& thread : writers) thread.join();
  done = true;
  reader.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(torn.load(), 0);

  auto final_bytes = ReadBlob(backend, "contended/blob");
  ASSERT_TRUE(final_bytes);
  ASSERT_EQ(final_bytes->size(), kSize);
  bool matches_one = false;
  for (const Bytes& content : contents) matches_one = matches_one || *final_bytes == content;
  EXPECT_TRUE(matches_one) << "final content is not exactly one writer's";
  auto listed = backend.List("contended/");
  ASSERT_TRUE(listed);
  EXPECT_EQ(Names(*listed), std::vector<std::string>{"contended/blob"});

  // Sequential commits: the last one wins.
  auto first = backend.Create("contended/blob");
  auto second = backend.Create("contended/blob");
  ASSERT_TRUE(first && second);
  ASSERT_TRUE((*second)->Write(contents[1]));
  ASSERT_TRUE((*first)->Write(contents[0]));
  ASSERT_TRUE((*second)->Commit());
  ASSERT_TRUE((*first)->Commit());
  auto last = ReadBlob(backend, "contended/blob");
  ASSERT_TRUE(last);
  EXPECT_EQ(*last, contents[0]);
}

REGISTER_TYPED_TEST_SUITE_P(BackendConformanceTest, CreateCommitOpenAndReadRanges,
                            ConcurrentReadsOfOneSource, UncommittedWriterIsInvisible,
                            DestroyWithoutCommitDiscards, WriterRefusesUseAfterCommit,
                            ReplaceIsAtomicForOpenReaders, DeleteIsIdempotent, StatReportsSizes,
                            ListByPrefixIsSortedByBytes, InvalidNamesAreRejected,
                            EdgeCaseValidNamesRoundTrip, RangedReadPastEndIsOutOfRange,
                            ZeroByteBlob, ConcurrentWritersOfDifferentNames,
                            ConcurrentCreateOfOneNameLastCommitWins);

}  // namespace strongroom::storage::testing
