// SPDX-License-Identifier: Apache-2.0
#include "keys/kmip/kmip_provider.h"

#include <algorithm>

#include "crypto/random.h"

namespace strongroom::keys {

namespace {

constexpr size_t kMaxNameSize = 256;

Result<void> CheckName(std::string_view what, std::string_view name) {
  if (name.empty() || name.size() > kMaxNameSize || !IsValidUtf8(name) ||
      name.find('\0') != std::string_view::npos) {
    return InvalidArgument("kmip: " + std::string(what) +
                           " must be 1 to 256 bytes of UTF-8 without NUL");
  }
  return Ok();
}

// Every kUnavailable leaving the provider says so in its reason.
template <typename T>
Result<T> Tagged(Result<T> result) {
  if (!result && result.error().code() == ErrorCode::kUnavailable &&
      result.error().reason().empty()) {
    return tl::unexpected(result.error().WithReason("ServiceUnavailable"));
  }
  return result;
}

}  // namespace

KmipProvider::KmipProvider(std::unique_ptr<kmip::KmipClient> client)
    : client_(std::move(client)) {}

Result<std::unique_ptr<KmipProvider>> KmipProvider::Create(const KmipProviderOptions& options) {
  STRONGROOM_ASSIGN_OR_RETURN(auto client, kmip::KmipClient::Create(options));
  return std::unique_ptr<KmipProvider>(new KmipProvider(std::move(client)));
}

Result<std::string> KmipProvider::CreateKey(std::string_view label) {
  STRONGROOM_RETURN_IF_ERROR(CheckName("key label", label));
  STRONGROOM_ASSIGN_OR_RETURN(std::vector<std::string> existing,
                              Tagged(client_->LocateByName(label)));
  if (!existing.empty()) {
    return AlreadyExists("kmip: a key named '" + std::string(label) +
                         "' already exists (unique id '" + existing.front() + "')");
  }
  kmip::SymmetricKeySpec spec;
  spec.length_bits = 256;
  spec.usage_mask = kmip::kUsageEncrypt | kmip::kUsageDecrypt;
  spec.name = std::string(label);
  spec.sensitive = true;  // never to be exported in clear (servers that enforce it)
  STRONGROOM_ASSIGN_OR_RETURN(std::string unique_id, Tagged(client_->CreateSymmetricKey(spec)));
  // Locate-then-Create is not atomic: another client may have made a key of
  // this name meanwhile. Look again; whoever sees more than one gives its
  // own up, so at most one survives (if both see two, neither does, and
  // the callers retry).
  auto named = client_->LocateByName(label);
  if (!named) {
    (void)client_->Destroy(unique_id);
    return Tagged<std::string>(tl::unexpected(named.error()));
  }
  if (named->size() > 1) {
    (void)client_->Destroy(unique_id);
    std::string other = named->front() == unique_id ? named->back() : named->front();
    return AlreadyExists("kmip: a key named '" + std::string(label) +
                         "' was created at the same time (unique id '" + other +
                         "'); this one was destroyed again");
  }
  auto activated = client_->Activate(unique_id);
  if (!activated) {
    // Do not leave a named Pre-Active key behind to block the label. Best
    // effort: if the server is gone, the operator must clean up.
    (void)client_->Destroy(unique_id);
    return Tagged<std::string>(tl::unexpected(activated.error()));
  }
  return unique_id;
}

Result<Bytes> KmipProvider::Wrap(std::string_view key_name, ByteView plaintext, ByteView aad) {
  STRONGROOM_RETURN_IF_ERROR(CheckName("key name", key_name));
  if (plaintext.empty() || plaintext.size() > kMaxPlaintext) {
    return InvalidArgument("kmip: can wrap 1 to 4096 bytes, got " +
                           std::to_string(plaintext.size()));
  }
  STRONGROOM_ASSIGN_OR_RETURN(Bytes iv, crypto::RandomBytes(kIvSize));
  STRONGROOM_ASSIGN_OR_RETURN(
      kmip::GcmEncryptResult sealed,
      Tagged(client_->EncryptGcm(key_name, plaintext, iv, aad, static_cast<int32_t>(kTagSize))));
  if (sealed.ciphertext.size() != plaintext.size() || sealed.tag.size() != kTagSize ||
      (!sealed.iv.empty() && sealed.iv != iv)) {
    return Internal("kmip Encrypt '" + std::string(key_name) +
                    "': the server returned an unexpected ciphertext, tag or IV");
  }
  Bytes blob;
  blob.reserve(1 + kIvSize + sealed.ciphertext.size() + kTagSize);
  blob.push_back(kBlobVersion);
  Append(blob, iv);
  Append(blob, sealed.ciphertext);
  Append(blob, sealed.tag);
  return blob;
}

Result<crypto::SecretBytes> KmipProvider::Unwrap(std::string_view key_name, ByteView wrapped,
                                                 ByteView aad) {
  STRONGROOM_RETURN_IF_ERROR(CheckName("key name", key_name));
  // Anything that is not a well-formed blob cannot authenticate.
  if (wrapped.size() < 1 + kIvSize + 1 + kTagSize ||
      wrapped.size() > 1 + kIvSize + kMaxPlaintext + kTagSize) {
    return DataLoss("kmip: wrapped key has an impossible length (" +
                    std::to_string(wrapped.size()) + " bytes)");
  }
  if (wrapped[0] != kBlobVersion) {
    return DataLoss("kmip: wrapped key has unknown version " + std::to_string(wrapped[0]));
  }
  const ByteView iv = wrapped.subspan(1, kIvSize);
  const ByteView ciphertext = wrapped.subspan(1 + kIvSize, wrapped.size() - 1 - kIvSize - kTagSize);
  const ByteView tag = wrapped.subspan(wrapped.size() - kTagSize);
  STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes plaintext,
                              Tagged(client_->DecryptGcm(key_name, ciphertext, iv, aad, tag)));
  if (plaintext.size() != ciphertext.size()) {
    return Internal("kmip Decrypt '" + std::string(key_name) +
                    "': the server returned a plaintext of the wrong length");
  }
  return plaintext;
}

Result<void> KmipProvider::DestroyKey(std::string_view key_name) {
  STRONGROOM_RETURN_IF_ERROR(CheckName("key name", key_name));
  auto revoked = client_->Revoke(key_name, kmip::kRevocationCessationOfOperation);
  // kFailedPrecondition: not Active (never activated, or revoked before);
  // kUnimplemented: a server without Revoke. Destroy decides either way.
  if (!revoked && revoked.error().code() != ErrorCode::kFailedPrecondition &&
      revoked.error().code() != ErrorCode::kUnimplemented) {
    return Tagged(revoked);
  }
  return Tagged(client_->Destroy(key_name));
}

Result<void> KmipProvider::HealthCheck() {
  STRONGROOM_ASSIGN_OR_RETURN(std::vector<kmip::ProtocolVersion> versions,
                              Tagged(client_->DiscoverVersions()));
  const kmip::ProtocolVersion wanted{1, 4};
  if (std::find(versions.begin(), versions.end(), wanted) == versions.end()) {
    return Unimplemented("kmip: the server does not speak KMIP 1.4");
  }
  return Ok();
}

}  // namespace strongroom::keys
