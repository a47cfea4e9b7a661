// SPDX-License-Identifier: Apache-2.0
#include "crypto/certificate.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "base/bytes.h"
#include "crypto/random.h"

namespace strongroom::crypto {
namespace {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
  void operator()(GENERAL_NAMES* p) const { GENERAL_NAMES_free(p); }
  void operator()(GENERAL_NAME* p) const { GENERAL_NAME_free(p); }
  // ASN1_OCTET_STRING and ASN1_IA5STRING are both ASN1_STRING.
  void operator()(ASN1_STRING* p) const { ASN1_STRING_free(p); }
};
template <typename T>
using Ptr = std::unique_ptr<T, Free>;

// The OpenSSL error queue as text (and cleared), after `what`.
std::string OpenSslError(const std::string& what) {
  std::string message = what;
  unsigned long code = 0;
  bool first = true;
  while ((code = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    message += first ? ": " : "; ";
    message += buf;
    first = false;
  }
  return message;
}

bool IsDnsName(const std::string& host) {
  if (host.empty() || host.size() > 253) {
    return false;
  }
  for (char c : host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == '*';
    if (!ok) {
      return false;
    }
  }
  return true;
}

// subjectAltName: IP addresses as iPAddress, everything else as dNSName.
Result<Ptr<GENERAL_NAMES>> MakeSubjectAltNames(const std::vector<std::string>& hosts) {
  Ptr<GENERAL_NAMES> names(sk_GENERAL_NAME_new_null());
  if (!names) {
    return Internal(OpenSslError("allocating subjectAltName"));
  }
  for (const std::string& host : hosts) {
    Ptr<GENERAL_NAME> name(GENERAL_NAME_new());
    if (!name) {
      return Internal(OpenSslError("allocating subjectAltName entry"));
    }
    if (Ptr<ASN1_OCTET_STRING> ip{a2i_IPADDRESS(host.c_str())}) {
      GENERAL_NAME_set0_value(name.get(), GEN_IPADD, ip.release());
    } else {
      ERR_clear_error();  // a2i_IPADDRESS leaves an error for non-addresses
      if (!IsDnsName(host)) {
        return InvalidArgument("certificate host '" + host +
                               "' is neither an IP address nor a DNS name");
      }
      Ptr<ASN1_IA5STRING> dns(ASN1_IA5STRING_new());
      if (!dns || ASN1_STRING_set(dns.get(), host.data(), static_cast<int>(host.size())) != 1) {
        return Internal(OpenSslError("encoding DNS name"));
      }
      GENERAL_NAME_set0_value(name.get(), GEN_DNS, dns.release());
    }
    if (sk_GENERAL_NAME_push(names.get(), name.get()) == 0) {
      return Internal(OpenSslError("building subjectAltName"));
    }
    name.release();  // owned by `names`
  }
  return names;
}

Result<void> AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) {
    return Internal(OpenSslError(std::string("building extension ") + OBJ_nid2sn(nid)));
  }
  const int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (ok != 1) {
    return Internal(OpenSslError(std::string("adding extension ") + OBJ_nid2sn(nid)));
  }
  return Ok();
}

Result<Ptr<X509>> MakeCertificate(EVP_PKEY* key, const std::vector<std::string>& hosts, int days) {
  Ptr<X509> cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return Internal(OpenSslError("allocating certificate"));
  }
  // 16 random bytes with the top bit clear: a positive 127-bit serial.
  STRONGROOM_ASSIGN_OR_RETURN(Bytes serial, RandomBytes(16));
  serial[0] &= 0x7f;
  serial[0] |= 0x01;  // never zero, never shortened below 16 bytes
  Ptr<BIGNUM> bn(BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr));
  if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return Internal(OpenSslError("setting serial number"));
  }
  // Backdated a little for clocks that run behind.
  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), days, 0, nullptr) == nullptr) {
    return Internal(OpenSslError("setting validity"));
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  const std::string common_name = hosts.front().substr(0, 64);
  if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>("strongroom development"),
                                 -1, -1, 0) != 1 ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                                 -1, 0) != 1 ||
      X509_set_issuer_name(cert.get(), name) != 1) {
    return Internal(OpenSslError("setting subject"));
  }
  if (X509_set_pubkey(cert.get(), key) != 1) {
    return Internal(OpenSslError("setting public key"));
  }
  // A self-signed end-entity certificate: clients trust it directly.
  STRONGROOM_RETURN_IF_ERROR(
      AddExtension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:FALSE"));
  STRONGROOM_RETURN_IF_ERROR(
      AddExtension(cert.get(), cert.get(), NID_key_usage, "critical,digitalSignature"));
  STRONGROOM_RETURN_IF_ERROR(AddExtension(cert.get(), cert.get(), NID_ext_key_usage, "serverAuth"));
  STRONGROOM_RETURN_IF_ERROR(
      AddExtension(cert.get(), cert.get(), NID_subject_key_identifier, "hash"));
  STRONGROOM_ASSIGN_OR_RETURN(Ptr<GENERAL_NAMES> names, MakeSubjectAltNames(hosts));
  if (X509_add1_ext_i2d(cert.get(), NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) !=
      1) {
    return Internal(OpenSslError("adding subjectAltName"));
  }
  if (X509_sign(cert.get(), key, EVP_sha256()) <= 0) {
    return Internal(OpenSslError("signing certificate"));
  }
  return cert;
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

// Writes `data` to `path` created with `mode` (O_EXCL unless `overwrite`;
// an existing file is truncated). With `exact_mode` the mode is set exactly
// (regardless of umask or an existing file's mode).
Result<void> WriteFile(const std::string& path, const char* data, size_t size, mode_t mode,
                       bool exact_mode, bool overwrite) {
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (overwrite ? O_TRUNC : O_EXCL);
  int fd = ::open(path.c_str(), flags, mode);
  if (fd < 0) {
    const int err = errno;
    if (err == EEXIST) {
      return AlreadyExists("'" + path + "' exists");
    }
    if (err == EACCES || err == EPERM) {
      return PermissionDenied("cannot create '" + path + "': " + std::strerror(err));
    }
    return Unavailable("cannot create '" + path + "': " + std::strerror(err));
  }
  auto fail = [&](const char* what) -> Result<void> {
    const int err = errno;
    ::close(fd);
    return Unavailable(std::string(what) + " '" + path + "': " + std::strerror(err));
  };
  if (exact_mode && ::fchmod(fd, mode) != 0) {
    return fail("cannot set the mode of");
  }
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::write(fd, data + done, size - done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail("cannot write");
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    return fail("cannot sync");
  }
  if (::close(fd) != 0) {
    const int err = errno;
    return Unavailable("cannot close '" + path + "': " + std::strerror(err));
  }
  return Ok();
}

// PEM from a memory BIO (secure heap for the key), written without copying.
Result<void> WriteBio(BIO* bio, const std::string& path, mode_t mode, bool exact_mode,
                      bool overwrite) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  if (size <= 0 || data == nullptr) {
    return Internal(OpenSslError("encoding PEM for '" + path + "'"));
  }
  return WriteFile(path, data, static_cast<size_t>(size), mode, exact_mode, overwrite);
}

}  // namespace

Result<void> WriteSelfSignedCertificate(const std::string& cert_file, const std::string& key_file,
                                        const std::vector<std::string>& hosts, int days,
                                        bool overwrite) {
  if (hosts.empty()) {
    return InvalidArgument("a certificate needs at least one host");
  }
  if (days <= 0 || days > 3650 * 10) {
    return InvalidArgument("certificate validity must be 1 to 36500 days");
  }
  if (cert_file.empty() || key_file.empty() || cert_file == key_file) {
    return InvalidArgument("certificate and key need two distinct file names");
  }
  if (!overwrite) {
    for (const std::string* path : {&cert_file, &key_file}) {
      if (Exists(*path)) {
        return AlreadyExists("'" + *path + "' exists");
      }
    }
  }

  Ptr<EVP_PKEY> key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) {
    return Internal(OpenSslError("generating a P-256 key"));
  }
  STRONGROOM_ASSIGN_OR_RETURN(Ptr<X509> cert, MakeCertificate(key.get(), hosts, days));

  Ptr<BIO> key_pem(BIO_new(BIO_s_secmem()));
  if (!key_pem || PEM_write_bio_PrivateKey(key_pem.get(), key.get(), nullptr, nullptr, 0, nullptr,
                                           nullptr) != 1) {
    return Internal(OpenSslError("encoding the private key"));
  }
  Ptr<BIO> cert_pem(BIO_new(BIO_s_mem()));
  if (!cert_pem || PEM_write_bio_X509(cert_pem.get(), cert.get()) != 1) {
    return Internal(OpenSslError("encoding the certificate"));
  }
  // The key first: a certificate never exists without its key.
  STRONGROOM_RETURN_IF_ERROR(WriteBio(key_pem.get(), key_file, 0600, true, overwrite));
  STRONGROOM_RETURN_IF_ERROR(WriteBio(cert_pem.get(), cert_file, 0644, false, overwrite));
  return Ok();
}

}  // namespace strongroom::crypto
