// SPDX-License-Identifier: Apache-2.0
// ObjectStore over the real LocalBackend, SqliteCatalog and LocalKeyRing in
// a temporary directory: round trips, encryption at rest, tamper detection,
// multipart rules, copy, delete and crash leftovers.

#include "objects/object_store.h"

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "catalog/sqlite/sqlite_catalog.h"
#include "crypto/digest.h"
#include "keys/local/local_key_ring.h"
#include "storage/local/local_backend.h"

namespace strongroom::objects {
namespace {

namespace fs = std::filesystem;

Bytes Pattern(size_t size, uint8_t seed) {
  Bytes out(size);
  std::mt19937 rng(seed);
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

class ObjectStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string t = (fs::temp_directory_path() / "sr-objects-XXXXXX").string();
    root_ = mkdtemp(t.data());
    Open();
    ASSERT_TRUE(store_->CreateBucket("bucket", "owner").has_value());
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(root_);
  }
  void Open() {
    store_.reset();
    keys_ = *keys::LocalKeyRing::OpenOrCreate(root_ + "/keys");
    catalog_ = *catalog::Catalog::Open(root_ + "/catalog.db");
    backend_ = *storage::LocalBackend::Create(root_ + "/data");
    store_ = std::make_unique<ObjectStore>(*catalog_, *backend_, *keys_);
  }

  Result<ObjectInfo> Put(const std::string& key, ByteView data, BodyChecks checks = {}) {
    WriteRequest request{"bucket", key, "owner", {{"Content-Type", "text/plain"}}, checks};
    ByteViewSource body(data);
    return store_->PutObject(request, body);
  }

  Result<Bytes> Get(const std::string& key, uint64_t offset = 0,
                    std::optional<uint64_t> length = std::nullopt) {
    STRONGROOM_ASSIGN_OR_RETURN(auto reader, store_->OpenObject("bucket", key));
    uint64_t n = length.value_or(reader->info().size - offset);
    STRONGROOM_ASSIGN_OR_RETURN(auto source, reader->NewRangeSource(offset, n));
    Bytes out(n);
    STRONGROOM_ASSIGN_OR_RETURN(size_t got, ReadFull(*source, out));
    if (got != n) return DataLoss("short read");
    return out;
  }

  std::vector<fs::path> BlobFiles() {
    std::vector<fs::path> files;
    for (const auto& entry : fs::recursive_directory_iterator(root_ + "/data")) {
      std::string relative = fs::relative(entry.path(), root_ + "/data").string();
      if (entry.is_regular_file() && relative.rfind("tmp/", 0) != 0) {
        files.push_back(entry.path());
      }
    }
    return files;
  }

  std::string root_;
  std::unique_ptr<keys::LocalKeyRing> keys_;
  std::unique_ptr<catalog::Catalog> catalog_;
  std::unique_ptr<storage::LocalBackend> backend_;
  std::unique_ptr<ObjectStore> store_;
};

TEST_F(ObjectStoreTest, PutThenGetRoundTripsAtChunkEdges) {
  for (size_t size : {size_t{0}, size_t{1}, size_t{16383}, size_t{16384}, size_t{(1 << 20) + 3}}) {
    Bytes data = Pattern(size, 1);
    auto info = Put("k" + std::to_string(size), data);
    ASSERT_TRUE(info.has_value()) << info.error().ToString();
    EXPECT_EQ(info->size, size);
    EXPECT_EQ(info->etag, HexEncode(*crypto::Digest::Compute(crypto::Digest::Algorithm::kMd5, data)));
    auto back = Get("k" + std::to_string(size));
    ASSERT_TRUE(back.has_value()) << back.error().ToString();
    EXPECT_EQ(*back, data);
    auto head = store_->HeadObject("bucket", "k" + std::to_string(size));
    ASSERT_TRUE(head.has_value());
    EXPECT_EQ(head->attributes.front().second, "text/plain");
  }
  Bytes data = Pattern(100000, 2);
  ASSERT_TRUE(Put("ranged", data).has_value());
  auto middle = Get("ranged", 16380, 10);
  ASSERT_TRUE(middle.has_value());
  EXPECT_EQ(*middle, Bytes(data.begin() + 16380, data.begin() + 16390));
}

TEST_F(ObjectStoreTest, NothingOnDiskContainsThePlaintext) {
  std::string marker = "STRONGROOM-PLAINTEXT-MARKER-";
  std::string text;
  while (text.size() < (1 << 20)) text += marker;
  ASSERT_TRUE(Put("secret.txt", AsBytes(text)).has_value());
  for (const auto& entry : fs::recursive_directory_iterator(root_)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::string contents((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(contents.find(marker), std::string::npos) << entry.path();
  }
}

TEST_F(ObjectStoreTest, AFlippedByteOnDiskFailsTheReadWithDataLoss) {
  Bytes data = Pattern(200000, 3);
  ASSERT_TRUE(Put("k", data).has_value());
  auto files = BlobFiles();
  ASSERT_EQ(files.size(), 1u);
  {
    std::fstream f(files[0], std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100000);
    char c;
    f.read(&c, 1);
    f.seekp(100000);
    c ^= 1;
    f.write(&c, 1);
  }
  auto back = Get("k");
  ASSERT_FALSE(back.has_value());
  EXPECT_EQ(back.error().code(), ErrorCode::kDataLoss);
  // A range that avoids the damaged chunk still reads.
  EXPECT_TRUE(Get("k", 0, 1000).has_value());
}

TEST_F(ObjectStoreTest, SwappingTwoObjectsBlobsIsDetected) {
  Bytes a = Pattern(50000, 4), b = Pattern(50000, 5);
  ASSERT_TRUE(Put("a", a).has_value());
  ASSERT_TRUE(Put("b", b).has_value());
  auto files = BlobFiles();
  ASSERT_EQ(files.size(), 2u);
  fs::path temp = files[0].string() + ".swap";
  fs::rename(files[0], temp);
  fs::rename(files[1], files[0]);
  fs::rename(temp, files[1]);
  EXPECT_EQ(Get("a").error().code(), ErrorCode::kDataLoss);
  EXPECT_EQ(Get("b").error().code(), ErrorCode::kDataLoss);
}

TEST_F(ObjectStoreTest, ContentMd5MismatchStoresNothing) {
  BodyChecks checks;
  checks.content_md5 = Bytes(16, 0);
  auto put = Put("k", Pattern(1000, 6), checks);
  ASSERT_FALSE(put.has_value());
  EXPECT_EQ(put.error().reason(), "BadDigest");
  EXPECT_EQ(store_->HeadObject("bucket", "k").error().reason(), "NoSuchKey");
  EXPECT_TRUE(BlobFiles().empty());
}

TEST_F(ObjectStoreTest, ChecksumsAreComputedAndVerified) {
  BodyChecks checks;
  checks.checksum_algorithm = aws::ChecksumAlgorithm::kCrc32c;
  auto put = Put("k", AsBytes("hello"), checks);
  ASSERT_TRUE(put.has_value());
  bool found = false;
  for (const auto& [name, value] : put->attributes) {
    if (name == "x-amz-checksum-crc32c") {
      found = true;
      EXPECT_EQ(value, "mnG7TA==");  // CRC32C("hello") = 0x9a71bb4c
    }
  }
  EXPECT_TRUE(found);
  checks.expected_checksum = [] { return std::optional<std::string>("AAAAAA=="); };
  EXPECT_EQ(Put("k2", AsBytes("hello"), checks).error().reason(), "BadDigest");
}

TEST_F(ObjectStoreTest, OverwriteDeletesTheOldBlobAndDeleteRemovesTheNew) {
  ASSERT_TRUE(Put("k", Pattern(1000, 7)).has_value());
  ASSERT_TRUE(Put("k", Pattern(2000, 8)).has_value());
  EXPECT_EQ(BlobFiles().size(), 1u);
  EXPECT_EQ(Get("k")->size(), 2000u);
  ASSERT_TRUE(store_->DeleteObject("bucket", "k").has_value());
  EXPECT_TRUE(BlobFiles().empty());
  EXPECT_TRUE(store_->DeleteObject("bucket", "k").has_value());  // idempotent
  EXPECT_EQ(store_->DeleteObject("nobucket", "k").error().reason(), "NoSuchBucket");
}

TEST_F(ObjectStoreTest, MultipartUploadInAnyOrderWithARetriedPart) {
  WriteRequest request{"bucket", "big", "owner", {}, {}};
  auto upload = store_->CreateUpload(request);
  ASSERT_TRUE(upload.has_value());
  Bytes p1 = Pattern(kMinPartSize, 10), p2 = Pattern(kMinPartSize + 5, 11), p3 = Pattern(777, 12);
  auto upload_part = [&](uint32_t n, const Bytes& data) {
    ByteViewSource body(data);
    return store_->UploadPart(upload->upload_id, "bucket", "big", n, body, {});
  };
  auto e3 = upload_part(3, p3);
  auto stale = upload_part(2, Pattern(kMinPartSize, 99));
  auto e2 = upload_part(2, p2);  // the retry replaces the first attempt
  auto e1 = upload_part(1, p1);
  ASSERT_TRUE(e1 && e2 && e3 && stale);
  EXPECT_EQ(BlobFiles().size(), 3u);  // the stale attempt's blob is gone

  EXPECT_EQ(store_->CompleteUpload(upload->upload_id, "bucket", "big",
                                   {{2, e2->etag}, {1, e1->etag}})
                .error().reason(),
            "InvalidPartOrder");
  EXPECT_EQ(store_->CompleteUpload(upload->upload_id, "bucket", "big",
                                   {{1, e1->etag}, {2, stale->etag}})
                .error().reason(),
            "InvalidPart");
  EXPECT_EQ(store_->CompleteUpload(upload->upload_id, "bucket", "big",
                                   {{3, e3->etag}, {4, e3->etag}})
                .error().reason(),
            "InvalidPart");
  auto done = store_->CompleteUpload(upload->upload_id, "bucket", "big",
                                     {{1, "\"" + e1->etag + "\""}, {2, e2->etag}, {3, e3->etag}});
  ASSERT_TRUE(done.has_value()) << done.error().ToString();
  EXPECT_EQ(done->size, p1.size() + p2.size() + p3.size());
  EXPECT_EQ(done->etag.substr(done->etag.size() - 2), "-3");
  Bytes all = p1;
  all.insert(all.end(), p2.begin(), p2.end());
  all.insert(all.end(), p3.begin(), p3.end());
  EXPECT_EQ(*Get("big"), all);
  // A range across the part boundary.
  EXPECT_EQ(*Get("big", kMinPartSize - 10, 20),
            Bytes(all.begin() + kMinPartSize - 10, all.begin() + kMinPartSize + 10));
  EXPECT_EQ(store_->AbortUpload(upload->upload_id, "bucket", "big").error().reason(),
            "NoSuchUpload");
}

TEST_F(ObjectStoreTest, SmallPartsBeforeTheLastAreRejected) {
  auto upload = store_->CreateUpload({"bucket", "k", "owner", {}, {}});
  ASSERT_TRUE(upload.has_value());
  Bytes small = Pattern(1000, 13);
  ByteViewSource b1(small), b2(small);
  auto e1 = store_->UploadPart(upload->upload_id, "bucket", "k", 1, b1, {});
  auto e2 = store_->UploadPart(upload->upload_id, "bucket", "k", 2, b2, {});
  ASSERT_TRUE(e1 && e2);
  EXPECT_EQ(store_->CompleteUpload(upload->upload_id, "bucket", "k", {{1, e1->etag}, {2, e2->etag}})
                .error().reason(),
            "EntityTooSmall");
  ASSERT_TRUE(store_->AbortUpload(upload->upload_id, "bucket", "k").has_value());
  EXPECT_TRUE(BlobFiles().empty());
  ByteViewSource b3(small);
  EXPECT_EQ(store_->UploadPart(upload->upload_id, "bucket", "k", 3, b3, {}).error().reason(),
            "NoSuchUpload");
}

TEST_F(ObjectStoreTest, CopyReencryptsUnderANewKey) {
  Bytes data = Pattern(70000, 14);
  ASSERT_TRUE(Put("src", data).has_value());
  auto source = store_->OpenObject("bucket", "src");
  ASSERT_TRUE(source.has_value());
  auto copy = store_->CopyObject(**source, {"bucket", "dst", "owner", {}, {}});
  ASSERT_TRUE(copy.has_value()) << copy.error().ToString();
  EXPECT_EQ(*Get("dst"), data);
  auto files = BlobFiles();
  ASSERT_EQ(files.size(), 2u);
  std::ifstream a(files[0], std::ios::binary), b(files[1], std::ios::binary);
  std::string sa((std::istreambuf_iterator<char>(a)), {}), sb((std::istreambuf_iterator<char>(b)), {});
  EXPECT_NE(sa, sb);
}

TEST_F(ObjectStoreTest, OrphanBlobsFromACrashAreCleanedAtStart) {
  ASSERT_TRUE(Put("kept", Pattern(100, 15)).has_value());
  // A blob committed without a catalog record: a crash between the two steps.
  auto writer = backend_->Create(std::string_view("o/00000000000000000000000000000000"));
  ASSERT_TRUE(writer.has_value());
  ASSERT_TRUE((*writer)->Write(AsBytes("leftover")).has_value());
  ASSERT_TRUE((*writer)->Commit().has_value());
  Open();
  auto removed = store_->CleanOrphanBlobs();
  ASSERT_TRUE(removed.has_value());
  EXPECT_EQ(*removed, 1u);
  EXPECT_TRUE(Get("kept").has_value());
}

TEST_F(ObjectStoreTest, ConcurrentPutsToOneKeyLeaveOneWholeWrite) {
  std::vector<Bytes> payloads;
  for (int i = 0; i < 8; ++i) payloads.push_back(Pattern(300000 + i, static_cast<uint8_t>(20 + i)));
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] { EXPECT_TRUE(Put("contended", payloads[i]).has_value()); });
  }
  for (auto& t : threads) t.join();
  auto back = Get("contended");
  ASSERT_TRUE(back.has_value());
  EXPECT_NE(std::find(payloads.begin(), payloads.end(), *back), payloads.end());
  EXPECT_EQ(BlobFiles().size(), 1u);
}

TEST_F(ObjectStoreTest, AnOpenReaderKeepsReadingTheVersionItOpened) {
  Bytes first = Pattern(300000, 30), second = Pattern(1000, 31);
  ASSERT_TRUE(Put("k", first).has_value());
  auto reader = store_->OpenObject("bucket", "k");
  ASSERT_TRUE(reader.has_value());
  ASSERT_TRUE(Put("k", second).has_value());  // replaces the record and "deletes" the blob
  EXPECT_EQ(BlobFiles().size(), 2u);          // ...which waits for the reader
  auto source = (*reader)->NewRangeSource(0, first.size());
  ASSERT_TRUE(source.has_value());
  Bytes back(first.size());
  ASSERT_EQ(*ReadFull(**source, back), first.size());
  EXPECT_EQ(back, first);
  source->reset();
  reader->reset();
  EXPECT_EQ(BlobFiles().size(), 1u);  // the last reader closed: the old blob is gone
  EXPECT_EQ(*Get("k"), second);
}

TEST_F(ObjectStoreTest, NamesAreValidated) {
  EXPECT_EQ(store_->CreateBucket("Bad_Name", "o").error().reason(), "InvalidBucketName");
  EXPECT_EQ(store_->CreateBucket("ab", "o").error().reason(), "InvalidBucketName");
  EXPECT_EQ(store_->CreateBucket("192.168.1.1", "o").error().reason(), "InvalidBucketName");
  EXPECT_EQ(store_->CreateBucket("bucket", "owner").error().reason(), "BucketAlreadyOwnedByYou");
  EXPECT_EQ(Put(std::string(1025, 'k'), AsBytes("x")).error().reason(), "KeyTooLongError");
  EXPECT_EQ(Put("a/../b", AsBytes("x")).error().reason(), "InvalidArgument");
  EXPECT_EQ(Put(std::string("a\0b", 3), AsBytes("x")).error().reason(), "InvalidArgument");
  EXPECT_TRUE(Put("a/..b/.c", AsBytes("x")).has_value());
}

}  // namespace
}  // namespace strongroom::objects
