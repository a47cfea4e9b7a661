// SPDX-License-Identifier: Apache-2.0
#include "keys/kmip/protocol.h"

#include <cstdio>

namespace strongroom::keys::kmip {

namespace {

tl::unexpected<Error> Malformed(const std::string& what) {
  return InvalidArgument("kmip: malformed response: " + what);
}

std::string Hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%X", v);
  return buf;
}

// An Attribute { AttributeName, AttributeValue } (KMIP 1.x template form).
Item Attribute(std::string_view name, Item value) {
  return Item::Structure(tag::kAttribute,
                         {Item::TextString(tag::kAttributeName, name), std::move(value)});
}

Item NameValue(std::string_view name) {
  return Item::Structure(tag::kAttributeValue,
                         {Item::TextString(tag::kNameValue, name),
                          Item::Enumeration(tag::kNameType, kNameTypeUninterpretedText)});
}

const Item* Child(const Item& parent, uint32_t t, ItemType type) {
  const Item* item = parent.Find(t);
  return item != nullptr && item->type() == type ? item : nullptr;
}

Result<const Item*> PayloadOf(const Response& response) {
  if (!response.payload.has_value()) return Malformed("no response payload");
  return &*response.payload;
}

}  // namespace

std::string OperationName(Operation op) {
  switch (op) {
    case Operation::kCreate: return "Create";
    case Operation::kRegister: return "Register";
    case Operation::kLocate: return "Locate";
    case Operation::kGet: return "Get";
    case Operation::kGetAttributes: return "GetAttributes";
    case Operation::kActivate: return "Activate";
    case Operation::kRevoke: return "Revoke";
    case Operation::kDestroy: return "Destroy";
    case Operation::kQuery: return "Query";
    case Operation::kDiscoverVersions: return "DiscoverVersions";
    case Operation::kEncrypt: return "Encrypt";
    case Operation::kDecrypt: return "Decrypt";
  }
  return "Operation(" + Hex32(static_cast<uint32_t>(op)) + ")";
}

std::string ResultReasonName(uint32_t reason) {
  switch (static_cast<ResultReason>(reason)) {
    case ResultReason::kItemNotFound: return "ItemNotFound";
    case ResultReason::kResponseTooLarge: return "ResponseTooLarge";
    case ResultReason::kAuthenticationNotSuccessful: return "AuthenticationNotSuccessful";
    case ResultReason::kInvalidMessage: return "InvalidMessage";
    case ResultReason::kOperationNotSupported: return "OperationNotSupported";
    case ResultReason::kMissingData: return "MissingData";
    case ResultReason::kInvalidField: return "InvalidField";
    case ResultReason::kFeatureNotSupported: return "FeatureNotSupported";
    case ResultReason::kOperationCanceledByRequester: return "OperationCanceledByRequester";
    case ResultReason::kCryptographicFailure: return "CryptographicFailure";
    case ResultReason::kIllegalOperation: return "IllegalOperation";
    case ResultReason::kPermissionDenied: return "PermissionDenied";
    case ResultReason::kObjectArchived: return "ObjectArchived";
    case ResultReason::kIndexOutOfBounds: return "IndexOutOfBounds";
    case ResultReason::kApplicationNamespaceNotSupported: return "ApplicationNamespaceNotSupported";
    case ResultReason::kKeyFormatTypeNotSupported: return "KeyFormatTypeNotSupported";
    case ResultReason::kKeyCompressionTypeNotSupported: return "KeyCompressionTypeNotSupported";
    case ResultReason::kEncodingOptionError: return "EncodingOptionError";
    case ResultReason::kKeyValueNotPresent: return "KeyValueNotPresent";
    case ResultReason::kAttestationRequired: return "AttestationRequired";
    case ResultReason::kAttestationFailed: return "AttestationFailed";
    case ResultReason::kSensitive: return "Sensitive";
    case ResultReason::kNotExtractable: return "NotExtractable";
    case ResultReason::kObjectAlreadyExists: return "ObjectAlreadyExists";
    case ResultReason::kGeneralFailure: return "GeneralFailure";
  }
  return "ResultReason(" + Hex32(reason) + ")";
}

// ---- Messages -------------------------------------------------------------

Item BuildRequest(Operation op, Item payload, ProtocolVersion version) {
  Item header = Item::Structure(
      tag::kRequestHeader,
      {Item::Structure(tag::kProtocolVersion,
                       {Item::Integer(tag::kProtocolVersionMajor, version.major),
                        Item::Integer(tag::kProtocolVersionMinor, version.minor)}),
       Item::Integer(tag::kBatchCount, 1)});
  Item batch = Item::Structure(
      tag::kBatchItem, {Item::Enumeration(tag::kOperation, static_cast<uint32_t>(op))});
  batch.Add(std::move(payload));
  return Item::Structure(tag::kRequestMessage, {std::move(header), std::move(batch)});
}

Bytes EncodeRequest(Operation op, Item payload, ProtocolVersion version) {
  return Encode(BuildRequest(op, std::move(payload), version));
}

Result<Response> ParseResponse(ByteView message) {
  STRONGROOM_ASSIGN_OR_RETURN(Item item, Decode(message));
  return ParseResponse(item);
}

Result<Response> ParseResponse(const Item& message) {
  if (message.tag() != tag::kResponseMessage || message.type() != ItemType::kStructure) {
    return Malformed("not a ResponseMessage");
  }
  Response out;
  const Item* header = Child(message, tag::kResponseHeader, ItemType::kStructure);
  if (header == nullptr) return Malformed("no ResponseHeader");
  const Item* version = Child(*header, tag::kProtocolVersion, ItemType::kStructure);
  if (version == nullptr) return Malformed("no ProtocolVersion");
  const Item* major = Child(*version, tag::kProtocolVersionMajor, ItemType::kInteger);
  const Item* minor = Child(*version, tag::kProtocolVersionMinor, ItemType::kInteger);
  if (major == nullptr || minor == nullptr) return Malformed("bad ProtocolVersion");
  out.version = {static_cast<int32_t>(major->integer()), static_cast<int32_t>(minor->integer())};
  if (const Item* ts = Child(*header, tag::kTimeStamp, ItemType::kDateTime)) {
    out.timestamp = ts->integer();
  }
  const Item* count = Child(*header, tag::kBatchCount, ItemType::kInteger);
  const auto items = message.FindAll(tag::kBatchItem);
  if (count == nullptr || count->integer() != 1 || items.size() != 1 ||
      items[0]->type() != ItemType::kStructure) {
    return Malformed("expected exactly one batch item");
  }
  const Item& batch = *items[0];
  if (const Item* op = Child(batch, tag::kOperation, ItemType::kEnumeration)) {
    out.operation = static_cast<Operation>(op->enumeration());
  }
  const Item* status = Child(batch, tag::kResultStatus, ItemType::kEnumeration);
  if (status == nullptr) return Malformed("no ResultStatus");
  out.status = static_cast<ResultStatus>(status->enumeration());
  if (const Item* reason = Child(batch, tag::kResultReason, ItemType::kEnumeration)) {
    out.reason = reason->enumeration();
  }
  if (const Item* text = Child(batch, tag::kResultMessage, ItemType::kTextString)) {
    out.message = std::string(text->text());
  }
  if (const Item* payload = Child(batch, tag::kResponsePayload, ItemType::kStructure)) {
    out.payload = *payload;
  }
  return out;
}

Error ErrorFromResponse(const Response& response, std::string_view context) {
  std::string message(context);
  message += ": ";
  switch (response.status) {
    case ResultStatus::kSuccess: message += "succeeded"; break;
    case ResultStatus::kOperationFailed: message += "OperationFailed"; break;
    case ResultStatus::kOperationPending: message += "OperationPending"; break;
    case ResultStatus::kOperationUndone: message += "OperationUndone"; break;
    default: message += "ResultStatus(" + Hex32(static_cast<uint32_t>(response.status)) + ")";
  }
  if (response.reason != 0) message += " " + ResultReasonName(response.reason);
  if (!response.message.empty()) message += " (" + response.message + ")";

  ErrorCode code = ErrorCode::kInternal;
  if (response.status == ResultStatus::kOperationFailed) {
    switch (static_cast<ResultReason>(response.reason)) {
      case ResultReason::kItemNotFound:
        code = ErrorCode::kNotFound;
        break;
      case ResultReason::kAuthenticationNotSuccessful:
      case ResultReason::kPermissionDenied:
      case ResultReason::kSensitive:
      case ResultReason::kNotExtractable:
      case ResultReason::kAttestationRequired:
      case ResultReason::kAttestationFailed:
        code = ErrorCode::kPermissionDenied;
        break;
      case ResultReason::kObjectAlreadyExists:
        code = ErrorCode::kAlreadyExists;
        break;
      case ResultReason::kIllegalOperation:
      case ResultReason::kObjectArchived:
        code = ErrorCode::kFailedPrecondition;
        break;
      case ResultReason::kOperationNotSupported:
      case ResultReason::kFeatureNotSupported:
      case ResultReason::kApplicationNamespaceNotSupported:
      case ResultReason::kKeyFormatTypeNotSupported:
      case ResultReason::kKeyCompressionTypeNotSupported:
      case ResultReason::kEncodingOptionError:
        code = ErrorCode::kUnimplemented;
        break;
      case ResultReason::kInvalidMessage:
      case ResultReason::kInvalidField:
      case ResultReason::kMissingData:
      case ResultReason::kIndexOutOfBounds:
      case ResultReason::kKeyValueNotPresent:
        code = ErrorCode::kInvalidArgument;
        break;
      default:
        code = ErrorCode::kInternal;
        break;
    }
  }
  return Error(code, std::move(message));
}

// ---- Request payloads -------------------------------------------------------

Item CreateSymmetricKeyPayload(const SymmetricKeySpec& spec) {
  Item attributes = Item::Structure(tag::kTemplateAttribute);
  attributes.Add(Attribute("Cryptographic Algorithm",
                           Item::Enumeration(tag::kAttributeValue, kAlgorithmAes)));
  attributes.Add(
      Attribute("Cryptographic Length", Item::Integer(tag::kAttributeValue, spec.length_bits)));
  attributes.Add(Attribute("Cryptographic Usage Mask",
                           Item::Integer(tag::kAttributeValue, spec.usage_mask)));
  if (!spec.name.empty()) attributes.Add(Attribute("Name", NameValue(spec.name)));
  if (spec.sensitive.has_value()) {
    attributes.Add(Attribute("Sensitive", Item::Boolean(tag::kAttributeValue, *spec.sensitive)));
  }
  return Item::Structure(tag::kRequestPayload,
                         {Item::Enumeration(tag::kObjectType, kObjectTypeSymmetricKey),
                          std::move(attributes)});
}

Item UniqueIdPayload(std::string_view unique_id) {
  return Item::Structure(tag::kRequestPayload,
                         {Item::TextString(tag::kUniqueIdentifier, unique_id)});
}

Item GetAttributesPayload(std::string_view unique_id, const std::vector<std::string>& names) {
  Item payload = UniqueIdPayload(unique_id);
  for (const std::string& name : names) payload.Add(Item::TextString(tag::kAttributeName, name));
  return payload;
}

Item LocateByNamePayload(std::string_view name, int32_t maximum_items) {
  Item payload = Item::Structure(tag::kRequestPayload);
  if (maximum_items > 0) payload.Add(Item::Integer(tag::kMaximumItems, maximum_items));
  payload.Add(Attribute("Name", NameValue(name)));
  return payload;
}

Item RevokePayload(std::string_view unique_id, uint32_t reason_code) {
  Item payload = UniqueIdPayload(unique_id);
  payload.Add(Item::Structure(tag::kRevocationReason,
                              {Item::Enumeration(tag::kRevocationReasonCode, reason_code)}));
  return payload;
}

Item QueryPayload(const std::vector<uint32_t>& functions) {
  Item payload = Item::Structure(tag::kRequestPayload);
  for (uint32_t f : functions) payload.Add(Item::Enumeration(tag::kQueryFunction, f));
  return payload;
}

Item DiscoverVersionsPayload() { return Item::Structure(tag::kRequestPayload); }

namespace {

Item GcmPayload(std::string_view unique_id, ByteView data, ByteView iv, ByteView aad,
                int32_t tag_length) {
  Item payload = UniqueIdPayload(unique_id);
  payload.Add(Item::Structure(tag::kCryptographicParameters,
                              {Item::Enumeration(tag::kBlockCipherMode, kBlockCipherModeGcm),
                               Item::Enumeration(tag::kCryptographicAlgorithm, kAlgorithmAes),
                               Item::Integer(tag::kTagLength, tag_length)}));
  payload.Add(Item::ByteString(tag::kData, data));
  payload.Add(Item::ByteString(tag::kIvCounterNonce, iv));
  if (!aad.empty()) payload.Add(Item::ByteString(tag::kAuthenticatedEncryptionAdditionalData, aad));
  return payload;
}

}  // namespace

Item GcmEncryptPayload(std::string_view unique_id, ByteView plaintext, ByteView iv, ByteView aad,
                       int32_t tag_length) {
  return GcmPayload(unique_id, plaintext, iv, aad, tag_length);
}

Item GcmDecryptPayload(std::string_view unique_id, ByteView ciphertext, ByteView iv, ByteView aad,
                       ByteView tag) {
  Item payload = GcmPayload(unique_id, ciphertext, iv, aad, static_cast<int32_t>(tag.size()));
  payload.Add(Item::ByteString(tag::kAuthenticatedEncryptionTag, tag));
  return payload;
}

// ---- Response payload readers -------------------------------------------------

Result<std::string> UniqueIdOf(const Response& response) {
  STRONGROOM_ASSIGN_OR_RETURN(const Item* payload, PayloadOf(response));
  const Item* id = Child(*payload, tag::kUniqueIdentifier, ItemType::kTextString);
  if (id == nullptr || id->text().empty()) return Malformed("no UniqueIdentifier");
  return std::string(id->text());
}

Result<std::vector<std::string>> LocatedIds(const Response& response) {
  std::vector<std::string> ids;
  // A Locate that matches nothing may come back without a payload at all.
  if (!response.payload.has_value()) return ids;
  for (const Item* id : response.payload->FindAll(tag::kUniqueIdentifier)) {
    if (id->type() != ItemType::kTextString) return Malformed("UniqueIdentifier not text");
    ids.emplace_back(id->text());
  }
  return ids;
}

Result<GcmEncryptResult> GcmEncryptResultOf(const Response& response) {
  STRONGROOM_ASSIGN_OR_RETURN(const Item* payload, PayloadOf(response));
  const Item* data = Child(*payload, tag::kData, ItemType::kByteString);
  const Item* tag = Child(*payload, tag::kAuthenticatedEncryptionTag, ItemType::kByteString);
  if (data == nullptr) return Malformed("Encrypt reply without Data");
  if (tag == nullptr) return Malformed("Encrypt reply without Authenticated Encryption Tag");
  GcmEncryptResult out;
  out.ciphertext.assign(data->bytes().begin(), data->bytes().end());
  out.tag.assign(tag->bytes().begin(), tag->bytes().end());
  if (const Item* iv = Child(*payload, tag::kIvCounterNonce, ItemType::kByteString)) {
    out.iv.assign(iv->bytes().begin(), iv->bytes().end());
  }
  return out;
}

Result<crypto::SecretBytes> DecryptedDataOf(const Response& response) {
  STRONGROOM_ASSIGN_OR_RETURN(const Item* payload, PayloadOf(response));
  const Item* data = Child(*payload, tag::kData, ItemType::kByteString);
  if (data == nullptr) return Malformed("Decrypt reply without Data");
  return crypto::SecretBytes::CopyFrom(data->bytes());
}

Result<crypto::SecretBytes> KeyMaterialOf(const Response& response) {
  STRONGROOM_ASSIGN_OR_RETURN(const Item* payload, PayloadOf(response));
  const Item* key = Child(*payload, tag::kSymmetricKey, ItemType::kStructure);
  if (key == nullptr) return Malformed("Get reply without SymmetricKey");
  const Item* block = Child(*key, tag::kKeyBlock, ItemType::kStructure);
  if (block == nullptr) return Malformed("SymmetricKey without KeyBlock");
  const Item* value = block->Find(tag::kKeyValue);
  if (value == nullptr) return NotFound("kmip: Get reply carries no key value");
  if (value->type() == ItemType::kByteString) {
    return crypto::SecretBytes::CopyFrom(value->bytes());
  }
  if (value->type() != ItemType::kStructure) return Malformed("KeyValue of unexpected type");
  const Item* material = Child(*value, tag::kKeyMaterial, ItemType::kByteString);
  if (material == nullptr || material->bytes().empty()) {
    return NotFound("kmip: Get reply carries no key material");
  }
  return crypto::SecretBytes::CopyFrom(material->bytes());
}

Result<std::vector<std::pair<std::string, Item>>> AttributesOf(const Response& response) {
  STRONGROOM_ASSIGN_OR_RETURN(const Item* payload, PayloadOf(response));
  std::vector<std::pair<std::string, Item>> out;
  for (const Item* attribute : payload->FindAll(tag::kAttribute)) {
    const Item* name = Child(*attribute, tag::kAttributeName, ItemType::kTextString);
    const Item* value = attribute->Find(tag::kAttributeValue);
    if (name == nullptr || value == nullptr) return Malformed("Attribute without name or value");
    out.emplace_back(std::string(name->text()), *value);
  }
  return out;
}

Result<std::vector<ProtocolVersion>> VersionsOf(const Response& response) {
  std::vector<ProtocolVersion> out;
  if (!response.payload.has_value()) return out;
  for (const Item* v : response.payload->FindAll(tag::kProtocolVersion)) {
    const Item* major = Child(*v, tag::kProtocolVersionMajor, ItemType::kInteger);
    const Item* minor = Child(*v, tag::kProtocolVersionMinor, ItemType::kInteger);
    if (major == nullptr || minor == nullptr) return Malformed("bad ProtocolVersion");
    out.push_back({static_cast<int32_t>(major->integer()), static_cast<int32_t>(minor->integer())});
  }
  return out;
}

Result<std::vector<uint32_t>> QueriedOperations(const Response& response) {
  std::vector<uint32_t> out;
  if (!response.payload.has_value()) return out;
  for (const Item* op : response.payload->FindAll(tag::kOperation)) {
    if (op->type() != ItemType::kEnumeration) return Malformed("Operation not an enumeration");
    out.push_back(op->enumeration());
  }
  return out;
}

std::string VendorOf(const Response& response) {
  if (!response.payload.has_value()) return "";
  const Item* vendor = Child(*response.payload, tag::kVendorIdentification, ItemType::kTextString);
  return vendor != nullptr ? std::string(vendor->text()) : std::string();
}

}  // namespace strongroom::keys::kmip
