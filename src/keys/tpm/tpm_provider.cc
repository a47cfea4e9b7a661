// SPDX-License-Identifier: Apache-2.0
#include "keys/tpm/tpm_provider.h"

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <optional>
#include <vector>

#include "base/file.h"
#include "crypto/digest.h"
#include "crypto/random.h"
#include "crypto/sealed_box.h"
#include "keys/tpm/swtpm_transport.h"

namespace strongroom::keys {
namespace {

using Clock = std::chrono::steady_clock;
using tpm_internal::SwtpmTransport;

constexpr std::string_view kTemplateName = "primary-ecc-p256";
constexpr std::string_view kPcrPrefix = "+pcr:";
constexpr std::string_view kBoxPurpose = "tpm-provider-wrap";
constexpr std::string_view kLabelDomain = "strongroom/tpm/v1/label";
constexpr size_t kMaxLabel = 64;
constexpr size_t kSealedKeySize = 32;
constexpr size_t kMaxOwnerAuth = sizeof(TPMU_HA);  // TPM2B_AUTH capacity

struct Bank {
  std::string_view name;
  uint16_t alg;
};
constexpr Bank kBanks[] = {{"sha1", TPM2_ALG_SHA1},
                           {"sha256", TPM2_ALG_SHA256},
                           {"sha384", TPM2_ALG_SHA384},
                           {"sha512", TPM2_ALG_SHA512}};

std::string_view BankName(uint16_t alg) {
  for (const Bank& b : kBanks) {
    if (b.alg == alg) return b.name;
  }
  return "?";
}

bool ValidLabel(std::string_view label) {
  if (label.empty() || label.size() > kMaxLabel) return false;
  return std::all_of(label.begin(), label.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
  });
}

Error UnavailableError(std::string message) {
  return Error(ErrorCode::kUnavailable, std::move(message)).WithReason("ServiceUnavailable");
}

std::string Hex32(uint32_t v) {
  static const char* digits = "0123456789abcdef";
  std::string out = "0x";
  bool started = false;
  for (int shift = 28; shift >= 0; shift -= 4) {
    unsigned nibble = (v >> shift) & 0xF;
    if (nibble != 0 || started || shift == 0) {
      out.push_back(digits[nibble]);
      started = true;
    }
  }
  return out;
}

// Frees what ESAPI allocated.
struct EsysFree {
  void operator()(void* p) const { Esys_Free(p); }
};
template <typename T>
using EsysPtr = std::unique_ptr<T, EsysFree>;

// ECC P-256 storage primary: the tpm2-tools default `-G ecc256:aes128cfb`,
// plus unique.ecc.x derived from the label when there is one.
Result<TPM2B_PUBLIC> PrimaryTemplate(const TpmKeyName& key) {
  TPM2B_PUBLIC t;
  std::memset(&t, 0, sizeof t);
  TPMT_PUBLIC& p = t.publicArea;
  p.type = TPM2_ALG_ECC;
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT | TPMA_OBJECT_FIXEDTPM |
                       TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                       TPMA_OBJECT_USERWITHAUTH;
  p.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_AES;
  p.parameters.eccDetail.symmetric.keyBits.aes = 128;
  p.parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CFB;
  p.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
  p.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
  p.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
  if (!key.label.empty()) {
    Bytes input(kLabelDomain.begin(), kLabelDomain.end());
    input.push_back(0);
    Append(input, AsBytes(key.label));
    STRONGROOM_ASSIGN_OR_RETURN(Bytes digest,
                                crypto::Digest::Compute(crypto::Digest::Algorithm::kSha256, input));
    p.unique.ecc.x.size = static_cast<UINT16>(digest.size());
    std::memcpy(p.unique.ecc.x.buffer, digest.data(), digest.size());
  }
  return t;
}

// The sealed data object holding K.
TPM2B_PUBLIC SealTemplate(const TPM2B_DIGEST* policy) {
  TPM2B_PUBLIC t;
  std::memset(&t, 0, sizeof t);
  TPMT_PUBLIC& p = t.publicArea;
  p.type = TPM2_ALG_KEYEDHASH;
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_NODA;
  if (policy != nullptr) {
    p.authPolicy = *policy;
  } else {
    p.objectAttributes |= TPMA_OBJECT_USERWITHAUTH;
  }
  p.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL;
  return t;
}

TPML_PCR_SELECTION PcrSelection(const TpmKeyName& key) {
  TPML_PCR_SELECTION s;
  std::memset(&s, 0, sizeof s);
  if (!key.has_pcr_policy()) return s;
  s.count = 1;
  s.pcrSelections[0].hash = key.pcr_bank;
  s.pcrSelections[0].sizeofSelect = 3;
  for (int i = 0; i < 24; ++i) {
    if (key.pcr_mask & (1u << i)) {
      s.pcrSelections[0].pcrSelect[i / 8] |= static_cast<BYTE>(1u << (i % 8));
    }
  }
  return s;
}

// Checks that `pub` is a sealed data object of the kind `key` makes.
bool MatchesKey(const TPMT_PUBLIC& pub, const TpmKeyName& key) {
  if (pub.type != TPM2_ALG_KEYEDHASH || pub.nameAlg != TPM2_ALG_SHA256 ||
      pub.parameters.keyedHashDetail.scheme.scheme != TPM2_ALG_NULL) {
    return false;
  }
  const TPMA_OBJECT a = pub.objectAttributes;
  const TPMA_OBJECT required = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT;
  const TPMA_OBJECT forbidden = TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_RESTRICTED |
                                TPMA_OBJECT_DECRYPT | TPMA_OBJECT_SIGN_ENCRYPT;
  if ((a & required) != required || (a & forbidden) != 0) return false;
  if (key.has_pcr_policy()) {
    return (a & TPMA_OBJECT_USERWITHAUTH) == 0 && pub.authPolicy.size == 32;
  }
  return (a & TPMA_OBJECT_USERWITHAUTH) != 0;
}

Bytes BoxAad(std::string_view name, ByteView header, ByteView aad) {
  Bytes out;
  out.reserve(8 + name.size() + header.size() + aad.size());
  AppendBe32(out, static_cast<uint32_t>(name.size()));
  Append(out, AsBytes(name));
  AppendBe32(out, static_cast<uint32_t>(header.size()));
  Append(out, header);
  Append(out, aad);
  return out;
}

// "host=H,port=P" (either part optional) after "swtpm:".
Result<void> ParseSwtpmConfig(std::string_view conf, std::string& host, uint16_t& port) {
  host = "127.0.0.1";
  port = 2321;
  while (!conf.empty()) {
    size_t comma = conf.find(',');
    std::string_view item = conf.substr(0, comma);
    conf = comma == std::string_view::npos ? std::string_view() : conf.substr(comma + 1);
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      return InvalidArgument("tpm: bad swtpm TCTI option '" + std::string(item) +
                             "' (want host=H,port=P)");
    }
    std::string_view k = item.substr(0, eq), v = item.substr(eq + 1);
    if (k == "host" && !v.empty()) {
      host = std::string(v);
    } else if (k == "port") {
      unsigned value = 0;
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), value);
      if (ec != std::errc() || end != v.data() + v.size() || value == 0 || value > 65535) {
        return InvalidArgument("tpm: bad swtpm port '" + std::string(v) + "'");
      }
      port = static_cast<uint16_t>(value);
    } else {
      return InvalidArgument("tpm: bad swtpm TCTI option '" + std::string(item) + "'");
    }
  }
  return Ok();
}

Result<crypto::SecretBytes> ReadOwnerAuth(const std::string& path) {
  if (path.empty()) return crypto::SecretBytes();
  STRONGROOM_ASSIGN_OR_RETURN(auto source, FdSource::Open(path));
  crypto::SecretBytes buffer(kMaxOwnerAuth + 2);
  size_t have = 0;
  for (;;) {
    MutableByteView rest = buffer.mutable_reveal().subspan(have);
    if (rest.empty()) return InvalidArgument("tpm: owner auth file '" + path + "' is too long");
    STRONGROOM_ASSIGN_OR_RETURN(size_t n, source->Read(rest));
    if (n == 0) break;
    have += n;
  }
  if (have > 0 && buffer.reveal()[have - 1] == '\n') --have;
  if (have > kMaxOwnerAuth) {
    return InvalidArgument("tpm: owner auth in '" + path + "' is longer than 64 bytes");
  }
  return crypto::SecretBytes::CopyFrom(buffer.reveal().first(have));
}

}  // namespace

// ---------------------------------------------------------------------------
// Key names

std::string TpmKeyName::ToString() const {
  std::string out(kTemplateName);
  if (!label.empty()) out += "/" + label;
  if (has_pcr_policy()) {
    out += kPcrPrefix;
    out += BankName(pcr_bank);
    out += ':';
    bool first = true;
    for (int i = 0; i < 24; ++i) {
      if (pcr_mask & (1u << i)) {
        if (!first) out += ',';
        out += std::to_string(i);
        first = false;
      }
    }
  }
  return out;
}

Result<void> ParsePcrSelection(std::string_view text, TpmKeyName& out) {
  size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    return InvalidArgument("tpm: PCR selection '" + std::string(text) + "' is not BANK:i,j,...");
  }
  std::string_view bank = text.substr(0, colon), list = text.substr(colon + 1);
  uint16_t alg = 0;
  for (const Bank& b : kBanks) {
    if (b.name == bank) alg = b.alg;
  }
  if (alg == 0) return InvalidArgument("tpm: unknown PCR bank '" + std::string(bank) + "'");
  uint32_t mask = 0;
  while (true) {
    size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    unsigned index = 0;
    auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), index);
    if (item.empty() || ec != std::errc() || end != item.data() + item.size() || index > 23 ||
        (item.size() > 1 && item[0] == '0')) {
      return InvalidArgument("tpm: bad PCR index '" + std::string(item) + "' (0..23)");
    }
    if (mask & (1u << index)) {
      return InvalidArgument("tpm: PCR " + std::to_string(index) + " selected twice");
    }
    mask |= 1u << index;
    if (comma == std::string_view::npos) break;
    list = list.substr(comma + 1);
  }
  out.pcr_bank = alg;
  out.pcr_mask = mask;
  return Ok();
}

Result<TpmKeyName> ParseTpmKeyName(std::string_view name) {
  auto not_found = [&] {
    return NotFound("tpm: no key named '" + std::string(name) +
                    "' (want primary-ecc-p256[/LABEL][+pcr:BANK:i,j,...])");
  };
  TpmKeyName key;
  std::string_view rest = name;
  if (rest.substr(0, kTemplateName.size()) != kTemplateName) return not_found();
  rest.remove_prefix(kTemplateName.size());
  size_t plus = rest.find('+');
  std::string_view label_part = rest.substr(0, plus);
  if (!label_part.empty()) {
    if (label_part[0] != '/' || !ValidLabel(label_part.substr(1))) return not_found();
    key.label = std::string(label_part.substr(1));
  }
  if (plus != std::string_view::npos) {
    std::string_view pcr = rest.substr(plus);
    if (pcr.substr(0, kPcrPrefix.size()) != kPcrPrefix) return not_found();
    if (!ParsePcrSelection(pcr.substr(kPcrPrefix.size()), key)) return not_found();
  }
  if (key.ToString() != name) return not_found();  // canonical spelling only
  return key;
}

// ---------------------------------------------------------------------------
// One call's connection: a TCTI and an ESAPI context, and the TPM objects
// and sessions the call loaded, flushed (newest first) when it ends.

class TpmProvider::Session {
 public:
  enum class Step { kGeneral, kBlob };

  Session() = default;
  ~Session() {
    if (ctx_ != nullptr) {
      // Flushing needs the TPM; give it a short grace past the call's
      // deadline, unless the transport already failed (then it is gone).
      if (transport_ && !transport_->failed()) {
        const auto grace = Clock::now() + std::chrono::milliseconds(500);
        transport_->set_deadline(std::max(deadline_, grace));
      }
      for (auto it = loaded_.rbegin(); it != loaded_.rend(); ++it) {
        if (transport_ && transport_->failed()) break;
        Esys_FlushContext(ctx_, *it);
      }
      Esys_Finalize(&ctx_);
    }
    if (loader_tcti_ != nullptr) Tss2_TctiLdr_Finalize(&loader_tcti_);
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  Result<void> Open(const TpmOptions& options, const std::string& host, uint16_t port,
                    bool swtpm, Clock::time_point deadline) {
    deadline_ = deadline;
    TSS2_TCTI_CONTEXT* tcti = nullptr;
    if (swtpm) {
      transport_ = std::make_unique<SwtpmTransport>(host, port);
      transport_->set_deadline(deadline);
      tcti = transport_->tcti();
    } else {
      TSS2_RC rc = Tss2_TctiLdr_Initialize(options.tcti.c_str(), &loader_tcti_);
      if (rc != TSS2_RC_SUCCESS) {
        return tl::unexpected(UnavailableError("tpm: cannot open TCTI '" + options.tcti +
                                               "': " + Tss2_RC_Decode(rc)));
      }
      tcti = loader_tcti_;
    }
    TSS2_RC rc = Esys_Initialize(&ctx_, tcti, nullptr);
    if (rc != TSS2_RC_SUCCESS) return tl::unexpected(Fail(rc, "Esys_Initialize"));
    // A TPM that was powered on but not started (swtpm without
    // startup-clear) needs TPM2_Startup; TPM2_RC_INITIALIZE means it already
    // is. Only a transport failure counts here: a resource manager may refuse
    // Startup, and a TPM that really is not started fails the next command.
    rc = Esys_Startup(ctx_, TPM2_SU_CLEAR);
    const uint32_t layer = rc & TSS2_RC_LAYER_MASK;
    if (rc != TSS2_RC_SUCCESS && layer != TSS2_TPM_RC_LAYER &&
        layer != TSS2_RESMGR_TPM_RC_LAYER) {
      Error error = Fail(rc, "TPM2_Startup");
      if (error.code() == ErrorCode::kUnavailable) return tl::unexpected(error);
    }
    return Ok();
  }

  ESYS_CONTEXT* ctx() { return ctx_; }

  // Maps an ESAPI/TPM response code to our errors. Step::kBlob: the command
  // worked on a caller's blob, so a rejected parameter means a bad blob.
  Error Fail(TSS2_RC rc, std::string_view what, Step step = Step::kGeneral) const {
    std::string where = "tpm: " + std::string(what);
    if (transport_ && transport_->failed()) {
      return UnavailableError(where + ": " + transport_->last_error());
    }
    std::string detail = where + ": " + Tss2_RC_Decode(rc) + " (" + Hex32(rc) + ")";
    const uint32_t layer = rc & TSS2_RC_LAYER_MASK;
    if (layer == TSS2_TCTI_RC_LAYER || layer == TSS2_RESMGR_RC_LAYER) {
      return UnavailableError(detail);
    }
    if (layer == TSS2_TPM_RC_LAYER || layer == TSS2_RESMGR_TPM_RC_LAYER) {
      const uint32_t tpm = rc & 0xFFFF;
      if (tpm & TPM2_RC_FMT1) {
        const uint32_t base = TPM2_RC_FMT1 | (tpm & 0x3F);
        if (base == TPM2_RC_POLICY_FAIL) {
          return Error(ErrorCode::kPermissionDenied,
                       detail + "; the PCR values differ from those the key was sealed to");
        }
        if (base == TPM2_RC_AUTH_FAIL || base == TPM2_RC_BAD_AUTH) {
          return Error(ErrorCode::kPermissionDenied,
                       detail + "; is the owner authorization (owner_auth_file) right?");
        }
        if (base == TPM2_RC_HIERARCHY) return Error(ErrorCode::kPermissionDenied, detail);
        if (step == Step::kBlob) return Error(ErrorCode::kDataLoss, detail);
        return Error(ErrorCode::kInternal, detail);
      }
      if ((tpm & TPM2_RC_WARN) == TPM2_RC_WARN) {
        // RETRY, YIELDED, TESTING, LOCKOUT, OBJECT_MEMORY, ...: transient.
        if (tpm == TPM2_RC_LOCKOUT) {
          detail += "; the TPM is in dictionary-attack lockout";
        } else if (tpm == TPM2_RC_OBJECT_MEMORY || tpm == TPM2_RC_SESSION_MEMORY) {
          detail += "; another client left objects or sessions loaded (tpm2_flushcontext -t -s)";
        }
        return UnavailableError(detail);
      }
      if (tpm == TPM2_RC_INITIALIZE || tpm == TPM2_RC_FAILURE || tpm == TPM2_RC_PCR_CHANGED ||
          tpm == TPM2_RC_REBOOT) {
        return UnavailableError(detail);
      }
      if (step == Step::kBlob) return Error(ErrorCode::kDataLoss, detail);
      return Error(ErrorCode::kInternal, detail);
    }
    const uint32_t base = rc & 0xFFFF;
    if ((layer == TSS2_SYS_RC_LAYER || layer == TSS2_ESAPI_RC_LAYER) &&
        (base == TSS2_BASE_RC_MALFORMED_RESPONSE || base == TSS2_BASE_RC_INSUFFICIENT_RESPONSE ||
         base == TSS2_BASE_RC_IO_ERROR)) {
      return UnavailableError(detail);
    }
    if (step == Step::kBlob) return Error(ErrorCode::kDataLoss, detail);
    return Error(ErrorCode::kInternal, detail);
  }

  // Remembers `handle` so the destructor flushes it.
  void Loaded(ESYS_TR handle) { loaded_.push_back(handle); }
  // Flushes `handle` now (frees a TPM slot early).
  Result<void> Flush(ESYS_TR handle) {
    auto it = std::find(loaded_.begin(), loaded_.end(), handle);
    if (it != loaded_.end()) loaded_.erase(it);
    TSS2_RC rc = Esys_FlushContext(ctx_, handle);
    if (rc != TSS2_RC_SUCCESS) return tl::unexpected(Fail(rc, "TPM2_FlushContext"));
    return Ok();
  }

  // The key's primary storage key (owner hierarchy, deterministic).
  Result<ESYS_TR> CreatePrimary(const TpmKeyName& key, const crypto::SecretBytes& owner_auth) {
    STRONGROOM_ASSIGN_OR_RETURN(TPM2B_PUBLIC in_public, PrimaryTemplate(key));
    ESYS_TR auth_session = ESYS_TR_PASSWORD;
    if (!owner_auth.empty()) {
      // Prove the owner auth with an HMAC instead of sending it in clear.
      TPM2B_AUTH auth{};
      auth.size = static_cast<UINT16>(owner_auth.size());
      std::memcpy(auth.buffer, owner_auth.reveal().data(), owner_auth.size());
      TSS2_RC rc = Esys_TR_SetAuth(ctx_, ESYS_TR_RH_OWNER, &auth);
      crypto::Cleanse({auth.buffer, sizeof auth.buffer});
      if (rc != TSS2_RC_SUCCESS) return tl::unexpected(Fail(rc, "Esys_TR_SetAuth(owner)"));
      TPMT_SYM_DEF none{};
      none.algorithm = TPM2_ALG_NULL;
      rc = Esys_StartAuthSession(ctx_, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                 ESYS_TR_NONE, nullptr, TPM2_SE_HMAC, &none, TPM2_ALG_SHA256,
                                 &auth_session);
      if (rc != TSS2_RC_SUCCESS) return tl::unexpected(Fail(rc, "TPM2_StartAuthSession(owner)"));
      Loaded(auth_session);
    }
    TPM2B_SENSITIVE_CREATE sensitive{};
    TPM2B_DATA outside{};
    TPML_PCR_SELECTION creation_pcrs{};
    ESYS_TR primary = ESYS_TR_NONE;
    TSS2_RC rc = Esys_CreatePrimary(ctx_, ESYS_TR_RH_OWNER, auth_session, ESYS_TR_NONE,
                                    ESYS_TR_NONE, &sensitive, &in_public, &outside,
                                    &creation_pcrs, &primary, nullptr, nullptr, nullptr, nullptr);
    if (auth_session != ESYS_TR_PASSWORD) {
      Result<void> flushed = Flush(auth_session);
      if (rc == TSS2_RC_SUCCESS && !flushed) {
        Loaded(primary);
        return tl::unexpected(flushed.error());
      }
    }
    if (rc != TSS2_RC_SUCCESS) return tl::unexpected(Fail(rc, "TPM2_CreatePrimary(owner)"));
    Loaded(primary);
    return primary;
  }

  // A session salted with `primary` (so its key is known only to us and the
  // TPM), with AES-128-CFB parameter encryption per `attributes`.
  Result<ESYS_TR> StartSalted(ESYS_TR primary, TPM2_SE type, TPMA_SESSION attributes) {
    TPMT_SYM_DEF sym{};
    sym.algorithm = TPM2_ALG_AES;
    sym.keyBits.aes = 128;
    sym.mode.aes = TPM2_ALG_CFB;
    ESYS_TR session = ESYS_TR_NONE;
    TSS2_RC rc = Esys_StartAuthSession(ctx_, primary, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                       ESYS_TR_NONE, nullptr, type, &sym, TPM2_ALG_SHA256,
                                       &session);
    if (rc != TSS2_RC_SUCCESS) return tl::unexpected(Fail(rc, "TPM2_StartAuthSession(salted)"));
    Loaded(session);
    rc = Esys_TRSess_SetAttributes(ctx_, session, attributes, 0xff);
    if (rc != TSS2_RC_SUCCESS) return tl::unexpected(Fail(rc, "Esys_TRSess_SetAttributes"));
    return session;
  }

 private:
  std::unique_ptr<SwtpmTransport> transport_;
  TSS2_TCTI_CONTEXT* loader_tcti_ = nullptr;
  ESYS_CONTEXT* ctx_ = nullptr;
  Clock::time_point deadline_;
  std::vector<ESYS_TR> loaded_;
};

// ---------------------------------------------------------------------------
// TpmProvider

Result<std::unique_ptr<TpmProvider>> TpmProvider::Create(TpmOptions options) {
  if (options.timeout.count() <= 0) return InvalidArgument("tpm: timeout must be positive");
  std::string host;
  uint16_t port = 0;
  bool swtpm = false;
  constexpr std::string_view kSwtpm = "swtpm";
  std::string_view tcti = options.tcti;
  if (tcti.empty()) return InvalidArgument("tpm: empty TCTI configuration");
  if (tcti == kSwtpm || tcti.substr(0, kSwtpm.size() + 1) == "swtpm:") {
    swtpm = true;
    std::string_view conf = tcti.size() > kSwtpm.size() ? tcti.substr(kSwtpm.size() + 1) : "";
    STRONGROOM_RETURN_IF_ERROR(ParseSwtpmConfig(conf, host, port));
  }
  if (!options.default_pcrs.empty()) {
    TpmKeyName probe;
    STRONGROOM_RETURN_IF_ERROR(ParsePcrSelection(options.default_pcrs, probe));
  }
  STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes owner_auth,
                              ReadOwnerAuth(options.owner_auth_file));
  return std::unique_ptr<TpmProvider>(
      new TpmProvider(std::move(options), std::move(owner_auth), std::move(host), port, swtpm));
}

TpmProvider::TpmProvider(TpmOptions options, crypto::SecretBytes owner_auth, std::string host,
                         uint16_t port, bool swtpm)
    : options_(std::move(options)),
      owner_auth_(std::move(owner_auth)),
      swtpm_host_(std::move(host)),
      swtpm_port_(port),
      use_swtpm_transport_(swtpm) {}

TpmProvider::~TpmProvider() = default;

Result<std::unique_ptr<TpmProvider::Session>> TpmProvider::Open(
    std::unique_lock<std::timed_mutex>& lock, Clock::time_point deadline) {
  if (!lock.try_lock_until(deadline)) {
    return tl::unexpected(UnavailableError(
        "tpm: busy: earlier calls held the TPM for longer than the " +
        std::to_string(options_.timeout.count()) + " ms timeout"));
  }
  auto session = std::make_unique<Session>();
  STRONGROOM_RETURN_IF_ERROR(
      session->Open(options_, swtpm_host_, swtpm_port_, use_swtpm_transport_, deadline));
  return session;
}

Result<std::string> TpmProvider::CreateKey(std::string_view label) {
  TpmKeyName key;
  std::string_view plain = label;
  size_t plus = label.find(kPcrPrefix);
  if (plus != std::string_view::npos) {
    plain = label.substr(0, plus);
    STRONGROOM_RETURN_IF_ERROR(ParsePcrSelection(label.substr(plus + kPcrPrefix.size()), key));
  } else if (!options_.default_pcrs.empty()) {
    STRONGROOM_RETURN_IF_ERROR(ParsePcrSelection(options_.default_pcrs, key));
  }
  if (!plain.empty() && !ValidLabel(plain)) {
    return InvalidArgument("tpm: key label '" + std::string(plain) +
                           "' must be 1-64 of A-Z a-z 0-9 . _ -");
  }
  key.label = std::string(plain);

  const auto deadline = Clock::now() + options_.timeout;
  std::unique_lock<std::timed_mutex> lock(call_mutex_, std::defer_lock);
  STRONGROOM_ASSIGN_OR_RETURN(auto session, Open(lock, deadline));
  STRONGROOM_ASSIGN_OR_RETURN(ESYS_TR primary, session->CreatePrimary(key, owner_auth_));
  STRONGROOM_RETURN_IF_ERROR(session->Flush(primary));
  if (key.has_pcr_policy()) {
    // The TPM must have the bank and the PCRs, or nothing could be sealed.
    TPML_PCR_SELECTION want = PcrSelection(key);
    UINT32 counter = 0;
    TPML_PCR_SELECTION* got_raw = nullptr;
    TPML_DIGEST* values_raw = nullptr;
    TSS2_RC rc = Esys_PCR_Read(session->ctx(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &want,
                               &counter, &got_raw, &values_raw);
    EsysPtr<TPML_PCR_SELECTION> got(got_raw);
    EsysPtr<TPML_DIGEST> values(values_raw);
    if (rc != TSS2_RC_SUCCESS) return tl::unexpected(session->Fail(rc, "TPM2_PCR_Read"));
    uint32_t have = 0;
    for (UINT32 i = 0; i < got->count; ++i) {
      if (got->pcrSelections[i].hash != key.pcr_bank) continue;
      for (int pcr = 0; pcr < 24 && pcr / 8 < got->pcrSelections[i].sizeofSelect; ++pcr) {
        if (got->pcrSelections[i].pcrSelect[pcr / 8] & (1u << (pcr % 8))) have |= 1u << pcr;
      }
    }
    if ((have & key.pcr_mask) != key.pcr_mask) {
      return InvalidArgument("tpm: the TPM has no PCR bank " +
                             std::string(BankName(key.pcr_bank)) + " with the selected PCRs");
    }
  }
  return key.ToString();
}

Result<Bytes> TpmProvider::Wrap(std::string_view key_name, ByteView plaintext, ByteView aad) {
  STRONGROOM_ASSIGN_OR_RETURN(TpmKeyName key, ParseTpmKeyName(key_name));
  if (plaintext.size() > kMaxPlaintext) {
    return InvalidArgument("tpm: plaintext of " + std::to_string(plaintext.size()) +
                           " bytes; at most 4096 can be wrapped");
  }
  STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes sealed_key,
                              crypto::RandomSecret(kSealedKeySize));

  const auto deadline = Clock::now() + options_.timeout;
  std::unique_lock<std::timed_mutex> lock(call_mutex_, std::defer_lock);
  STRONGROOM_ASSIGN_OR_RETURN(auto session, Open(lock, deadline));
  ESYS_CONTEXT* ctx = session->ctx();
  STRONGROOM_ASSIGN_OR_RETURN(ESYS_TR primary, session->CreatePrimary(key, owner_auth_));
  // DECRYPT: TPM2_Create's inSensitive (K) travels encrypted.
  STRONGROOM_ASSIGN_OR_RETURN(
      ESYS_TR hmac,
      session->StartSalted(primary, TPM2_SE_HMAC,
                           TPMA_SESSION_DECRYPT | TPMA_SESSION_CONTINUESESSION));

  std::optional<TPM2B_DIGEST> policy;
  if (key.has_pcr_policy()) {
    // authPolicy = PolicyPCR over the current values, computed by the TPM.
    TPMT_SYM_DEF none{};
    none.algorithm = TPM2_ALG_NULL;
    ESYS_TR trial = ESYS_TR_NONE;
    TSS2_RC rc = Esys_StartAuthSession(ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                       ESYS_TR_NONE, ESYS_TR_NONE, nullptr, TPM2_SE_TRIAL, &none,
                                       TPM2_ALG_SHA256, &trial);
    if (rc != TSS2_RC_SUCCESS) {
      return tl::unexpected(session->Fail(rc, "TPM2_StartAuthSession(trial)"));
    }
    session->Loaded(trial);
    TPM2B_DIGEST current{};  // empty: the TPM uses the PCRs' present values
    TPML_PCR_SELECTION selection = PcrSelection(key);
    rc = Esys_PolicyPCR(ctx, trial, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &current,
                        &selection);
    if (rc != TSS2_RC_SUCCESS) return tl::unexpected(session->Fail(rc, "TPM2_PolicyPCR(trial)"));
    TPM2B_DIGEST* digest_raw = nullptr;
    rc = Esys_PolicyGetDigest(ctx, trial, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &digest_raw);
    EsysPtr<TPM2B_DIGEST> digest(digest_raw);
    if (rc != TSS2_RC_SUCCESS) return tl::unexpected(session->Fail(rc, "TPM2_PolicyGetDigest"));
    policy = *digest;
    STRONGROOM_RETURN_IF_ERROR(session->Flush(trial));
  }

  TPM2B_SENSITIVE_CREATE sensitive{};
  sensitive.sensitive.data.size = static_cast<UINT16>(sealed_key.size());
  std::memcpy(sensitive.sensitive.data.buffer, sealed_key.reveal().data(), sealed_key.size());
  TPM2B_PUBLIC in_public = SealTemplate(policy ? &*policy : nullptr);
  TPM2B_DATA outside{};
  TPML_PCR_SELECTION creation_pcrs{};
  TPM2B_PRIVATE* private_raw = nullptr;
  TPM2B_PUBLIC* public_raw = nullptr;
  TSS2_RC rc = Esys_Create(ctx, primary, hmac, ESYS_TR_NONE, ESYS_TR_NONE, &sensitive,
                           &in_public, &outside, &creation_pcrs, &private_raw, &public_raw,
                           nullptr, nullptr, nullptr);
  crypto::Cleanse({reinterpret_cast<uint8_t*>(&sensitive), sizeof sensitive});
  EsysPtr<TPM2B_PRIVATE> out_private(private_raw);
  EsysPtr<TPM2B_PUBLIC> out_public(public_raw);
  if (rc != TSS2_RC_SUCCESS) return tl::unexpected(session->Fail(rc, "TPM2_Create(seal)"));

  Bytes wrapped(1 + sizeof(TPM2B_PUBLIC) + sizeof(TPM2B_PRIVATE));
  wrapped[0] = kBlobVersion;
  size_t offset = 1;
  rc = Tss2_MU_TPM2B_PUBLIC_Marshal(out_public.get(), wrapped.data(), wrapped.size(), &offset);
  if (rc == TSS2_RC_SUCCESS) {
    rc = Tss2_MU_TPM2B_PRIVATE_Marshal(out_private.get(), wrapped.data(), wrapped.size(),
                                       &offset);
  }
  if (rc != TSS2_RC_SUCCESS) return tl::unexpected(session->Fail(rc, "marshal sealed object"));
  wrapped.resize(offset);
  session.reset();  // flush and disconnect before the local work
  lock.unlock();

  Bytes box_aad = BoxAad(key_name, wrapped, aad);
  STRONGROOM_ASSIGN_OR_RETURN(
      Bytes box, crypto::SealBox(sealed_key.reveal(), kBoxPurpose, plaintext, box_aad));
  Append(wrapped, box);
  return wrapped;
}

Result<crypto::SecretBytes> TpmProvider::Unwrap(std::string_view key_name, ByteView wrapped,
                                                ByteView aad) {
  STRONGROOM_ASSIGN_OR_RETURN(TpmKeyName key, ParseTpmKeyName(key_name));
  // Parse: version ‖ TPM2B_PUBLIC ‖ TPM2B_PRIVATE ‖ box.
  if (wrapped.empty() || wrapped[0] != kBlobVersion) {
    return DataLoss("tpm: wrapped key has an unknown version or is empty");
  }
  TPM2B_PUBLIC in_public{};
  TPM2B_PRIVATE in_private{};
  size_t offset = 1;
  if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(wrapped.data(), wrapped.size(), &offset, &in_public) !=
          TSS2_RC_SUCCESS ||
      Tss2_MU_TPM2B_PRIVATE_Unmarshal(wrapped.data(), wrapped.size(), &offset, &in_private) !=
          TSS2_RC_SUCCESS ||
      wrapped.size() - offset < crypto::kSealedBoxOverhead) {
    return DataLoss("tpm: wrapped key is truncated or malformed");
  }
  if (!MatchesKey(in_public.publicArea, key)) {
    return DataLoss("tpm: wrapped key was not made under key '" + std::string(key_name) + "'");
  }
  const ByteView header = wrapped.first(offset);
  const ByteView box = wrapped.subspan(offset);

  crypto::SecretBytes sealed_key;
  {
    const auto deadline = Clock::now() + options_.timeout;
    std::unique_lock<std::timed_mutex> lock(call_mutex_, std::defer_lock);
    STRONGROOM_ASSIGN_OR_RETURN(auto session, Open(lock, deadline));
    ESYS_CONTEXT* ctx = session->ctx();
    STRONGROOM_ASSIGN_OR_RETURN(ESYS_TR primary, session->CreatePrimary(key, owner_auth_));
    // TPM2_Load carries only the private area, already encrypted to the
    // primary, and the primary's auth is empty: a password session is enough
    // (a modified blob fails the TPM's integrity check or our box).
    ESYS_TR object = ESYS_TR_NONE;
    TSS2_RC rc = Esys_Load(ctx, primary, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                           &in_private, &in_public, &object);
    if (rc != TSS2_RC_SUCCESS) {
      return tl::unexpected(session->Fail(rc, "TPM2_Load", Session::Step::kBlob));
    }
    session->Loaded(object);
    // TPM2_Unseal returns K: ENCRYPT makes it travel encrypted under the
    // salted session's key. A policy session for PCR-bound objects.
    STRONGROOM_ASSIGN_OR_RETURN(
        ESYS_TR unseal_session,
        session->StartSalted(primary, key.has_pcr_policy() ? TPM2_SE_POLICY : TPM2_SE_HMAC,
                             TPMA_SESSION_ENCRYPT | TPMA_SESSION_CONTINUESESSION));
    STRONGROOM_RETURN_IF_ERROR(session->Flush(primary));
    if (key.has_pcr_policy()) {
      TPM2B_DIGEST current{};  // empty: the TPM checks the PCRs' present values
      TPML_PCR_SELECTION selection = PcrSelection(key);
      rc = Esys_PolicyPCR(ctx, unseal_session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                          &current, &selection);
      if (rc != TSS2_RC_SUCCESS) return tl::unexpected(session->Fail(rc, "TPM2_PolicyPCR"));
    }
    TPM2B_SENSITIVE_DATA* data_raw = nullptr;
    rc = Esys_Unseal(ctx, object, unseal_session, ESYS_TR_NONE, ESYS_TR_NONE, &data_raw);
    if (data_raw != nullptr) {
      if (rc == TSS2_RC_SUCCESS && data_raw->size == kSealedKeySize) {
        sealed_key = crypto::SecretBytes::CopyFrom({data_raw->buffer, data_raw->size});
      }
      crypto::Cleanse({data_raw->buffer, sizeof data_raw->buffer});
      Esys_Free(data_raw);
    }
    if (rc != TSS2_RC_SUCCESS) return tl::unexpected(session->Fail(rc, "TPM2_Unseal"));
    if (sealed_key.empty()) return DataLoss("tpm: the sealed object holds no 32-byte key");
  }

  Bytes box_aad = BoxAad(key_name, header, aad);
  auto opened = crypto::OpenBox(sealed_key.reveal(), kBoxPurpose, box, box_aad);
  if (!opened) {
    return DataLoss("tpm: wrapped key does not authenticate under key '" +
                    std::string(key_name) + "' and this AAD");
  }
  return std::move(opened).value();
}

Result<void> TpmProvider::DestroyKey(std::string_view key_name) {
  STRONGROOM_ASSIGN_OR_RETURN(TpmKeyName key, ParseTpmKeyName(key_name));
  (void)key;
  return Unimplemented(
      "tpm: key '" + std::string(key_name) +
      "' is a primary key the TPM re-derives from its owner seed, so it cannot be destroyed "
      "alone; delete every blob wrapped under it, or clear the owner hierarchy (TPM2_Clear, "
      "which destroys every owner key)");
}

Result<void> TpmProvider::HealthCheck() {
  const auto deadline = Clock::now() + options_.timeout;
  std::unique_lock<std::timed_mutex> lock(call_mutex_, std::defer_lock);
  STRONGROOM_ASSIGN_OR_RETURN(auto session, Open(lock, deadline));
  TPMI_YES_NO more = 0;
  TPMS_CAPABILITY_DATA* data_raw = nullptr;
  TSS2_RC rc = Esys_GetCapability(session->ctx(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                  TPM2_CAP_TPM_PROPERTIES, TPM2_PT_MANUFACTURER, 1, &more,
                                  &data_raw);
  EsysPtr<TPMS_CAPABILITY_DATA> data(data_raw);
  if (rc != TSS2_RC_SUCCESS) return tl::unexpected(session->Fail(rc, "TPM2_GetCapability"));
  if (data->data.tpmProperties.count < 1) return Internal("tpm: GetCapability returned nothing");
  return Ok();
}

}  // namespace strongroom::keys
