// SPDX-License-Identifier: Apache-2.0
#include "cli/file_commands.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>

#include "base/file.h"
#include "cli/terminal.h"
#include "crypto/random.h"
#include "format/file_container.h"

namespace strongroom::cli {
namespace {

// Argon2id costs: the format's defaults, or STRONGROOM_ARGON2_PARAMS="T,M,P"
// (for tests and slow machines; the values are stored in the file).
Result<crypto::Argon2idParams> Argon2Params() {
  crypto::Argon2idParams params;
  const char* env = std::getenv("STRONGROOM_ARGON2_PARAMS");
  if (env == nullptr || *env == '\0') {
    return params;
  }
  unsigned t = 0, m = 0, p = 0;
  char extra;
  if (std::sscanf(env, "%u,%u,%u%c", &t, &m, &p, &extra) != 3) {
    return InvalidArgument("STRONGROOM_ARGON2_PARAMS must be T,M,P (iterations, KiB, lanes)");
  }
  params = {t, m, p};
  STRONGROOM_RETURN_IF_ERROR(crypto::ValidateArgon2idParams(params));
  return params;
}

// The key the options name: a key file, a passphrase file, the
// STRONGROOM_PASSPHRASE variable, or a prompt on the terminal, in that order.
Result<format::FileKey> ResolveKey(const FileCommandOptions& options, bool encrypting) {
  if (options.key_file && options.passphrase_file) {
    return InvalidArgument("--key-file and --passphrase-file exclude each other");
  }
  format::FileKey key;
  if (options.key_file) {
    key.source = format::KeySource::kKeyFile;
    STRONGROOM_ASSIGN_OR_RETURN(key.secret, ReadKeyFile(*options.key_file));
    return key;
  }
  key.source = format::KeySource::kPassphrase;
  STRONGROOM_ASSIGN_OR_RETURN(key.argon2, Argon2Params());
  if (options.passphrase_file) {
    STRONGROOM_ASSIGN_OR_RETURN(key.secret, ReadPassphraseFile(*options.passphrase_file));
    return key;
  }
  if (const char* env = std::getenv("STRONGROOM_PASSPHRASE"); env != nullptr && *env != '\0') {
    key.secret = crypto::SecretBytes::CopyFrom(AsBytes(env));
    return key;
  }
  STRONGROOM_ASSIGN_OR_RETURN(key.secret,
                              PromptPassphrase(encrypting ? "New passphrase: " : "Passphrase: ",
                                               /*confirm=*/encrypting));
  return key;
}

struct Input {
  std::unique_ptr<FdSource> owned;
  ByteSource* source = nullptr;
  std::optional<uint64_t> size;
};

Result<Input> OpenInput(const std::string& path) {
  Input input;
  if (path == "-") {
    static FdSource stdin_source(STDIN_FILENO);
    input.source = &stdin_source;
    input.size = RegularFileSize(STDIN_FILENO);
  } else {
    STRONGROOM_ASSIGN_OR_RETURN(input.owned, FdSource::Open(path));
    input.source = input.owned.get();
    input.size = RegularFileSize(input.owned->fd());
  }
  return input;
}

// Runs `transform` from the input to the output. With -o the output is an
// AtomicFile: it appears only if `transform` succeeds.
template <typename Transform>
Result<void> Pipe(const FileCommandOptions& options, bool encrypting, Transform&& transform) {
  if (!options.output && encrypting && ::isatty(STDOUT_FILENO) == 1) {
    return FailedPrecondition("refusing to write ciphertext to a terminal; use -o FILE");
  }
  // Fail on an existing output before asking for a passphrase.
  std::unique_ptr<AtomicFile> file;
  if (options.output && *options.output != "-") {
    STRONGROOM_ASSIGN_OR_RETURN(file, AtomicFile::Create(*options.output, options.force));
  }
  STRONGROOM_ASSIGN_OR_RETURN(format::FileKey key, ResolveKey(options, encrypting));
  STRONGROOM_ASSIGN_OR_RETURN(Input input, OpenInput(options.input));
  ProgressSource progress(*input.source, input.size, encrypting ? "encrypting" : "decrypting");
  FdSink stdout_sink(STDOUT_FILENO);
  ByteSink& sink = file ? static_cast<ByteSink&>(*file) : stdout_sink;
  STRONGROOM_RETURN_IF_ERROR(transform(key, progress, sink));
  progress.Finish();
  if (file) {
    STRONGROOM_RETURN_IF_ERROR(file->Commit());
  }
  return Ok();
}

const char* KeySourceName(format::KeySource source) {
  return source == format::KeySource::kPassphrase ? "passphrase (argon2id)" : "key file";
}

}  // namespace

Result<void> RunEncrypt(const FileCommandOptions& options) {
  return Pipe(options, true,
              [](const format::FileKey& key, ByteSource& in, ByteSink& out) -> Result<void> {
                STRONGROOM_RETURN_IF_ERROR(format::EncryptFile(key, in, out));
                return Ok();
              });
}

Result<void> RunDecrypt(const FileCommandOptions& options) {
  return Pipe(options, false,
              [](const format::FileKey& key, ByteSource& in, ByteSink& out) -> Result<void> {
                auto decrypted = format::DecryptFile(key, in, out);
                if (!decrypted && decrypted.error().code() == ErrorCode::kDataLoss) {
                  return tl::unexpected(decrypted.error().WithContext(
                      "the encrypted file is corrupt, truncated or extended"));
                }
                STRONGROOM_RETURN_IF_ERROR(decrypted);
                return Ok();
              });
}

Result<void> RunInspect(const std::string& path) {
  STRONGROOM_ASSIGN_OR_RETURN(auto file, FileRandomAccessSource::Open(path));
  STRONGROOM_ASSIGN_OR_RETURN(format::FileInspection info, format::InspectFile(*file));
  const format::FileHeader& h = info.header;
  std::ostringstream out;
  out << "file:            " << path << " (" << info.file_size << " bytes)\n"
      << "format:          strongroom file container, version 1\n"
      << "key source:      " << KeySourceName(h.key_source) << "\n";
  if (h.key_source == format::KeySource::kPassphrase) {
    out << "argon2id:        t=" << h.argon2.iterations << " m=" << h.argon2.memory_kib
        << " KiB p=" << h.argon2.parallelism << "\n"
        << "kdf salt:        " << HexEncode(h.kdf_salt) << "\n";
  }
  out << "object id:       " << HexEncode(h.object_id) << "\n"
      << "envelope:        scheme " << static_cast<int>(h.envelope.scheme) << " (local KEK), provider '"
      << h.envelope.provider_id << "', key id '" << h.envelope.key_id << "', wrapped key "
      << h.envelope.wrapped.size() << " bytes\n"
      << "header size:     " << h.size << " bytes\n"
      << "stream prefix:   " << HexEncode(info.stream_prefix);
  auto prefix_ok = format::CheckStreamPrefix(info.stream_prefix, 0);
  out << (prefix_ok ? " (SRDS v1, Cobblestone-256, whole object)" : " (" + prefix_ok.error().message() + ")")
      << "\n"
      << "stream size:     " << info.stream_size << " bytes\n"
      << "stream salt:     " << HexEncode(info.stream_salt) << "\n"
      << "commitment:      " << HexEncode(info.stream_commitment) << "\n";
  auto plaintext = format::PlaintextSizeOfStream(info.stream_size);
  if (info.manifest) {
    const format::Manifest& m = *info.manifest;
    out << "manifest:        " << m.streams.size() << " stream(s), plaintext "
        << m.plaintext_size() << " bytes (unverified: the tag needs the key)\n";
    bool consistent = plaintext && *plaintext == m.plaintext_size() &&
                      m.streams.front().salt == info.stream_salt &&
                      m.streams.front().commitment == info.stream_commitment &&
                      m.object_id == h.object_id;
    out << "consistency:     "
        << (consistent ? "sizes, salt, commitment and object id agree"
                       : "MISMATCH between stream, manifest and header")
        << "\n";
  } else {
    out << "manifest:        unreadable: " << info.manifest.error().message() << "\n";
  }
  std::fputs(out.str().c_str(), stdout);
  return Ok();
}

Result<void> RunKeygen(const std::string& path, bool force) {
  STRONGROOM_ASSIGN_OR_RETURN(auto file, AtomicFile::Create(path, force));
  STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes key, crypto::RandomSecret(format::kKeyFileSize));
  STRONGROOM_RETURN_IF_ERROR(file->Write(key.reveal()));
  return file->Commit(0600);
}

}  // namespace strongroom::cli
