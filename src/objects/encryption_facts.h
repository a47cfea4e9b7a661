// SPDX-License-Identifier: Apache-2.0
#pragma once

// Internal to objects/. The small versioned encodings objects/ keeps in the
// catalog's opaque encryption fields (docs/FORMAT.md §13.4): an object's or
// upload's public encryption facts, and a bucket's default encryption.

#include "base/bytes.h"
#include "base/result.h"
#include "objects/object_store.h"

namespace strongroom::objects {

// What Object::encryption / Upload::encryption hold.
struct StoredEncryption {
  ObjectEncryption facts;
  // The manifest key of an SSE-C multipart upload, sealed by the key ring
  // (FORMAT.md §13.3); empty when the manifest is keyed by the DEK.
  Bytes sealed_manifest_key;
};

Result<Bytes> EncodeStoredEncryption(const StoredEncryption& stored);
// kDataLoss if malformed (strict: unknown version or mode, trailing bytes).
Result<StoredEncryption> DecodeStoredEncryption(ByteView data);

// Bucket::encryption; empty decodes to the SSE-S3 default.
Result<Bytes> EncodeBucketEncryption(const BucketEncryption& config);
Result<BucketEncryption> DecodeBucketEncryption(ByteView data);

}  // namespace strongroom::objects
