// SPDX-License-Identifier: Apache-2.0
// MemoryBackend: the conformance suite, plus snapshot lifetimes.

#include "storage/memory/memory_backend.h"

#include <gtest/gtest.h>

#include <memory>

#include "storage/backend_test_suite.h"

namespace strongroom::storage::testing {
namespace {

struct MemoryBackendFactory {
  std::unique_ptr<Backend> Make() { return std::make_unique<MemoryBackend>(); }
};

INSTANTIATE_TYPED_TEST_SUITE_P(Memory, BackendConformanceTest,
                               ::testing::Types<MemoryBackendFactory>);

TEST(MemoryBackendTest, SourcesAndWritersOutliveTheBackend) {
  auto backend = std::make_unique<MemoryBackend>();
  ASSERT_TRUE(WriteBlob(*backend, "kept", AsBytes("hello")));
  auto source = backend->Open("kept");
  ASSERT_TRUE(source);
  auto writer = backend->Create("late");
  ASSERT_TRUE(writer);
  backend.reset();
  auto bytes = ReadAll(**source);
  ASSERT_TRUE(bytes);
  EXPECT_EQ(AsChars(*bytes), "hello");
  EXPECT_TRUE((*writer)->Write(AsBytes("x")));
  EXPECT_TRUE((*writer)->Commit());  // lands in the orphaned state; harmless
}

TEST(MemoryBackendTest, CountsBlobsAndBytes) {
  MemoryBackend backend;
  EXPECT_EQ(backend.blob_count(), 0u);
  ASSERT_TRUE(WriteBlob(backend, "a", Pattern(10, 1)));
  ASSERT_TRUE(WriteBlob(backend, "b/c", Pattern(20, 2)));
  ASSERT_TRUE(WriteBlob(backend, "a", Pattern(5, 3)));
  EXPECT_EQ(backend.blob_count(), 2u);
  EXPECT_EQ(backend.total_bytes(), 25u);
  ASSERT_TRUE(backend.Delete("a"));
  EXPECT_EQ(backend.blob_count(), 1u);
  EXPECT_EQ(backend.total_bytes(), 20u);
}

}  // namespace
}  // namespace strongroom::storage::testing
