// SPDX-License-Identifier: Apache-2.0
// Server-side encryption: choosing a write's encryption (request headers,
// bucket default, KMS keys and grants), read access, and the bucket
// encryption configuration (Get/Put/DeleteBucketEncryption).

#include <cctype>
#include <memory>

#include "aws/checksum.h"
#include "crypto/constant_time.h"
#include "crypto/digest.h"
#include "s3/errors.h"
#include "s3/handlers.h"
#include "s3/sse.h"

namespace strongroom::s3 {
namespace {

constexpr char kIncompatible[] =
    "Server Side Encryption with Customer provided key is incompatible with the encryption "
    "method specified";

// "1234abcd-12ab-34cd-56ef-1234567890ab".
bool LooksLikeKeyId(std::string_view ref) {
  if (ref.size() != 36) return false;
  for (size_t i = 0; i < ref.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash != (ref[i] == '-')) return false;
    if (!dash && !std::isxdigit(static_cast<unsigned char>(ref[i]))) return false;
  }
  return true;
}

// What deciding on a KMS key's use needs; copied into ReadAccess callbacks,
// which may outlive the request context.
struct KmsPolicy {
  keys::KeyDirectory* directory = nullptr;
  UserDirectory* users = nullptr;
  std::string access_key;
  std::string region;
  std::shared_ptr<std::optional<bool>> admin = std::make_shared<std::optional<bool>>();

  Result<void> Configured() const {
    if (directory == nullptr) {
      return tl::unexpected(MakeError(
          "NotImplemented",
          "A header you provided implies functionality that is not implemented: SSE-KMS is not "
          "configured on this server"));
    }
    return Ok();
  }

  std::string Arn(std::string_view key_id) const { return KmsKeyArn(region, key_id); }

  // AWS's wording: aliases are "not found", keys "do not exist".
  Error NotFound(std::string_view reference) const {
    std::string ref(reference);
    std::string prefix = "arn:aws:kms:" + region + ":" + std::string(kAccountId) + ":";
    if (ref.rfind("alias/", 0) == 0) {
      return MakeError("KMS.NotFoundException", "Alias " + prefix + ref + " is not found.");
    }
    if (ref.rfind("arn:", 0) == 0) {
      if (ref.find(":alias/") != std::string::npos) {
        return MakeError("KMS.NotFoundException", "Alias " + ref + " is not found.");
      }
      return MakeError("KMS.NotFoundException", "Key '" + ref + "' does not exist");
    }
    if (!LooksLikeKeyId(ref) && ref.find('/') == std::string::npos && !ref.empty()) {
      // A bare name is looked up as an alias (a strongroom convenience).
      return MakeError("KMS.NotFoundException", "Alias " + prefix + "alias/" + ref + " is not found.");
    }
    return MakeError("KMS.NotFoundException", "Key '" + Arn(ref) + "' does not exist");
  }

  Result<keys::KeyInfo> Resolve(std::string_view reference) const {
    STRONGROOM_RETURN_IF_ERROR(Configured());
    auto key = directory->Resolve(reference);
    if (!key && (key.error().code() == ErrorCode::kNotFound ||
                 key.error().reason() == "KMS.NotFoundException")) {
      return tl::unexpected(NotFound(reference));
    }
    return key;
  }

  Result<keys::KeyInfo> Get(std::string_view key_id) const {
    STRONGROOM_RETURN_IF_ERROR(Configured());
    auto key = directory->Get(key_id);
    if (!key && (key.error().code() == ErrorCode::kNotFound ||
                 key.error().reason() == "KMS.NotFoundException")) {
      return tl::unexpected(MakeError("KMS.NotFoundException",
                                      "Key '" + Arn(key_id) + "' does not exist"));
    }
    return key;
  }

  Result<bool> IsAdmin() const {
    if (!admin->has_value()) {
      if (users == nullptr) return false;
      auto is_admin = users->IsAdmin(access_key);
      if (!is_admin) {
        if (is_admin.error().code() == ErrorCode::kNotFound) return false;
        return tl::unexpected(is_admin.error());
      }
      *admin = *is_admin;
    }
    return **admin;
  }

  // Grants first (as KMS authorizes before it looks at the key's state),
  // then the key's state.
  Result<void> CheckUse(const keys::KeyInfo& key, std::string_view action) const {
    if (!key.aws_managed) {
      STRONGROOM_ASSIGN_OR_RETURN(bool is_admin, IsAdmin());
      if (!is_admin) {
        STRONGROOM_ASSIGN_OR_RETURN(bool granted, directory->IsGranted(key.key_id, access_key));
        if (!granted) {
          return tl::unexpected(MakeError(
              "AccessDenied", "User: " + access_key + " is not authorized to perform: " +
                                  std::string(action) + " on resource: " + Arn(key.key_id) +
                                  " because no grant allows it"));
        }
      }
    }
    if (key.state == keys::KeyState::kDisabled) {
      return tl::unexpected(
          MakeError("KMS.DisabledException", Arn(key.key_id) + " is disabled."));
    }
    return Ok();
  }
};

KmsPolicy PolicyFor(const RequestContext& context) {
  KmsPolicy policy;
  policy.directory = context.key_directory;
  policy.users = context.users;
  policy.access_key = context.auth.access_key;
  policy.region = context.region;
  return policy;
}

}  // namespace

Result<void> CheckSseTransport(RequestContext& context) {
  return CheckSecureTransport(context.request.headers(), context.request.is_tls(),
                              context.request.remote_address(),
                              context.allow_insecure_sse_on_loopback);
}

Result<objects::EncryptionRequest> ResolveWriteEncryption(RequestContext& context,
                                                          const std::string& bucket) {
  const http::Headers& headers = context.request.headers();
  STRONGROOM_ASSIGN_OR_RETURN(context.customer_key,
                              ParseCustomerKey(headers, KeyGroup::kObject, KeyUse::kWrite));
  STRONGROOM_ASSIGN_OR_RETURN(SseHeaders sse, ParseSseHeaders(headers));
  if (context.customer_key && sse.algorithm) {
    return tl::unexpected(MakeError("InvalidArgument", kIncompatible));
  }
  STRONGROOM_ASSIGN_OR_RETURN(objects::BucketEncryption defaults,
                              context.store->GetBucketEncryption(bucket));
  objects::EncryptionRequest request;
  if (context.customer_key) {
    if (defaults.block_sse_c) {
      return tl::unexpected(MakeError(
          "AccessDenied",
          "Requests specifying Server Side Encryption with Customer provided keys are blocked "
          "for this bucket (BlockedEncryptionTypes)."));
    }
    request.mode = objects::SseMode::kCustomer;
    request.customer_key = &*context.customer_key;
    return request;
  }
  std::string reference;
  if (sse.algorithm == std::optional<std::string>("AES256")) {
    request.mode = objects::SseMode::kS3;
  } else if (sse.algorithm == std::optional<std::string>("aws:kms")) {
    request.mode = objects::SseMode::kKms;
    reference = sse.kms_key_id.value_or(std::string(keys::kDefaultKmsAlias));
    request.kms_context = sse.context.value_or("");
    // Without the header the bucket's S3 Bucket Key setting applies (AWS).
    request.bucket_key_enabled = sse.bucket_key_enabled.value_or(defaults.bucket_key_enabled);
  } else {
    request.mode = defaults.default_mode;
    if (request.mode == objects::SseMode::kKms) {
      reference = defaults.kms_key_id.empty() ? std::string(keys::kDefaultKmsAlias)
                                              : defaults.kms_key_id;
      request.bucket_key_enabled = sse.bucket_key_enabled.value_or(defaults.bucket_key_enabled);
    }
  }
  if (request.mode == objects::SseMode::kKms) {
    KmsPolicy policy = PolicyFor(context);
    STRONGROOM_ASSIGN_OR_RETURN(keys::KeyInfo key, policy.Resolve(reference));
    STRONGROOM_RETURN_IF_ERROR(policy.CheckUse(key, "kms:GenerateDataKey"));
    request.kms_key_id = key.key_id;
  }
  return request;
}

objects::ReadAccess ReadAccessFor(RequestContext& context,
                                  const objects::CustomerKey* customer_key) {
  objects::ReadAccess access;
  access.customer_key = customer_key;
  access.principal = context.auth.access_key;
  access.may_use_kms_key = [policy = PolicyFor(context)](const std::string& key_id) -> Result<void> {
    if (key_id == keys::kSseS3KeyId) return Ok();
    STRONGROOM_ASSIGN_OR_RETURN(keys::KeyInfo key, policy.Get(key_id));
    return policy.CheckUse(key, "kms:Decrypt");
  };
  return access;
}

Result<std::unique_ptr<objects::ObjectReader>> OpenCopySource(
    RequestContext& context, const std::pair<std::string, std::string>& source) {
  const objects::CustomerKey* key =
      context.source_customer_key ? &*context.source_customer_key : nullptr;
  auto reader = context.store->OpenObject(source.first, source.second, ReadAccessFor(context, key));
  if (!reader && key != nullptr && reader.error().reason() == "AccessDenied" &&
      reader.error().message().find("Customer provided keys") != std::string::npos) {
    return tl::unexpected(MakeError(
        "InvalidRequest", "The provided encryption parameters did not match the ones used originally."));
  }
  return reader;
}

Result<http::Response> HandleBucketEncryption(RequestContext& context) {
  const std::string& method = context.request.method();
  const std::string& bucket = context.address.bucket;
  if (method == "GET") {
    context.operation = "GetBucketEncryption";
    STRONGROOM_ASSIGN_OR_RETURN(objects::BucketEncryption config,
                                context.store->GetBucketEncryption(bucket));
    return XmlResponse(BucketEncryptionXml(config, context.region));
  }
  if (method == "PUT") {
    context.operation = "PutBucketEncryption";
    STRONGROOM_ASSIGN_OR_RETURN(std::string body, ReadSmallBody(context, 64 << 10));
    if (auto md5 = context.request.headers().Get("Content-MD5")) {
      auto expected = aws::Base64Decode(*md5);
      STRONGROOM_ASSIGN_OR_RETURN(
          Bytes digest, crypto::Digest::Compute(crypto::Digest::Algorithm::kMd5, AsBytes(body)));
      if (!expected || !crypto::ConstantTimeEquals(*expected, digest)) {
        return tl::unexpected(MakeError(
            "BadDigest", "The Content-MD5 you specified did not match what we received."));
      }
    }
    if (body.empty()) {
      return tl::unexpected(
          MakeError("MissingRequestBodyError", "Request Body is empty"));
    }
    STRONGROOM_ASSIGN_OR_RETURN(BucketEncryptionRequest parsed, ParseBucketEncryptionXml(body));
    STRONGROOM_RETURN_IF_ERROR(context.store->HeadBucket(bucket));
    objects::BucketEncryption config;
    config.default_mode = parsed.mode;
    config.bucket_key_enabled = parsed.bucket_key_enabled;
    config.block_sse_c = parsed.block_sse_c;
    if (parsed.mode == objects::SseMode::kKms && !parsed.kms_key_reference.empty()) {
      // AWS checks the key only when an object is written; we check it here.
      STRONGROOM_ASSIGN_OR_RETURN(keys::KeyInfo key,
                                  PolicyFor(context).Resolve(parsed.kms_key_reference));
      config.kms_key_id = key.key_id;
    }
    STRONGROOM_RETURN_IF_ERROR(context.store->PutBucketEncryption(bucket, config));
    return http::Response{};
  }
  if (method == "DELETE") {
    context.operation = "DeleteBucketEncryption";
    STRONGROOM_RETURN_IF_ERROR(context.store->DeleteBucketEncryption(bucket));
    http::Response response;
    response.status = 204;
    return response;
  }
  return tl::unexpected(MakeError("MethodNotAllowed",
                                  "The specified method is not allowed against this resource."));
}

}  // namespace strongroom::s3
