// SPDX-License-Identifier: Apache-2.0
// The strongroom command: one binary, one subcommand per task. This is a
// composition root: it parses flags and calls into the modules.

#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/file_commands.h"

namespace {

constexpr char kDescription[] =
    "strongroom: an encrypting object store.\n"
    "Every stored byte is encrypted (AES-256-GCM, Cobblestone-256 chunked format; docs/FORMAT.md).";

void AddKeyOptions(CLI::App& command, strongroom::cli::FileCommandOptions& options) {
  command.add_option("input", options.input, "Input file; '-' or omitted reads standard input");
  command.add_option("-o,--output", options.output,
                     "Output file, written under a temporary name and renamed only on success; "
                     "omitted writes standard output");
  auto* key = command.add_option("--key-file", options.key_file,
                                 "A file holding exactly 32 random bytes (see 'keygen')");
  auto* pass = command.add_option("--passphrase-file", options.passphrase_file,
                                  "A file holding the passphrase (one trailing newline ignored)");
  key->excludes(pass);
  command.add_flag("-f,--force", options.force, "Overwrite the output file if it exists");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app(kDescription, "strongroom");
  app.require_subcommand(1);
  app.set_version_flag("--version", "strongroom 0.1.0");
  app.footer(
      "\nPassphrases: without --key-file or --passphrase-file, the passphrase comes from the\n"
      "STRONGROOM_PASSPHRASE environment variable, or is asked for on the terminal without echo.\n"
      "It is stretched with Argon2id (t=3, m=64 MiB, p=4; the parameters are stored in the file).\n"
      "\nExit status: 0 on success, 1 on failure (one line on stderr says why), 2 on bad usage.");

  strongroom::cli::FileCommandOptions encrypt_options;
  auto* encrypt = app.add_subcommand("encrypt", "Encrypt a file or standard input");
  AddKeyOptions(*encrypt, encrypt_options);

  strongroom::cli::FileCommandOptions decrypt_options;
  auto* decrypt = app.add_subcommand(
      "decrypt",
      "Decrypt and verify a file. With -o, nothing appears at the output path unless the whole "
      "file verifies; on standard output, bytes may be written before a failure is found, and "
      "the exit status is then 1");
  AddKeyOptions(*decrypt, decrypt_options);

  std::string inspect_path;
  auto* inspect = app.add_subcommand(
      "inspect", "Show the header, envelope and manifest fields of an encrypted file (no secrets)");
  inspect->add_option("file", inspect_path, "Encrypted file")->required();

  std::string keygen_path;
  bool keygen_force = false;
  auto* keygen =
      app.add_subcommand("keygen", "Write a new random 32-byte key file with mode 0600");
  keygen->add_option("file", keygen_path, "Key file to create")->required();
  keygen->add_flag("-f,--force", keygen_force, "Overwrite the file if it exists");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }

  strongroom::Result<void> result;
  if (*encrypt) {
    result = strongroom::cli::RunEncrypt(encrypt_options);
  } else if (*decrypt) {
    result = strongroom::cli::RunDecrypt(decrypt_options);
  } else if (*inspect) {
    result = strongroom::cli::RunInspect(inspect_path);
  } else if (*keygen) {
    result = strongroom::cli::RunKeygen(keygen_path, keygen_force);
  }
  if (!result) {
    std::fprintf(stderr, "strongroom: %s\n", result.error().message().c_str());
    return 1;
  }
  return 0;
}
