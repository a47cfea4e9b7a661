// SPDX-License-Identifier: Apache-2.0
#include "keys/kmip/kmip_client.h"

#include <utility>

namespace strongroom::keys::kmip {

namespace {

constexpr size_t kHeaderSize = 8;

// Transport problems all look the same to callers: the KMS cannot be used
// right now. The message keeps the detail.
Error AsUnavailable(const Error& error) {
  Error out(ErrorCode::kUnavailable, "kmip: " + error.message());
  return out.WithReason("ServiceUnavailable");
}

std::string Context(Operation op, std::string_view subject = {}) {
  std::string out = "kmip " + OperationName(op);
  if (!subject.empty()) out += " '" + std::string(subject) + "'";
  return out;
}

// Wipes a buffer that carried a request or response (plaintext to wrap,
// unwrapped secrets, key material) before it is freed.
struct WipeOnExit {
  Bytes& bytes;
  ~WipeOnExit() {
    if (!bytes.empty()) crypto::Cleanse(bytes);
  }
};

}  // namespace

KmipClient::KmipClient(KmipClientOptions options, std::unique_ptr<crypto::TlsClient> tls)
    : options_(std::move(options)), tls_(std::move(tls)) {}

KmipClient::~KmipClient() = default;

Result<std::unique_ptr<KmipClient>> KmipClient::Create(const KmipClientOptions& options) {
  if (options.host.empty()) return InvalidArgument("kmip: no server host configured");
  if (options.port == 0) return InvalidArgument("kmip: no server port configured");
  if (options.client_cert_file.empty() || options.client_key_file.empty()) {
    return InvalidArgument("kmip: a client certificate and key are required (mutual TLS)");
  }
  if (options.connect_timeout.count() <= 0 || options.request_timeout.count() <= 0) {
    return InvalidArgument("kmip: timeouts must be positive");
  }
  crypto::TlsClientOptions tls_options;
  tls_options.ca_file = options.ca_file;
  tls_options.cert_file = options.client_cert_file;
  tls_options.key_file = options.client_key_file;
  auto tls = crypto::TlsClient::Create(tls_options);
  if (!tls) return tl::unexpected(tls.error().WithContext("kmip"));
  return std::unique_ptr<KmipClient>(new KmipClient(options, std::move(*tls)));
}

Result<std::unique_ptr<crypto::TlsConnection>> KmipClient::Dial() {
  const auto deadline = std::chrono::steady_clock::now() + options_.connect_timeout;
  auto connection = tls_->Connect(options_.host, options_.port, deadline);
  if (!connection) {
    // The server refusing our certificate is its answer, not an outage.
    if (connection.error().code() == ErrorCode::kPermissionDenied) {
      return tl::unexpected(connection.error().WithContext("kmip"));
    }
    return tl::unexpected(AsUnavailable(connection.error()));
  }
  connections_opened_.fetch_add(1);
  return connection;
}

std::unique_ptr<crypto::TlsConnection> KmipClient::TakeIdle() {
  std::lock_guard<std::mutex> lock(mu_);
  while (!idle_.empty()) {
    std::unique_ptr<crypto::TlsConnection> connection = std::move(idle_.back());
    idle_.pop_back();
    if (connection->IdleAndOpen()) return connection;
    // Closed by the server (restart, idle timeout): drop it, try the next.
  }
  return nullptr;
}

void KmipClient::ReturnIdle(std::unique_ptr<crypto::TlsConnection> connection) {
  std::lock_guard<std::mutex> lock(mu_);
  if (idle_.size() < options_.max_idle_connections) idle_.push_back(std::move(connection));
}

void KmipClient::CloseIdleConnections() {
  std::vector<std::unique_ptr<crypto::TlsConnection>> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    dropped.swap(idle_);
  }
}

Result<void> KmipClient::Exchange(crypto::TlsConnection& connection, ByteView request,
                                  Bytes& response) {
  const auto deadline = std::chrono::steady_clock::now() + options_.request_timeout;
  STRONGROOM_RETURN_IF_ERROR(connection.WriteAll(request, deadline));
  response.assign(kHeaderSize, 0);
  STRONGROOM_RETURN_IF_ERROR(connection.ReadExact(response, deadline));
  auto total = FramedLength(response);
  if (!total) return Internal("kmip: " + total.error().message());
  if (*total > options_.max_response_bytes) {
    return Internal("kmip: response of " + std::to_string(*total) + " bytes exceeds the limit");
  }
  response.resize(*total);
  return connection.ReadExact(MutableByteView(response).subspan(kHeaderSize), deadline);
}

Result<Response> KmipClient::Call(Operation op, Item payload, bool retry_safe,
                                   std::string_view subject) {
  STRONGROOM_ASSIGN_OR_RETURN(Response response,
                              RoundTrip(op, std::move(payload), retry_safe, subject));
  if (response.status != ResultStatus::kSuccess) {
    return tl::unexpected(ErrorFromResponse(response, Context(op, subject)));
  }
  return response;
}

Result<Response> KmipClient::RoundTrip(Operation op, Item payload, bool retry_safe,
                                       std::string_view subject) {
  Bytes request = EncodeRequest(op, std::move(payload));
  WipeOnExit wipe_request{request};
  Bytes raw;
  WipeOnExit wipe_response{raw};

  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<crypto::TlsConnection> connection = TakeIdle();
    const bool reused = connection != nullptr;
    if (!reused) {
      STRONGROOM_ASSIGN_OR_RETURN(connection, Dial());
    }
    auto exchanged = Exchange(*connection, request, raw);
    if (!exchanged) {
      connection.reset();  // never reuse a connection in an unknown state
      if (exchanged.error().code() == ErrorCode::kInternal ||
          exchanged.error().code() == ErrorCode::kPermissionDenied) {
        return tl::unexpected(exchanged.error().WithContext(Context(op, subject)));
      }
      if (reused && retry_safe && attempt == 0) continue;
      return tl::unexpected(AsUnavailable(exchanged.error()));
    }
    auto response = ParseResponse(raw);
    if (!response) {
      // Not a KMIP reply: the stream cannot be trusted any more.
      return Internal(Context(op, subject) + ": " + response.error().message());
    }
    if (response->operation.has_value() && *response->operation != op) {
      return Internal(Context(op, subject) + ": reply is for " +
                      OperationName(*response->operation));
    }
    ReturnIdle(std::move(connection));
    return response;
  }
}

// ---- Operations -------------------------------------------------------------


Result<std::string> KmipClient::CreateSymmetricKey(const SymmetricKeySpec& spec) {
  STRONGROOM_ASSIGN_OR_RETURN(Response response, Call(Operation::kCreate,
                                                      CreateSymmetricKeyPayload(spec), false,
                                                      spec.name));
  return UniqueIdOf(response);
}

Result<void> KmipClient::Activate(std::string_view unique_id) {
  STRONGROOM_RETURN_IF_ERROR(
      Call(Operation::kActivate, UniqueIdPayload(unique_id), false, unique_id));
  return Ok();
}

Result<crypto::SecretBytes> KmipClient::Get(std::string_view unique_id) {
  STRONGROOM_ASSIGN_OR_RETURN(
      Response response, Call(Operation::kGet, UniqueIdPayload(unique_id), true, unique_id));
  return KeyMaterialOf(response);
}

Result<std::vector<std::pair<std::string, Item>>> KmipClient::GetAttributes(
    std::string_view unique_id, const std::vector<std::string>& names) {
  STRONGROOM_ASSIGN_OR_RETURN(Response response,
                              Call(Operation::kGetAttributes,
                                   GetAttributesPayload(unique_id, names), true, unique_id));
  return AttributesOf(response);
}

Result<std::vector<std::string>> KmipClient::LocateByName(std::string_view name) {
  STRONGROOM_ASSIGN_OR_RETURN(Response response,
                              Call(Operation::kLocate, LocateByNamePayload(name), true, name));
  return LocatedIds(response);
}

Result<GcmEncryptResult> KmipClient::EncryptGcm(std::string_view unique_id, ByteView plaintext,
                                                ByteView iv, ByteView aad, int32_t tag_length) {
  STRONGROOM_ASSIGN_OR_RETURN(
      Response response,
      Call(Operation::kEncrypt, GcmEncryptPayload(unique_id, plaintext, iv, aad, tag_length), true,
           unique_id));
  return GcmEncryptResultOf(response);
}

Result<crypto::SecretBytes> KmipClient::DecryptGcm(std::string_view unique_id, ByteView ciphertext,
                                                   ByteView iv, ByteView aad, ByteView tag) {
  STRONGROOM_ASSIGN_OR_RETURN(
      Response response,
      RoundTrip(Operation::kDecrypt, GcmDecryptPayload(unique_id, ciphertext, iv, aad, tag), true,
                unique_id));
  if (response.status == ResultStatus::kOperationFailed &&
      (response.reason == static_cast<uint32_t>(ResultReason::kGeneralFailure) ||
       response.reason == static_cast<uint32_t>(ResultReason::kCryptographicFailure))) {
    // A tag that does not verify has no KMIP result of its own: PyKMIP
    // reports GeneralFailure (its cipher raised), others CryptographicFailure.
    // Both mean the input does not authenticate under this key and AAD.
    const Error failed = ErrorFromResponse(response, Context(Operation::kDecrypt, unique_id));
    return DataLoss(failed.message() +
                    ": the ciphertext does not authenticate under this key and AAD");
  }
  if (response.status != ResultStatus::kSuccess) {
    return tl::unexpected(ErrorFromResponse(response, Context(Operation::kDecrypt, unique_id)));
  }
  return DecryptedDataOf(response);
}

Result<void> KmipClient::Revoke(std::string_view unique_id, uint32_t reason_code) {
  STRONGROOM_RETURN_IF_ERROR(
      Call(Operation::kRevoke, RevokePayload(unique_id, reason_code), false, unique_id));
  return Ok();
}

Result<void> KmipClient::Destroy(std::string_view unique_id) {
  STRONGROOM_RETURN_IF_ERROR(
      Call(Operation::kDestroy, UniqueIdPayload(unique_id), false, unique_id));
  return Ok();
}

Result<std::vector<ProtocolVersion>> KmipClient::DiscoverVersions() {
  STRONGROOM_ASSIGN_OR_RETURN(
      Response response, Call(Operation::kDiscoverVersions, DiscoverVersionsPayload(), true));
  return VersionsOf(response);
}

Result<std::vector<uint32_t>> KmipClient::QueryOperations(std::string* vendor) {
  STRONGROOM_ASSIGN_OR_RETURN(
      Response response,
      Call(Operation::kQuery, QueryPayload({kQueryOperations, kQueryServerInformation}), true));
  if (vendor != nullptr) *vendor = VendorOf(response);
  return QueriedOperations(response);
}

}  // namespace strongroom::keys::kmip
