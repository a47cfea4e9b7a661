// SPDX-License-Identifier: Apache-2.0
// ObjectStore over the real LocalBackend and SqliteCatalog in a temporary
// directory, with an in-memory key ring (FakeKeyRing below): round trips in
// every SSE mode, AWS's SSE-C errors, KMS grants and key states, sealed
// attributes, derived ETags, copy-in-place re-wraps, tamper detection,
// multipart rules, copy, delete and crash leftovers.

#include "objects/object_store.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "catalog/sqlite/sqlite_catalog.h"
#include "crypto/digest.h"
#include "crypto/hkdf.h"
#include "crypto/sealed_box.h"
#include "format/envelope.h"
#include "keys/key_directory.h"
#include "objects/encryption_facts.h"
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

Bytes B(std::string_view text) { return Bytes(text.begin(), text.end()); }
std::string AsString(ByteView data) { return std::string(AsChars(data)); }

Bytes Md5(ByteView data) { return *crypto::Digest::Compute(crypto::Digest::Algorithm::kMd5, data); }

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// An in-memory key ring with the KeyRing contract's errors: a fixed root,
// the SSE-S3 key and two KMS keys, each with a current version; keys can be
// disabled or rotated and the ring sealed. KEKs are HKDF of the root.
class FakeKeyRing : public keys::KeyRing {
 public:
  static constexpr std::string_view kKmsA = "0b5c1f36-9f61-4c0e-9d1c-5ad0e9b8a001";
  static constexpr std::string_view kKmsB = "7e4a2d10-3c58-4b7f-8a21-c3f4d5e6b002";

  FakeKeyRing() : root_(Pattern(32, 77)) {
    versions_[std::string(keys::kSseS3KeyId)] = 1;
    versions_[std::string(kKmsA)] = 1;
    versions_[std::string(kKmsB)] = 1;
  }

  void SetDisabled(std::string_view key_id, bool disabled) {
    std::lock_guard lock(mutex_);
    if (disabled) disabled_.insert(std::string(key_id));
    else disabled_.erase(std::string(key_id));
  }
  void Rotate(std::string_view key_id) {
    std::lock_guard lock(mutex_);
    ++versions_[std::string(key_id)];
  }
  void SetSealed(bool sealed) {
    std::lock_guard lock(mutex_);
    sealed_ = sealed;
  }

  bool sealed() const override {
    std::lock_guard lock(mutex_);
    return sealed_;
  }
  Result<keys::Kek> CurrentKek(std::string_view key_id) override {
    std::lock_guard lock(mutex_);
    auto it = versions_.find(std::string(key_id));
    return Lookup(key_id, it == versions_.end() ? 1 : it->second);
  }
  Result<keys::Kek> FindKek(std::string_view provider_id, std::string_view key_ref) override {
    std::lock_guard lock(mutex_);
    auto slash = key_ref.rfind('/');
    if (provider_id != keys::kRootProvider || slash == std::string_view::npos) {
      return tl::unexpected(Error(ErrorCode::kNotFound, "no such key")
                                .WithReason("KMS.NotFoundException"));
    }
    uint32_t version = static_cast<uint32_t>(std::stoul(std::string(key_ref.substr(slash + 1))));
    return Lookup(key_ref.substr(0, slash), version);
  }
  Result<Bytes> Seal(std::string_view purpose, ByteView plaintext, ByteView aad) override {
    STRONGROOM_RETURN_IF_ERROR(CheckUnsealed());
    return crypto::SealBox(root_, purpose, plaintext, aad);
  }
  Result<crypto::SecretBytes> Unseal(std::string_view purpose, ByteView sealed,
                                     ByteView aad) override {
    STRONGROOM_RETURN_IF_ERROR(CheckUnsealed());
    return crypto::OpenBox(root_, purpose, sealed, aad);
  }

 private:
  Result<void> CheckUnsealed() {
    std::lock_guard lock(mutex_);
    if (sealed_) {
      return tl::unexpected(
          Error(ErrorCode::kUnavailable, "sealed").WithReason("ServiceUnavailable"));
    }
    return Ok();
  }
  // Called with mutex_ held.
  Result<keys::Kek> Lookup(std::string_view key_id, uint32_t version) {
    if (sealed_) {
      return tl::unexpected(
          Error(ErrorCode::kUnavailable, "sealed").WithReason("ServiceUnavailable"));
    }
    auto it = versions_.find(std::string(key_id));
    if (it == versions_.end() || version == 0 || version > it->second) {
      return tl::unexpected(Error(ErrorCode::kNotFound, "Key '" + std::string(key_id) +
                                                            "' does not exist")
                                .WithReason("KMS.NotFoundException"));
    }
    if (disabled_.count(std::string(key_id))) {
      return tl::unexpected(Error(ErrorCode::kFailedPrecondition, "key is disabled")
                                .WithReason("KMS.DisabledException"));
    }
    std::string info = "fake-kek/" + std::string(key_id) + "/" + std::to_string(version);
    auto material = crypto::HkdfSha512(root_, {}, AsBytes(info), 32);
    if (!material) return tl::unexpected(material.error());
    keys::Kek kek;
    kek.provider_id = std::string(keys::kRootProvider);
    kek.key_ref = std::string(key_id) + "/" + std::to_string(version);
    kek.key_id = std::string(key_id);
    kek.version = version;
    kek.material = std::make_shared<const crypto::SecretBytes>(std::move(*material));
    return kek;
  }

  mutable std::mutex mutex_;
  Bytes root_;
  std::map<std::string, uint32_t> versions_;
  std::set<std::string> disabled_;
  bool sealed_ = false;
};

CustomerKey MakeCustomerKey(uint8_t seed) {
  Bytes key = Pattern(32, seed);
  return CustomerKey{crypto::SecretBytes::CopyFrom(key), "md5-of-key-" + std::to_string(seed)};
}

class ObjectStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string t = (fs::temp_directory_path() / "sr-objects-XXXXXX").string();
    root_ = mkdtemp(t.data());
    keys_ = std::make_unique<FakeKeyRing>();
    Open();
    ASSERT_TRUE(store_->CreateBucket("bucket", "owner").has_value());
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(root_);
  }
  void Open() {
    store_.reset();
    catalog_ = *catalog::Catalog::Open(root_ + "/catalog.db");
    backend_ = *storage::LocalBackend::Create(root_ + "/data");
    store_ = std::make_unique<ObjectStore>(*catalog_, *backend_, *keys_);
  }

  EncryptionRequest S3() { return {}; }
  EncryptionRequest Kms(std::string_view key_id = FakeKeyRing::kKmsA, std::string context = "") {
    EncryptionRequest request;
    request.mode = SseMode::kKms;
    request.kms_key_id = std::string(key_id);
    request.kms_context = std::move(context);
    return request;
  }
  EncryptionRequest SseC(const CustomerKey& key) {
    EncryptionRequest request;
    request.mode = SseMode::kCustomer;
    request.customer_key = &key;
    return request;
  }
  static ReadAccess With(const CustomerKey& key) { return ReadAccess{&key, {}}; }

  Result<ObjectInfo> Put(const std::string& key, ByteView data, BodyChecks checks = {},
                         EncryptionRequest encryption = {}, Attributes attributes = {
                                                                {"Content-Type", "text/plain"}}) {
    WriteRequest request{"bucket", key, "owner", std::move(attributes), checks, encryption};
    ByteViewSource body(data);
    return store_->PutObject(request, body);
  }
  Result<ObjectInfo> PutIn(EncryptionRequest encryption, const std::string& key, ByteView data,
                           Attributes attributes = {{"Content-Type", "text/plain"}}) {
    return Put(key, data, {}, encryption, std::move(attributes));
  }

  Result<Bytes> Get(const std::string& key, const ReadAccess& access = {}, uint64_t offset = 0,
                    std::optional<uint64_t> length = std::nullopt) {
    STRONGROOM_ASSIGN_OR_RETURN(auto reader, store_->OpenObject("bucket", key, access));
    uint64_t n = length.value_or(reader->info().size - offset);
    STRONGROOM_ASSIGN_OR_RETURN(auto source, reader->NewRangeSource(offset, n));
    Bytes out(n);
    STRONGROOM_ASSIGN_OR_RETURN(size_t got, ReadFull(*source, out));
    if (got != n) return DataLoss("short read");
    return out;
  }
  Result<Bytes> Get(const std::string& key, uint64_t offset, uint64_t length) {
    return Get(key, ReadAccess{}, offset, length);
  }

  std::vector<fs::path> BlobFiles() {
    std::vector<fs::path> files;
    for (const auto& entry : fs::recursive_directory_iterator(root_ + "/data")) {
      std::string relative = fs::relative(entry.path(), root_ + "/data").string();
      if (entry.is_regular_file() && relative.rfind("tmp/", 0) != 0) {
        files.push_back(entry.path());
      }
    }
    std::sort(files.begin(), files.end());
    return files;
  }
  std::map<std::string, std::string> BlobContents() {
    std::map<std::string, std::string> out;
    for (const fs::path& file : BlobFiles()) out[file.string()] = ReadFile(file);
    return out;
  }

  // Rewrites the catalog record of `key` through `edit`.
  void EditRecord(const std::string& key, const std::function<void(catalog::Object&)>& edit) {
    auto object = catalog_->GetObject("bucket", key);
    ASSERT_TRUE(object.has_value());
    edit(*object);
    ASSERT_TRUE(catalog_->PutObject(*object).has_value());
  }

  // Uploads `parts` as a multipart upload under `encryption` and completes it.
  Result<ObjectInfo> Multipart(const std::string& key, const std::vector<Bytes>& parts,
                               EncryptionRequest encryption, const ReadAccess& access = {},
                               const ReadAccess& complete_access = {}) {
    STRONGROOM_ASSIGN_OR_RETURN(
        catalog::Upload upload,
        store_->CreateUpload({"bucket", key, "owner", {{"x-amz-meta-kind", "multi"}}, {},
                              encryption}));
    std::vector<CompletedPart> done;
    for (size_t i = 0; i < parts.size(); ++i) {
      ByteViewSource body(parts[i]);
      STRONGROOM_ASSIGN_OR_RETURN(
          PartInfo part, store_->UploadPart(upload.upload_id, "bucket", key,
                                            static_cast<uint32_t>(i + 1), body, {}, access));
      done.push_back({part.part_number, part.etag});
    }
    return store_->CompleteUpload(upload.upload_id, "bucket", key, done, complete_access);
  }

  std::string root_;
  std::unique_ptr<FakeKeyRing> keys_;
  std::unique_ptr<catalog::Catalog> catalog_;
  std::unique_ptr<storage::LocalBackend> backend_;
  std::unique_ptr<ObjectStore> store_;
};

// ------------------------------------------------------------- round trips

TEST_F(ObjectStoreTest, PutThenGetRoundTripsAtChunkEdges) {
  for (size_t size : {size_t{0}, size_t{1}, size_t{16383}, size_t{16384}, size_t{(1 << 20) + 3}}) {
    Bytes data = Pattern(size, 1);
    auto info = Put("k" + std::to_string(size), data);
    ASSERT_TRUE(info.has_value()) << info.error().ToString();
    EXPECT_EQ(info->size, size);
    EXPECT_EQ(info->etag, HexEncode(Md5(data)));  // SSE-S3: the plaintext MD5
    EXPECT_EQ(info->encryption.mode, SseMode::kS3);
    auto back = Get("k" + std::to_string(size));
    ASSERT_TRUE(back.has_value()) << back.error().ToString();
    EXPECT_EQ(*back, data);
    auto head = store_->HeadObject("bucket", "k" + std::to_string(size), {});
    ASSERT_TRUE(head.has_value());
    ASSERT_EQ(head->attributes.size(), 1u);  // the sealed MD5 is not an attribute
    EXPECT_EQ(head->attributes.front().second, "text/plain");
    EXPECT_EQ(head->etag, info->etag);
  }
  Bytes data = Pattern(100000, 2);
  ASSERT_TRUE(Put("ranged", data).has_value());
  auto middle = Get("ranged", 16380, 10);
  ASSERT_TRUE(middle.has_value());
  EXPECT_EQ(*middle, Bytes(data.begin() + 16380, data.begin() + 16390));
}

TEST_F(ObjectStoreTest, EveryModeRoundTripsWithRangesAndReportsItsFacts) {
  CustomerKey customer = MakeCustomerKey(40);
  Bytes data = Pattern(100000, 41);
  struct Case {
    std::string name;
    EncryptionRequest request;
    ReadAccess access;
  };
  std::vector<Case> cases = {{"s3", S3(), {}},
                             {"kms", Kms(FakeKeyRing::kKmsA, R"({"team":"blue"})"), {}},
                             {"ssec", SseC(customer), With(customer)}};
  std::set<std::string> etags;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto put = PutIn(c.request, c.name, data);
    ASSERT_TRUE(put.has_value()) << put.error().ToString();
    EXPECT_EQ(put->encryption.mode, c.request.mode);
    EXPECT_EQ(put->etag.size(), 32u);
    etags.insert(put->etag);
    auto back = Get(c.name, c.access);
    ASSERT_TRUE(back.has_value()) << back.error().ToString();
    EXPECT_EQ(*back, data);
    for (auto [a, b] : {std::pair<uint64_t, uint64_t>{0, 1}, {16383, 16385}, {50000, 100000},
                        {99999, 100000}, {7, 7}}) {
      auto range = Get(c.name, c.access, a, b - a);
      ASSERT_TRUE(range.has_value()) << range.error().ToString();
      EXPECT_EQ(*range, Bytes(data.begin() + a, data.begin() + b));
    }
    auto head = store_->HeadObject("bucket", c.name, c.access);
    ASSERT_TRUE(head.has_value()) << head.error().ToString();
    EXPECT_EQ(head->etag, put->etag);
    EXPECT_EQ(head->encryption.mode, c.request.mode);
    EXPECT_EQ(head->encryption.kms_key_id, c.request.kms_key_id);
    EXPECT_EQ(head->encryption.kms_context, c.request.kms_context);
    EXPECT_EQ(head->attributes, (Attributes{{"Content-Type", "text/plain"}}));
    // Listings show the same ETag and size without unwrapping anything.
    auto listed = store_->ListObjects({"bucket", c.name, "", "", 10});
    ASSERT_TRUE(listed.has_value());
    ASSERT_EQ(listed->objects.size(), 1u);
    EXPECT_EQ(listed->objects[0].etag, put->etag);
    EXPECT_EQ(listed->objects[0].size, data.size());
  }
  // Only SSE-S3's ETag is the MD5; SSE-KMS and SSE-C ETags differ from it
  // and from each other (different DEKs).
  EXPECT_EQ(etags.size(), 3u);
  EXPECT_TRUE(etags.count(HexEncode(Md5(data))));
}

TEST_F(ObjectStoreTest, KmsEnvelopesNameTheKeyVersionAndKekRef) {
  ASSERT_TRUE(PutIn(Kms(FakeKeyRing::kKmsB), "k", AsBytes("hello")).has_value());
  auto record = catalog_->GetObject("bucket", "k");
  ASSERT_TRUE(record.has_value());
  auto envelope = format::ParseEnvelope(record->envelope);
  ASSERT_TRUE(envelope.has_value());
  EXPECT_EQ(envelope->scheme, format::WrapScheme::kLocalKek);
  EXPECT_EQ(envelope->provider_id, "strongroom");
  EXPECT_EQ(envelope->key_id, std::string(FakeKeyRing::kKmsB) + "/1");
  EXPECT_EQ(record->kek_ref, "strongroom:" + std::string(FakeKeyRing::kKmsB) + "/1");
  // A rotated key wraps new objects under its new version; old ones still read.
  keys_->Rotate(FakeKeyRing::kKmsB);
  ASSERT_TRUE(PutIn(Kms(FakeKeyRing::kKmsB), "k2", AsBytes("world")).has_value());
  EXPECT_EQ(catalog_->GetObject("bucket", "k2")->kek_ref,
            "strongroom:" + std::string(FakeKeyRing::kKmsB) + "/2");
  EXPECT_EQ(*Get("k"), B("hello"));
}

TEST_F(ObjectStoreTest, SseCEnvelopesStoreNothingKeyDerived) {
  CustomerKey customer = MakeCustomerKey(42);
  ASSERT_TRUE(PutIn(SseC(customer), "k", AsBytes("hello")).has_value());
  auto record = catalog_->GetObject("bucket", "k");
  ASSERT_TRUE(record.has_value());
  auto envelope = format::ParseEnvelope(record->envelope);
  ASSERT_TRUE(envelope.has_value());
  EXPECT_EQ(envelope->scheme, format::WrapScheme::kCustomerKey);
  EXPECT_EQ(envelope->provider_id, "sse-c");
  EXPECT_EQ(envelope->key_id, "");
  EXPECT_EQ(record->kek_ref, "");
  std::string all = AsString(record->envelope) + AsString(record->encryption) +
                    AsString(record->attributes) + AsString(record->manifest) + record->etag;
  EXPECT_EQ(all.find(customer.key_md5), std::string::npos);
  EXPECT_EQ(all.find(AsString(Md5(customer.key.reveal()))), std::string::npos);
}

// ---------------------------------------------------------------- SSE-C

TEST_F(ObjectStoreTest, SseCReadErrorsAreAwss) {
  CustomerKey right = MakeCustomerKey(1), wrong = MakeCustomerKey(2);
  ASSERT_TRUE(PutIn(SseC(right), "c", Pattern(1000, 3)).has_value());
  ASSERT_TRUE(PutIn(S3(), "plain", Pattern(1000, 4)).has_value());
  ASSERT_TRUE(PutIn(Kms(), "kms", Pattern(1000, 5)).has_value());

  for (bool head : {false, true}) {
    SCOPED_TRACE(head ? "HEAD" : "GET");
    auto read = [&](const std::string& key, const ReadAccess& access) -> Result<void> {
      if (head) return store_->HeadObject("bucket", key, access).map([](auto&&) {});
      return store_->OpenObject("bucket", key, access).map([](auto&&) {});
    };
    auto none = read("c", {});
    ASSERT_FALSE(none.has_value());
    EXPECT_EQ(none.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(none.error().reason(), "InvalidRequest");
    EXPECT_EQ(none.error().message(),
              "The object was stored using a form of Server Side Encryption. The correct "
              "parameters must be provided to retrieve the object.");
    auto bad = read("c", With(wrong));
    ASSERT_FALSE(bad.has_value());
    EXPECT_EQ(bad.error().code(), ErrorCode::kPermissionDenied);
    EXPECT_EQ(bad.error().reason(), "AccessDenied");
    EXPECT_EQ(bad.error().message(),
              "Requests specifying Server Side Encryption with Customer provided keys must "
              "provide the correct secret key.");
    for (const std::string key : {"plain", "kms"}) {
      auto extra = read(key, With(right));
      ASSERT_FALSE(extra.has_value());
      EXPECT_EQ(extra.error().code(), ErrorCode::kInvalidArgument);
      EXPECT_EQ(extra.error().reason(), "InvalidRequest");
      EXPECT_EQ(extra.error().message(),
                "The encryption parameters are not applicable to this object.");
    }
    EXPECT_TRUE(read("c", With(right)).has_value());
  }
  // HEAD without a key learns nothing sealed; the listing still shows the object.
  auto listed = store_->ListObjects({"bucket", "c", "", "", 10});
  ASSERT_TRUE(listed.has_value());
  EXPECT_EQ(listed->objects.size(), 1u);
}

TEST_F(ObjectStoreTest, SseCMultipartNeedsTheSameKeyOnEveryPartButNotOnComplete) {
  CustomerKey right = MakeCustomerKey(5), wrong = MakeCustomerKey(6);
  auto upload = store_->CreateUpload({"bucket", "mp", "owner", {{"Content-Type", "a/b"}}, {},
                                      SseC(right)});
  ASSERT_TRUE(upload.has_value()) << upload.error().ToString();
  auto facts = store_->UploadEncryption(upload->upload_id, "bucket", "mp");
  ASSERT_TRUE(facts.has_value());
  EXPECT_EQ(facts->mode, SseMode::kCustomer);

  Bytes p1 = Pattern(kMinPartSize, 7), p2 = Pattern(3000, 8);
  BodyChecks crc;
  crc.checksum_algorithm = aws::ChecksumAlgorithm::kCrc32c;
  auto upload_part = [&](uint32_t n, const Bytes& data, const ReadAccess& access) {
    ByteViewSource body(data);
    return store_->UploadPart(upload->upload_id, "bucket", "mp", n, body, crc, access);
  };
  auto missing = upload_part(1, p1, {});
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().reason(), "InvalidRequest");
  EXPECT_EQ(missing.error().message(),
            "The multipart upload initiate requested encryption. Subsequent part requests must "
            "include the appropriate encryption parameters.");
  auto different = upload_part(1, p1, With(wrong));
  ASSERT_FALSE(different.has_value());
  EXPECT_EQ(different.error().reason(), "InvalidRequest");
  EXPECT_EQ(different.error().message(),
            "The provided encryption parameters did not match the ones used originally.");
  EXPECT_TRUE(BlobFiles().empty());  // nothing stored for refused parts

  auto e1 = upload_part(1, p1, With(right));
  auto e2 = upload_part(2, p2, With(right));
  ASSERT_TRUE(e1 && e2) << (e1 ? e2.error().ToString() : e1.error().ToString());
  EXPECT_NE(e1->etag, HexEncode(Md5(p1)));  // SSE-C part ETags are not MD5s
  EXPECT_EQ(e1->attributes.size(), 1u);

  // ListParts: checksums only with the key.
  auto without = store_->ListParts(upload->upload_id, "bucket", "mp", 0, 100, {});
  ASSERT_TRUE(without.has_value()) << without.error().ToString();
  ASSERT_EQ(without->parts.size(), 2u);
  EXPECT_TRUE(without->parts[0].attributes.empty());
  EXPECT_EQ(without->parts[1].etag, e2->etag);
  auto with_key = store_->ListParts(upload->upload_id, "bucket", "mp", 0, 100, With(right));
  ASSERT_TRUE(with_key.has_value());
  EXPECT_EQ(with_key->parts[0].attributes, e1->attributes);
  auto with_wrong = store_->ListParts(upload->upload_id, "bucket", "mp", 0, 100, With(wrong));
  ASSERT_TRUE(with_wrong.has_value());
  EXPECT_TRUE(with_wrong->parts[0].attributes.empty());

  std::vector<CompletedPart> parts = {{1, e1->etag}, {2, e2->etag}};
  auto wrong_complete = store_->CompleteUpload(upload->upload_id, "bucket", "mp", parts,
                                               With(wrong));
  ASSERT_FALSE(wrong_complete.has_value());
  EXPECT_EQ(wrong_complete.error().reason(), "InvalidRequest");
  EXPECT_EQ(wrong_complete.error().message(),
            "The object was stored using a form of Server Side Encryption. Correct SSE-C "
            "request parameters are required for this request when specifying checksums for "
            "each part.");
  // As s3transfer does: no SSE-C headers on CompleteMultipartUpload.
  auto done = store_->CompleteUpload(upload->upload_id, "bucket", "mp", parts, {});
  ASSERT_TRUE(done.has_value()) << done.error().ToString();
  EXPECT_TRUE(done->attributes.empty());
  EXPECT_EQ(done->encryption.mode, SseMode::kCustomer);
  EXPECT_EQ(done->parts_count, 2u);

  Bytes all = p1;
  all.insert(all.end(), p2.begin(), p2.end());
  EXPECT_EQ(Get("mp", {}).error().reason(), "InvalidRequest");
  EXPECT_EQ(Get("mp", With(wrong)).error().reason(), "AccessDenied");
  EXPECT_EQ(*Get("mp", With(right)), all);
  EXPECT_EQ(*Get("mp", With(right), kMinPartSize - 5, 10),
            Bytes(all.begin() + kMinPartSize - 5, all.begin() + kMinPartSize + 5));
  auto head = store_->HeadObject("bucket", "mp", With(right));
  ASSERT_TRUE(head.has_value()) << head.error().ToString();
  EXPECT_EQ(head->attributes, (Attributes{{"Content-Type", "a/b"}}));
  EXPECT_EQ(head->etag, done->etag);
}

TEST_F(ObjectStoreTest, SseCHeadersOnAPlainUploadAreRefused) {
  CustomerKey key = MakeCustomerKey(9);
  auto upload = store_->CreateUpload({"bucket", "mp", "owner", {}, {}, S3()});
  ASSERT_TRUE(upload.has_value());
  Bytes data = Pattern(100, 1);
  ByteViewSource body(data);
  auto part = store_->UploadPart(upload->upload_id, "bucket", "mp", 1, body, {}, With(key));
  ASSERT_FALSE(part.has_value());
  EXPECT_EQ(part.error().reason(), "InvalidRequest");
  ByteViewSource body2(data);
  auto ok = store_->UploadPart(upload->upload_id, "bucket", "mp", 1, body2, {}, {});
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->etag, HexEncode(Md5(data)));
  auto complete = store_->CompleteUpload(upload->upload_id, "bucket", "mp", {{1, ok->etag}},
                                         With(key));
  ASSERT_FALSE(complete.has_value());
  EXPECT_EQ(complete.error().reason(), "InvalidRequest");
  EXPECT_TRUE(
      store_->CompleteUpload(upload->upload_id, "bucket", "mp", {{1, ok->etag}}, {}).has_value());
}

// ------------------------------------------------------------- multipart

TEST_F(ObjectStoreTest, MultipartRoundTripsInEveryModeWithModeEtags) {
  CustomerKey customer = MakeCustomerKey(11);
  Bytes p1 = Pattern(kMinPartSize, 12), p2 = Pattern(20000, 13);
  Bytes all = p1;
  all.insert(all.end(), p2.begin(), p2.end());
  struct Case {
    std::string name;
    EncryptionRequest request;
    ReadAccess access;
  };
  std::vector<Case> cases = {{"s3", S3(), {}},
                             {"kms", Kms(FakeKeyRing::kKmsB, R"({"a":"1"})"), {}},
                             {"ssec", SseC(customer), With(customer)}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto done = Multipart(c.name, {p1, p2}, c.request, c.access, c.access);
    ASSERT_TRUE(done.has_value()) << done.error().ToString();
    EXPECT_EQ(done->etag.substr(done->etag.size() - 2), "-2");
    EXPECT_EQ(done->attributes, (Attributes{{"x-amz-meta-kind", "multi"}}));
    Bytes concat = Md5(p1);
    Append(concat, Md5(p2));
    bool is_md5_etag = done->etag == HexEncode(Md5(concat)) + "-2";
    EXPECT_EQ(is_md5_etag, c.request.mode == SseMode::kS3);
    EXPECT_EQ(*Get(c.name, c.access), all);
    EXPECT_EQ(*Get(c.name, c.access, kMinPartSize - 1, 2),
              Bytes(all.begin() + kMinPartSize - 1, all.begin() + kMinPartSize + 1));
    auto head = store_->HeadObject("bucket", c.name, c.access);
    ASSERT_TRUE(head.has_value()) << head.error().ToString();
    EXPECT_EQ(head->parts_count, 2u);
    EXPECT_EQ(head->encryption.kms_context, c.request.kms_context);
  }
}

TEST_F(ObjectStoreTest, MultipartUploadInAnyOrderWithARetriedPart) {
  WriteRequest request{"bucket", "big", "owner", {}, {}, {}};
  auto upload = store_->CreateUpload(request);
  ASSERT_TRUE(upload.has_value());
  Bytes p1 = Pattern(kMinPartSize, 10), p2 = Pattern(kMinPartSize + 5, 11), p3 = Pattern(777, 12);
  auto upload_part = [&](uint32_t n, const Bytes& data) {
    ByteViewSource body(data);
    return store_->UploadPart(upload->upload_id, "bucket", "big", n, body, {}, {});
  };
  auto e3 = upload_part(3, p3);
  auto stale = upload_part(2, Pattern(kMinPartSize, 99));
  auto e2 = upload_part(2, p2);  // the retry replaces the first attempt
  auto e1 = upload_part(1, p1);
  ASSERT_TRUE(e1 && e2 && e3 && stale);
  EXPECT_EQ(BlobFiles().size(), 3u);  // the stale attempt's blob is gone

  EXPECT_EQ(store_->CompleteUpload(upload->upload_id, "bucket", "big",
                                   {{2, e2->etag}, {1, e1->etag}}, {})
                .error().reason(),
            "InvalidPartOrder");
  EXPECT_EQ(store_->CompleteUpload(upload->upload_id, "bucket", "big",
                                   {{1, e1->etag}, {2, stale->etag}}, {})
                .error().reason(),
            "InvalidPart");
  EXPECT_EQ(store_->CompleteUpload(upload->upload_id, "bucket", "big",
                                   {{3, e3->etag}, {4, e3->etag}}, {})
                .error().reason(),
            "InvalidPart");
  auto done = store_->CompleteUpload(upload->upload_id, "bucket", "big",
                                     {{1, "\"" + e1->etag + "\""}, {2, e2->etag}, {3, e3->etag}},
                                     {});
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
  auto upload = store_->CreateUpload({"bucket", "k", "owner", {}, {}, {}});
  ASSERT_TRUE(upload.has_value());
  Bytes small = Pattern(1000, 13);
  ByteViewSource b1(small), b2(small);
  auto e1 = store_->UploadPart(upload->upload_id, "bucket", "k", 1, b1, {}, {});
  auto e2 = store_->UploadPart(upload->upload_id, "bucket", "k", 2, b2, {}, {});
  ASSERT_TRUE(e1 && e2);
  EXPECT_EQ(store_->CompleteUpload(upload->upload_id, "bucket", "k",
                                   {{1, e1->etag}, {2, e2->etag}}, {})
                .error().reason(),
            "EntityTooSmall");
  ASSERT_TRUE(store_->AbortUpload(upload->upload_id, "bucket", "k").has_value());
  EXPECT_TRUE(BlobFiles().empty());
  ByteViewSource b3(small);
  EXPECT_EQ(store_->UploadPart(upload->upload_id, "bucket", "k", 3, b3, {}, {}).error().reason(),
            "NoSuchUpload");
}

TEST_F(ObjectStoreTest, ListPartsUnsealsChecksumsForS3AndKms) {
  for (EncryptionRequest request : {S3(), Kms()}) {
    auto upload = store_->CreateUpload({"bucket", "lp", "owner", {}, {}, request});
    ASSERT_TRUE(upload.has_value());
    BodyChecks checks;
    checks.checksum_algorithm = aws::ChecksumAlgorithm::kCrc32c;
    ByteViewSource body(AsBytes("hello"));
    auto part = store_->UploadPart(upload->upload_id, "bucket", "lp", 1, body, checks, {});
    ASSERT_TRUE(part.has_value());
    auto page = store_->ListParts(upload->upload_id, "bucket", "lp", 0, 10, {});
    ASSERT_TRUE(page.has_value()) << page.error().ToString();
    ASSERT_EQ(page->parts.size(), 1u);
    EXPECT_EQ(page->parts[0].attributes,
              (Attributes{{"x-amz-checksum-crc32c", "mnG7TA=="}}));
    // The part's sealed checksums are not in the catalog in clear.
    auto stored = catalog_->ListParts(upload->upload_id, 0, 10);
    ASSERT_TRUE(stored.has_value());
    EXPECT_EQ(AsString(stored->parts[0].attributes).find("mnG7TA=="), std::string::npos);
    // A KMS key the caller may not use omits them instead of failing.
    ReadAccess denied;
    denied.may_use_kms_key = [](const std::string&) -> Result<void> {
      return tl::unexpected(Error(ErrorCode::kPermissionDenied, "no").WithReason("AccessDenied"));
    };
    auto listed = store_->ListParts(upload->upload_id, "bucket", "lp", 0, 10, denied);
    ASSERT_TRUE(listed.has_value());
    EXPECT_EQ(listed->parts[0].attributes.empty(), request.mode == SseMode::kKms);
    ASSERT_TRUE(store_->AbortUpload(upload->upload_id, "bucket", "lp").has_value());
  }
}

// ------------------------------------------------------------------- KMS

TEST_F(ObjectStoreTest, KmsReadsAskForTheGrantFirstAndPropagateKeyErrors) {
  ASSERT_TRUE(PutIn(Kms(FakeKeyRing::kKmsA), "k", AsBytes("data")).has_value());
  std::vector<std::string> asked;
  ReadAccess denied;
  denied.may_use_kms_key = [&](const std::string& id) -> Result<void> {
    asked.push_back(id);
    return tl::unexpected(
        Error(ErrorCode::kPermissionDenied, "not granted").WithReason("AccessDenied"));
  };
  auto read = store_->OpenObject("bucket", "k", denied);
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().reason(), "AccessDenied");
  EXPECT_EQ(asked, std::vector<std::string>{std::string(FakeKeyRing::kKmsA)});
  EXPECT_EQ(store_->HeadObject("bucket", "k", denied).error().reason(), "AccessDenied");

  ReadAccess allowed;
  allowed.may_use_kms_key = [](const std::string&) -> Result<void> { return Ok(); };
  EXPECT_TRUE(Get("k", allowed).has_value());

  keys_->SetDisabled(FakeKeyRing::kKmsA, true);
  EXPECT_EQ(Get("k").error().reason(), "KMS.DisabledException");
  EXPECT_EQ(PutIn(Kms(FakeKeyRing::kKmsA), "k2", AsBytes("x")).error().reason(),
            "KMS.DisabledException");
  EXPECT_EQ(store_->CreateUpload({"bucket", "k3", "owner", {}, {}, Kms(FakeKeyRing::kKmsA)})
                .error().reason(),
            "KMS.DisabledException");
  keys_->SetDisabled(FakeKeyRing::kKmsA, false);
  EXPECT_TRUE(Get("k").has_value());

  EXPECT_EQ(PutIn(Kms("no-such-key"), "k4", AsBytes("x")).error().reason(),
            "KMS.NotFoundException");
  keys_->SetSealed(true);
  EXPECT_EQ(Get("k").error().reason(), "ServiceUnavailable");
  EXPECT_EQ(PutIn(S3(), "k5", AsBytes("x")).error().reason(), "ServiceUnavailable");
  keys_->SetSealed(false);
  EXPECT_TRUE(BlobFiles().size() == 1u);  // refused writes stored nothing
}

TEST_F(ObjectStoreTest, KmsContextIsBoundIntoTheEnvelope) {
  ASSERT_TRUE(PutIn(Kms(FakeKeyRing::kKmsA, R"({"project":"apollo"})"), "k", AsBytes("data"))
                  .has_value());
  EditRecord("k", [](catalog::Object& object) {
    auto stored = DecodeStoredEncryption(object.encryption);
    ASSERT_TRUE(stored.has_value());
    stored->facts.kms_context = R"({"project":"gemini"})";
    object.encryption = *EncodeStoredEncryption(*stored);
  });
  auto read = Get("k");
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().code(), ErrorCode::kDataLoss);
  // Claiming another KMS key in the facts is caught as well.
  EditRecord("k", [](catalog::Object& object) {
    auto stored = DecodeStoredEncryption(object.encryption);
    stored->facts.kms_context = R"({"project":"apollo"})";
    stored->facts.kms_key_id = std::string(FakeKeyRing::kKmsB);
    object.encryption = *EncodeStoredEncryption(*stored);
  });
  EXPECT_EQ(Get("k").error().code(), ErrorCode::kDataLoss);
  EditRecord("k", [](catalog::Object& object) {
    auto stored = DecodeStoredEncryption(object.encryption);
    stored->facts.kms_key_id = std::string(FakeKeyRing::kKmsA);
    object.encryption = *EncodeStoredEncryption(*stored);
  });
  EXPECT_EQ(*Get("k"), B("data"));
}

// -------------------------------------------------------- sealed metadata

TEST_F(ObjectStoreTest, AttributesAndTheMd5AreNotInTheCatalogInClear) {
  const std::string canary = "CANARY-7f3a9-user-metadata";
  Bytes data = B("body with a known MD5");
  std::string md5_hex = HexEncode(Md5(data));
  CustomerKey customer = MakeCustomerKey(20);
  Attributes attributes = {{"Content-Type", "application/x-canary-type"},
                           {"x-amz-meta-secret", canary}};
  BodyChecks checks;
  checks.checksum_algorithm = aws::ChecksumAlgorithm::kSha256;
  ASSERT_TRUE(Put("kms", data, checks, Kms(), attributes).has_value());
  ASSERT_TRUE(Put("ssec", data, checks, SseC(customer), attributes).has_value());
  ASSERT_TRUE(Put("s3", data, checks, S3(), attributes).has_value());
  std::string checksum = aws::Base64Encode(
      *crypto::Digest::Compute(crypto::Digest::Algorithm::kSha256, data));
  for (const std::string key : {"kms", "ssec", "s3"}) {
    SCOPED_TRACE(key);
    auto record = catalog_->GetObject("bucket", key);
    ASSERT_TRUE(record.has_value());
    std::string raw = AsString(record->attributes) + AsString(record->encryption) +
                      AsString(record->envelope) + AsString(record->manifest) + record->kek_ref;
    EXPECT_EQ(raw.find(canary), std::string::npos);
    EXPECT_EQ(raw.find("x-amz-meta-secret"), std::string::npos);
    EXPECT_EQ(raw.find("application/x-canary-type"), std::string::npos);
    EXPECT_EQ(raw.find(checksum), std::string::npos);
    EXPECT_EQ(raw.find(md5_hex), std::string::npos);
    EXPECT_EQ(raw.find(AsString(Md5(data))), std::string::npos);
    if (key != "s3") {
      EXPECT_NE(record->etag, md5_hex);
    }
  }
  // ...nor anywhere in the database files (WAL included) or the data directory.
  for (const auto& entry : fs::recursive_directory_iterator(root_)) {
    if (!entry.is_regular_file()) continue;
    std::string contents = ReadFile(entry.path());
    EXPECT_EQ(contents.find(canary), std::string::npos) << entry.path();
    EXPECT_EQ(contents.find("application/x-canary-type"), std::string::npos) << entry.path();
  }
  // Reads give them back.
  auto head = store_->HeadObject("bucket", "ssec", With(customer));
  ASSERT_TRUE(head.has_value());
  Attributes expected = attributes;
  expected.emplace_back("x-amz-checksum-sha256", checksum);
  EXPECT_EQ(head->attributes, expected);
}

TEST_F(ObjectStoreTest, NothingOnDiskContainsThePlaintext) {
  std::string marker = "STRONGROOM-PLAINTEXT-MARKER-";
  std::string text;
  while (text.size() < (1 << 20)) text += marker;
  ASSERT_TRUE(Put("secret.txt", AsBytes(text)).has_value());
  for (const auto& entry : fs::recursive_directory_iterator(root_)) {
    if (!entry.is_regular_file()) continue;
    EXPECT_EQ(ReadFile(entry.path()).find(marker), std::string::npos) << entry.path();
  }
}

// ------------------------------------------------------------- integrity

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

TEST_F(ObjectStoreTest, TamperedRecordsFailClosedWithDataLoss) {
  CustomerKey customer = MakeCustomerKey(30);
  struct Mode {
    std::string name;
    EncryptionRequest request;
    ReadAccess access;
  };
  std::vector<Mode> modes = {{"s3", S3(), {}},
                             {"kms", Kms(FakeKeyRing::kKmsA, "{}"), {}},
                             {"ssec", SseC(customer), With(customer)}};
  using Edit = std::function<void(catalog::Object&)>;
  auto flip_last = [](Bytes& bytes) { bytes.back() ^= 1; };
  std::vector<std::pair<std::string, Edit>> edits = {
      {"attributes box", [&](catalog::Object& o) { flip_last(o.attributes); }},
      {"attributes box swapped for an empty one", [&](catalog::Object& o) { o.attributes = {}; }},
      {"manifest tag", [&](catalog::Object& o) { flip_last(o.manifest); }},
      {"catalog ETag", [&](catalog::Object& o) { o.etag[0] = o.etag[0] == 'a' ? 'b' : 'a'; }},
      {"catalog size", [&](catalog::Object& o) { o.size += 1; }},
      {"encryption facts", [&](catalog::Object& o) { o.encryption = {0x01}; }},
  };
  for (const Mode& mode : modes) {
    if (mode.request.mode != SseMode::kCustomer) {
      // A flipped wrapped DEK under a KEK we hold is corruption; for SSE-C
      // it is indistinguishable from a wrong key (AccessDenied).
      edits.emplace_back("envelope", [&](catalog::Object& o) { flip_last(o.envelope); });
    }
    for (const auto& [what, edit] : edits) {
      SCOPED_TRACE(mode.name + ": " + what);
      std::string key = mode.name + "-" + what;
      ASSERT_TRUE(PutIn(mode.request, key, Pattern(40000, 31)).has_value());
      EditRecord(key, edit);
      auto read = Get(key, mode.access);
      ASSERT_FALSE(read.has_value());
      EXPECT_EQ(read.error().code(), ErrorCode::kDataLoss) << read.error().ToString();
      auto head = store_->HeadObject("bucket", key, mode.access);
      ASSERT_FALSE(head.has_value());
      EXPECT_EQ(head.error().code(), ErrorCode::kDataLoss) << head.error().ToString();
    }
    if (mode.request.mode != SseMode::kCustomer) edits.pop_back();
  }
  // Claiming SSE-S3 for an SSE-C object: the envelope disagrees.
  ASSERT_TRUE(PutIn(SseC(customer), "claims-s3", AsBytes("x")).has_value());
  EditRecord("claims-s3", [](catalog::Object& o) {
    o.encryption = *EncodeStoredEncryption(StoredEncryption{});
  });
  EXPECT_EQ(Get("claims-s3").error().code(), ErrorCode::kDataLoss);
  // An SSE-C envelope with a modified wrapped DEK: the right key fails the tag.
  ASSERT_TRUE(PutIn(SseC(customer), "flipped", AsBytes("x")).has_value());
  EditRecord("flipped", [&](catalog::Object& o) { flip_last(o.envelope); });
  EXPECT_EQ(Get("flipped", With(customer)).error().reason(), "AccessDenied");
}

TEST_F(ObjectStoreTest, TamperedMultipartRecordsFailClosed) {
  CustomerKey customer = MakeCustomerKey(32);
  Bytes p1 = Pattern(kMinPartSize, 33), p2 = Pattern(100, 34);
  ASSERT_TRUE(Multipart("c", {p1, p2}, SseC(customer), With(customer)).has_value());
  ASSERT_TRUE(Multipart("s", {p1, p2}, S3()).has_value());
  // The SSE-C manifest key is sealed for this object id: breaking it fails.
  EditRecord("c", [](catalog::Object& o) {
    auto stored = DecodeStoredEncryption(o.encryption);
    stored->sealed_manifest_key.back() ^= 1;
    o.encryption = *EncodeStoredEncryption(*stored);
  });
  EXPECT_EQ(Get("c", With(customer)).error().code(), ErrorCode::kDataLoss);
  // Dropping a part from the record: the manifest disagrees.
  EditRecord("s", [](catalog::Object& o) {
    o.blobs.pop_back();
    o.size -= 100;
  });
  EXPECT_EQ(Get("s").error().code(), ErrorCode::kDataLoss);

  // A part's sealed checksums: ListParts fails rather than listing them.
  auto upload = store_->CreateUpload({"bucket", "u", "owner", {}, {}, S3()});
  ASSERT_TRUE(upload.has_value());
  ByteViewSource body(p2);
  ASSERT_TRUE(store_->UploadPart(upload->upload_id, "bucket", "u", 1, body, {}, {}).has_value());
  auto parts = catalog_->GetParts(upload->upload_id);
  ASSERT_TRUE(parts.has_value());
  catalog::Part part = parts->front();
  part.attributes.back() ^= 1;
  ASSERT_TRUE(catalog_->PutPart(part).has_value());
  EXPECT_EQ(store_->ListParts(upload->upload_id, "bucket", "u", 0, 10, {}).error().code(),
            ErrorCode::kDataLoss);
}

// -------------------------------------------------------------------- copy

TEST_F(ObjectStoreTest, CopyReencryptsUnderANewKey) {
  Bytes data = Pattern(70000, 14);
  ASSERT_TRUE(Put("src", data).has_value());
  auto source = store_->OpenObject("bucket", "src", {});
  ASSERT_TRUE(source.has_value());
  auto copy = store_->CopyObject(**source, {"bucket", "dst", "owner", {}, {}, {}});
  ASSERT_TRUE(copy.has_value()) << copy.error().ToString();
  EXPECT_EQ(*Get("dst"), data);
  auto files = BlobFiles();
  ASSERT_EQ(files.size(), 2u);
  EXPECT_NE(ReadFile(files[0]), ReadFile(files[1]));
}

TEST_F(ObjectStoreTest, CopyAcrossModesAndKeys) {
  CustomerKey k1 = MakeCustomerKey(50), k2 = MakeCustomerKey(51);
  Bytes data = Pattern(30000, 52);
  ASSERT_TRUE(PutIn(SseC(k1), "src", data).has_value());
  auto source = store_->OpenObject("bucket", "src", With(k1));
  ASSERT_TRUE(source.has_value());
  auto to_c = store_->CopyObject(**source, {"bucket", "c2", "o", {}, {}, SseC(k2)});
  auto to_kms = store_->CopyObject(**source, {"bucket", "kms", "o", {}, {}, Kms()});
  auto to_s3 = store_->CopyObject(**source, {"bucket", "s3", "o", {}, {}, S3()});
  ASSERT_TRUE(to_c && to_kms && to_s3);
  EXPECT_EQ(*Get("c2", With(k2)), data);
  EXPECT_EQ(Get("c2", With(k1)).error().reason(), "AccessDenied");
  EXPECT_EQ(*Get("kms"), data);
  EXPECT_EQ(*Get("s3"), data);
  EXPECT_EQ(to_s3->etag, HexEncode(Md5(data)));
  EXPECT_NE(to_kms->etag, HexEncode(Md5(data)));
}

TEST_F(ObjectStoreTest, CopyInPlaceRewrapsWithoutTouchingTheBlobs) {
  CustomerKey k1 = MakeCustomerKey(60), k2 = MakeCustomerKey(61);
  Bytes data = Pattern(70000, 62);
  std::string md5_hex = HexEncode(Md5(data));
  auto put = PutIn(SseC(k1), "k", data, {{"x-amz-meta-a", "1"}});
  ASSERT_TRUE(put.has_value());
  const auto blobs = BlobContents();
  ASSERT_EQ(blobs.size(), 1u);
  auto rewrap = [&](const ReadAccess& from, EncryptionRequest to, Attributes attributes) {
    auto source = store_->OpenObject("bucket", "k", from);
    EXPECT_TRUE(source.has_value()) << source.error().ToString();
    if (!source) return Result<ObjectInfo>(tl::unexpected(source.error()));
    return store_->CopyObject(**source, {"bucket", "k", "owner2", std::move(attributes), {}, to});
  };

  // SSE-C key change: same DEK, so the same ETag; the old key stops working.
  auto changed = rewrap(With(k1), SseC(k2), {{"x-amz-meta-a", "2"}});
  ASSERT_TRUE(changed.has_value()) << changed.error().ToString();
  EXPECT_EQ(changed->etag, put->etag);
  EXPECT_EQ(BlobContents(), blobs);
  EXPECT_EQ(Get("k", With(k1)).error().reason(), "AccessDenied");
  EXPECT_EQ(*Get("k", With(k2)), data);
  auto head = store_->HeadObject("bucket", "k", With(k2));
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->attributes, (Attributes{{"x-amz-meta-a", "2"}}));
  EXPECT_EQ(head->owner, "owner2");

  // To SSE-S3: the ETag becomes the sealed MD5.
  auto to_s3 = rewrap(With(k2), S3(), {});
  ASSERT_TRUE(to_s3.has_value()) << to_s3.error().ToString();
  EXPECT_EQ(to_s3->etag, md5_hex);
  EXPECT_EQ(BlobContents(), blobs);
  EXPECT_EQ(Get("k", With(k2)).error().reason(), "InvalidRequest");
  EXPECT_EQ(*Get("k"), data);
  EXPECT_EQ(catalog_->GetObject("bucket", "k")->kek_ref, "strongroom:sse-s3/1");

  // To SSE-KMS with a context: a derived ETag again, the context bound.
  auto to_kms = rewrap({}, Kms(FakeKeyRing::kKmsB, R"({"x":"y"})"), {});
  ASSERT_TRUE(to_kms.has_value()) << to_kms.error().ToString();
  EXPECT_NE(to_kms->etag, md5_hex);
  EXPECT_EQ(to_kms->etag, put->etag);  // same DEK, same derived ETag
  EXPECT_EQ(to_kms->encryption.kms_context, R"({"x":"y"})");
  EXPECT_EQ(BlobContents(), blobs);
  EXPECT_EQ(*Get("k"), data);
  keys_->SetDisabled(FakeKeyRing::kKmsB, true);
  EXPECT_EQ(Get("k").error().reason(), "KMS.DisabledException");
  keys_->SetDisabled(FakeKeyRing::kKmsB, false);
}

TEST_F(ObjectStoreTest, CopyInPlaceOfAMultipartObjectRecomputesPartEtags) {
  CustomerKey key = MakeCustomerKey(70);
  Bytes p1 = Pattern(kMinPartSize, 71), p2 = Pattern(5000, 72);
  Bytes all = p1;
  all.insert(all.end(), p2.begin(), p2.end());
  auto done = Multipart("mp", {p1, p2}, SseC(key), With(key));
  ASSERT_TRUE(done.has_value()) << done.error().ToString();
  const auto blobs = BlobContents();
  ASSERT_EQ(blobs.size(), 2u);
  Bytes concat = Md5(p1);
  Append(concat, Md5(p2));
  std::string s3_etag = HexEncode(Md5(concat)) + "-2";
  EXPECT_NE(done->etag, s3_etag);

  auto source = store_->OpenObject("bucket", "mp", With(key));
  ASSERT_TRUE(source.has_value());
  auto to_s3 = store_->CopyObject(**source, {"bucket", "mp", "owner", {}, {}, S3()});
  ASSERT_TRUE(to_s3.has_value()) << to_s3.error().ToString();
  source->reset();
  EXPECT_EQ(to_s3->etag, s3_etag);
  EXPECT_EQ(to_s3->parts_count, 2u);
  EXPECT_EQ(BlobContents(), blobs);
  EXPECT_EQ(*Get("mp"), all);  // the manifest keeps its own key

  auto again = store_->OpenObject("bucket", "mp", {});
  ASSERT_TRUE(again.has_value());
  auto back = store_->CopyObject(**again, {"bucket", "mp", "owner", {}, {}, SseC(key)});
  ASSERT_TRUE(back.has_value()) << back.error().ToString();
  again->reset();
  EXPECT_EQ(back->etag, done->etag);
  EXPECT_EQ(*Get("mp", With(key)), all);
  EXPECT_EQ(BlobContents(), blobs);
}

TEST_F(ObjectStoreTest, CopyInPlaceOfAReplacedObjectCopiesTheVersionOpened) {
  Bytes first = Pattern(20000, 80), second = Pattern(10, 81);
  ASSERT_TRUE(Put("k", first).has_value());
  auto source = store_->OpenObject("bucket", "k", {});
  ASSERT_TRUE(source.has_value());
  ASSERT_TRUE(Put("k", second).has_value());
  auto copy = store_->CopyObject(**source, {"bucket", "k", "owner", {}, {}, Kms()});
  ASSERT_TRUE(copy.has_value()) << copy.error().ToString();
  source->reset();
  EXPECT_EQ(*Get("k"), first);
  EXPECT_EQ(BlobFiles().size(), 1u);
}

// --------------------------------------------------------- bucket defaults

TEST_F(ObjectStoreTest, BucketEncryptionRoundTrips) {
  auto initial = store_->GetBucketEncryption("bucket");
  ASSERT_TRUE(initial.has_value());
  EXPECT_EQ(initial->default_mode, SseMode::kS3);
  EXPECT_FALSE(initial->block_sse_c);
  BucketEncryption config;
  config.default_mode = SseMode::kKms;
  config.kms_key_id = std::string(FakeKeyRing::kKmsA);
  config.bucket_key_enabled = true;
  config.block_sse_c = true;
  ASSERT_TRUE(store_->PutBucketEncryption("bucket", config).has_value());
  auto got = store_->GetBucketEncryption("bucket");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->default_mode, SseMode::kKms);
  EXPECT_EQ(got->kms_key_id, FakeKeyRing::kKmsA);
  EXPECT_TRUE(got->bucket_key_enabled);
  EXPECT_TRUE(got->block_sse_c);
  ASSERT_TRUE(store_->DeleteBucketEncryption("bucket").has_value());
  EXPECT_EQ(store_->GetBucketEncryption("bucket")->default_mode, SseMode::kS3);
  EXPECT_FALSE(store_->GetBucketEncryption("bucket")->block_sse_c);
  EXPECT_EQ(store_->GetBucketEncryption("nobucket").error().reason(), "NoSuchBucket");
  EXPECT_EQ(store_->PutBucketEncryption("nobucket", config).error().reason(), "NoSuchBucket");
  EXPECT_EQ(store_->DeleteBucketEncryption("nobucket").error().reason(), "NoSuchBucket");
  BucketEncryption customer;
  customer.default_mode = SseMode::kCustomer;
  EXPECT_EQ(store_->PutBucketEncryption("bucket", customer).error().code(),
            ErrorCode::kInvalidArgument);
}

TEST_F(ObjectStoreTest, EncryptionFactsEncodingIsStrict) {
  StoredEncryption stored;
  stored.facts.mode = SseMode::kKms;
  stored.facts.kms_key_id = "id";
  stored.facts.kms_context = "{}";
  stored.facts.bucket_key_enabled = true;
  stored.sealed_manifest_key = Bytes(60, 7);
  auto encoded = EncodeStoredEncryption(stored);
  ASSERT_TRUE(encoded.has_value());
  auto decoded = DecodeStoredEncryption(*encoded);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->facts.kms_key_id, "id");
  EXPECT_EQ(decoded->facts.kms_context, "{}");
  EXPECT_TRUE(decoded->facts.bucket_key_enabled);
  EXPECT_EQ(decoded->sealed_manifest_key, stored.sealed_manifest_key);
  for (size_t n = 0; n < encoded->size(); ++n) {
    EXPECT_FALSE(DecodeStoredEncryption(ByteView(*encoded).first(n)).has_value()) << n;
  }
  Bytes trailing = *encoded;
  trailing.push_back(0);
  EXPECT_FALSE(DecodeStoredEncryption(trailing).has_value());
  Bytes bad_mode = *encoded;
  bad_mode[1] = 0x04;
  EXPECT_FALSE(DecodeStoredEncryption(bad_mode).has_value());
}

// ------------------------------------------------------------------ others

TEST_F(ObjectStoreTest, ContentMd5MismatchStoresNothing) {
  BodyChecks checks;
  checks.content_md5 = Bytes(16, 0);
  auto put = Put("k", Pattern(1000, 6), checks);
  ASSERT_FALSE(put.has_value());
  EXPECT_EQ(put.error().reason(), "BadDigest");
  EXPECT_EQ(store_->HeadObject("bucket", "k", {}).error().reason(), "NoSuchKey");
  EXPECT_TRUE(BlobFiles().empty());
  // Content-MD5 is checked against the plaintext in every mode.
  CustomerKey key = MakeCustomerKey(7);
  Bytes data = Pattern(1000, 8);
  checks.content_md5 = Md5(data);
  EXPECT_TRUE(Put("c", data, checks, SseC(key)).has_value());
  EXPECT_TRUE(Put("m", data, checks, Kms()).has_value());
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
  EXPECT_EQ(store_->HeadObject("nobucket", "k", {}).error().reason(), "NoSuchBucket");
  EXPECT_EQ(store_->OpenObject("bucket", "k", {}).error().reason(), "NoSuchKey");
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
  auto reader = store_->OpenObject("bucket", "k", {});
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

TEST_F(ObjectStoreTest, AFailedOpenReleasesItsLeases) {
  CustomerKey key = MakeCustomerKey(90);
  ASSERT_TRUE(PutIn(SseC(key), "k", Pattern(1000, 91)).has_value());
  EXPECT_FALSE(store_->OpenObject("bucket", "k", {}).has_value());  // no key
  ASSERT_TRUE(store_->DeleteObject("bucket", "k").has_value());
  EXPECT_TRUE(BlobFiles().empty());  // not held back by a lease the failed open leaked
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
