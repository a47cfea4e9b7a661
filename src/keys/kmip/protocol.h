// SPDX-License-Identifier: Apache-2.0
#pragma once

// KMIP 1.4 messages for the operations the key provider uses: tags, enums,
// request payload builders and response readers (no I/O). Numbers are from
// the KMIP 1.4 specification (§9.1.3); the byte layout is pinned by the
// captured PyKMIP vectors in testdata/kmip/.
//
// Every request is a RequestMessage with protocol version 1.4 and one batch
// item. 1.4 matters: with a 1.2 header, PyKMIP cannot parse the GCM fields
// (Authenticated Encryption Additional Data / Tag, added in 1.4).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "crypto/secret_bytes.h"
#include "keys/kmip/ttlv.h"

namespace strongroom::keys::kmip {

namespace tag {
inline constexpr uint32_t kActivationDate = 0x420001;
inline constexpr uint32_t kAttribute = 0x420008;
inline constexpr uint32_t kAttributeIndex = 0x420009;
inline constexpr uint32_t kAttributeName = 0x42000A;
inline constexpr uint32_t kAttributeValue = 0x42000B;
inline constexpr uint32_t kBatchCount = 0x42000D;
inline constexpr uint32_t kBatchItem = 0x42000F;
inline constexpr uint32_t kBlockCipherMode = 0x420011;
inline constexpr uint32_t kCryptographicAlgorithm = 0x420028;
inline constexpr uint32_t kCryptographicLength = 0x42002A;
inline constexpr uint32_t kCryptographicParameters = 0x42002B;
inline constexpr uint32_t kCryptographicUsageMask = 0x42002C;
inline constexpr uint32_t kIvCounterNonce = 0x42003D;
inline constexpr uint32_t kKeyBlock = 0x420040;
inline constexpr uint32_t kKeyFormatType = 0x420042;
inline constexpr uint32_t kKeyMaterial = 0x420043;
inline constexpr uint32_t kKeyValue = 0x420045;
inline constexpr uint32_t kKeyWrappingData = 0x420046;
inline constexpr uint32_t kMaximumItems = 0x42004F;
inline constexpr uint32_t kName = 0x420053;
inline constexpr uint32_t kNameType = 0x420054;
inline constexpr uint32_t kNameValue = 0x420055;
inline constexpr uint32_t kObjectType = 0x420057;
inline constexpr uint32_t kOperation = 0x42005C;
inline constexpr uint32_t kPaddingMethod = 0x42005F;
inline constexpr uint32_t kProtocolVersion = 0x420069;
inline constexpr uint32_t kProtocolVersionMajor = 0x42006A;
inline constexpr uint32_t kProtocolVersionMinor = 0x42006B;
inline constexpr uint32_t kQueryFunction = 0x420074;
inline constexpr uint32_t kRequestHeader = 0x420077;
inline constexpr uint32_t kRequestMessage = 0x420078;
inline constexpr uint32_t kRequestPayload = 0x420079;
inline constexpr uint32_t kResponseHeader = 0x42007A;
inline constexpr uint32_t kResponseMessage = 0x42007B;
inline constexpr uint32_t kResponsePayload = 0x42007C;
inline constexpr uint32_t kResultMessage = 0x42007D;
inline constexpr uint32_t kResultReason = 0x42007E;
inline constexpr uint32_t kResultStatus = 0x42007F;
inline constexpr uint32_t kRevocationReason = 0x420081;
inline constexpr uint32_t kRevocationReasonCode = 0x420082;
inline constexpr uint32_t kState = 0x42008D;
inline constexpr uint32_t kSymmetricKey = 0x42008F;
inline constexpr uint32_t kTemplateAttribute = 0x420091;
inline constexpr uint32_t kTimeStamp = 0x420092;
inline constexpr uint32_t kUniqueBatchItemId = 0x420093;
inline constexpr uint32_t kUniqueIdentifier = 0x420094;
inline constexpr uint32_t kVendorIdentification = 0x42009D;
inline constexpr uint32_t kData = 0x4200C2;
inline constexpr uint32_t kTagLength = 0x4200CE;
inline constexpr uint32_t kAuthenticatedEncryptionAdditionalData = 0x4200FE;
inline constexpr uint32_t kAuthenticatedEncryptionTag = 0x4200FF;
inline constexpr uint32_t kSensitive = 0x420120;
inline constexpr uint32_t kExtractable = 0x420122;
}  // namespace tag

enum class Operation : uint32_t {
  kCreate = 0x01,
  kRegister = 0x03,
  kLocate = 0x08,
  kGet = 0x0A,
  kGetAttributes = 0x0B,
  kActivate = 0x12,
  kRevoke = 0x13,
  kDestroy = 0x14,
  kQuery = 0x18,
  kDiscoverVersions = 0x1E,
  kEncrypt = 0x1F,
  kDecrypt = 0x20,
};
std::string OperationName(Operation op);

enum class ResultStatus : uint32_t {
  kSuccess = 0,
  kOperationFailed = 1,
  kOperationPending = 2,
  kOperationUndone = 3,
};

enum class ResultReason : uint32_t {
  kItemNotFound = 0x01,
  kResponseTooLarge = 0x02,
  kAuthenticationNotSuccessful = 0x03,
  kInvalidMessage = 0x04,
  kOperationNotSupported = 0x05,
  kMissingData = 0x06,
  kInvalidField = 0x07,
  kFeatureNotSupported = 0x08,
  kOperationCanceledByRequester = 0x09,
  kCryptographicFailure = 0x0A,
  kIllegalOperation = 0x0B,
  kPermissionDenied = 0x0C,
  kObjectArchived = 0x0D,
  kIndexOutOfBounds = 0x0E,
  kApplicationNamespaceNotSupported = 0x0F,
  kKeyFormatTypeNotSupported = 0x10,
  kKeyCompressionTypeNotSupported = 0x11,
  kEncodingOptionError = 0x12,
  kKeyValueNotPresent = 0x13,
  kAttestationRequired = 0x14,
  kAttestationFailed = 0x15,
  kSensitive = 0x16,
  kNotExtractable = 0x17,
  kObjectAlreadyExists = 0x18,
  kGeneralFailure = 0x100,
};
// "ItemNotFound", ...; "ResultReason(0x…)" for values not listed.
std::string ResultReasonName(uint32_t reason);

// Enumeration values used in requests.
inline constexpr uint32_t kObjectTypeSymmetricKey = 0x02;
inline constexpr uint32_t kAlgorithmAes = 0x03;
inline constexpr uint32_t kBlockCipherModeGcm = 0x09;
inline constexpr uint32_t kNameTypeUninterpretedText = 0x01;
inline constexpr uint32_t kQueryOperations = 0x01;
inline constexpr uint32_t kQueryObjects = 0x02;
inline constexpr uint32_t kQueryServerInformation = 0x03;
inline constexpr uint32_t kRevocationUnspecified = 0x01;
inline constexpr uint32_t kRevocationKeyCompromise = 0x02;
inline constexpr uint32_t kRevocationCessationOfOperation = 0x06;
inline constexpr uint32_t kStatePreActive = 0x01;
inline constexpr uint32_t kStateActive = 0x02;
inline constexpr uint32_t kStateDeactivated = 0x03;
// Cryptographic Usage Mask bits.
inline constexpr int32_t kUsageEncrypt = 0x04;
inline constexpr int32_t kUsageDecrypt = 0x08;
inline constexpr int32_t kUsageWrapKey = 0x10;
inline constexpr int32_t kUsageUnwrapKey = 0x20;

struct ProtocolVersion {
  int32_t major = 1;
  int32_t minor = 4;
  friend bool operator==(const ProtocolVersion&, const ProtocolVersion&) = default;
};

// ---- Messages -------------------------------------------------------------

// RequestMessage { RequestHeader { ProtocolVersion, BatchCount 1 },
//                  BatchItem { Operation, RequestPayload } }.
Item BuildRequest(Operation op, Item payload, ProtocolVersion version = {});
Bytes EncodeRequest(Operation op, Item payload, ProtocolVersion version = {});

// The single batch item of a ResponseMessage.
struct Response {
  ProtocolVersion version;
  int64_t timestamp = 0;
  std::optional<Operation> operation;  // absent in some error replies
  ResultStatus status = ResultStatus::kSuccess;
  uint32_t reason = 0;  // 0 when none was sent
  std::string message;
  std::optional<Item> payload;  // the ResponsePayload structure, if any
};

// Parses a ResponseMessage. kInvalidArgument if it is not one, or holds
// other than exactly one batch item.
Result<Response> ParseResponse(ByteView message);
Result<Response> ParseResponse(const Item& message);

// The Error a failed response stands for (status != kSuccess), e.g.
// ItemNotFound -> kNotFound. `context` starts the message ("kmip Get '7'").
// Decrypt's integrity failures are not special-cased here (see the client).
Error ErrorFromResponse(const Response& response, std::string_view context);

// ---- Request payloads -------------------------------------------------------

struct SymmetricKeySpec {
  int32_t length_bits = 256;
  int32_t usage_mask = kUsageEncrypt | kUsageDecrypt;
  std::string name;                // Name attribute; empty: none
  std::optional<bool> sensitive;   // KMIP 1.4 "Sensitive" attribute, if set
};
// Create: ObjectType SymmetricKey + TemplateAttribute(algorithm AES, length,
// usage mask[, Name][, Sensitive]), in that order.
Item CreateSymmetricKeyPayload(const SymmetricKeySpec& spec);

// { UniqueIdentifier } — Get, Activate, Destroy.
Item UniqueIdPayload(std::string_view unique_id);

// GetAttributes: UniqueIdentifier + AttributeName....
Item GetAttributesPayload(std::string_view unique_id, const std::vector<std::string>& names);

// Locate: [MaximumItems] + Attribute(Name = { name, UninterpretedTextString }).
Item LocateByNamePayload(std::string_view name, int32_t maximum_items = 0);

// Revoke: UniqueIdentifier + RevocationReason { code }.
Item RevokePayload(std::string_view unique_id, uint32_t reason_code);

// Query: QueryFunction....
Item QueryPayload(const std::vector<uint32_t>& functions);

// DiscoverVersions with no versions proposed (the server lists all).
Item DiscoverVersionsPayload();

// Encrypt / Decrypt with AES-GCM: CryptographicParameters { BlockCipherMode
// GCM, CryptographicAlgorithm AES, TagLength }, Data, IVCounterNonce, and
// AAD only when non-empty; Decrypt appends the tag.
Item GcmEncryptPayload(std::string_view unique_id, ByteView plaintext, ByteView iv, ByteView aad,
                       int32_t tag_length);
Item GcmDecryptPayload(std::string_view unique_id, ByteView ciphertext, ByteView iv, ByteView aad,
                       ByteView tag);

// ---- Response payload readers (kInvalidArgument if malformed) --------------

Result<std::string> UniqueIdOf(const Response& response);
Result<std::vector<std::string>> LocatedIds(const Response& response);

struct GcmEncryptResult {
  Bytes ciphertext;
  Bytes tag;
  Bytes iv;  // empty unless the server returned one
};
Result<GcmEncryptResult> GcmEncryptResultOf(const Response& response);

// A Decrypt's Data, copied into wiped-on-free memory.
Result<crypto::SecretBytes> DecryptedDataOf(const Response& response);

// A Get's key material: SymmetricKey/KeyBlock/KeyValue, where KeyValue is a
// structure holding KeyMaterial (what PyKMIP sends) or the bytes themselves.
// kNotFound if the reply holds no key material.
Result<crypto::SecretBytes> KeyMaterialOf(const Response& response);

// GetAttributes: name -> value item.
Result<std::vector<std::pair<std::string, Item>>> AttributesOf(const Response& response);

// DiscoverVersions: the versions the server speaks, in its order.
Result<std::vector<ProtocolVersion>> VersionsOf(const Response& response);

// Query: the operations listed, and the vendor identification if sent.
Result<std::vector<uint32_t>> QueriedOperations(const Response& response);
std::string VendorOf(const Response& response);

}  // namespace strongroom::keys::kmip
