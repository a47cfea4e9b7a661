// SPDX-License-Identifier: Apache-2.0
// The C++ side of the format interop test (tests/interop/interop_test.py):
// the same `write` / `read` commands as tools/pyref/strongroom_format.py, so
// each implementation can read what the other wrote.
//
//   format_interop write --kek HEX --bucket B --object-key K --plaintext FILE
//                        --parts single|N:SIZE,... --out DIR
//                        [--scheme 2|3] [--provider-id ID] [--key-id ID]
//                        [--context TEXT] [--attributes HEX] [--manifest-key HEX]
//   format_interop read --case DIR --out FILE [--range A-B ...]
//
// `write` records the envelope context, the plaintext MD5 and the derived
// ETag (FORMAT.md §13.2), and with --attributes the attributes sealed under
// the DEK (§13.1); with --manifest-key the manifest is MAC'd under that key
// (§13.3). `read` checks every one of them that the case holds.

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/file.h"
#include "crypto/digest.h"
#include "format/envelope.h"
#include "format/manifest.h"
#include "format/object_metadata.h"
#include "format/object_reader.h"
#include "format/stream.h"

namespace strongroom {
namespace {

using format::Binding;
using format::Manifest;
using format::ObjectId;

struct Args {
  std::map<std::string, std::string> flags;
  std::vector<std::string> ranges;
};

Result<Args> ParseArgs(int argc, char** argv, int first) {
  Args args;
  for (int i = first; i < argc; i += 2) {
    std::string flag = argv[i];
    if (flag.rfind("--", 0) != 0 || i + 1 >= argc) {
      return InvalidArgument("bad argument '" + flag + "'");
    }
    if (flag == "--range") {
      args.ranges.push_back(argv[i + 1]);
    } else {
      args.flags[flag.substr(2)] = argv[i + 1];
    }
  }
  return args;
}

Result<std::string> Flag(const Args& args, const std::string& name) {
  auto it = args.flags.find(name);
  if (it == args.flags.end()) {
    return InvalidArgument("missing --" + name);
  }
  return it->second;
}

Result<Bytes> ReadAll(const std::string& path) {
  STRONGROOM_ASSIGN_OR_RETURN(auto file, FileRandomAccessSource::Open(path));
  Bytes data(file->size());
  STRONGROOM_RETURN_IF_ERROR(file->ReadAt(0, data));
  return data;
}

Result<void> WriteAll(const std::string& path, ByteView data) {
  STRONGROOM_ASSIGN_OR_RETURN(auto file, AtomicFile::Create(path, true));
  STRONGROOM_RETURN_IF_ERROR(file->Write(data));
  return file->Commit();
}

Result<Bytes> FromHex(const std::string& hex) {
  auto bytes = HexDecode(hex);
  if (!bytes) return InvalidArgument("bad hex");
  return *bytes;
}

Result<void> Write(const Args& args) {
  STRONGROOM_ASSIGN_OR_RETURN(std::string kek_hex, Flag(args, "kek"));
  STRONGROOM_ASSIGN_OR_RETURN(Bytes kek, FromHex(kek_hex));
  STRONGROOM_ASSIGN_OR_RETURN(std::string plaintext_path, Flag(args, "plaintext"));
  STRONGROOM_ASSIGN_OR_RETURN(std::string parts_spec, Flag(args, "parts"));
  STRONGROOM_ASSIGN_OR_RETURN(std::string out_dir, Flag(args, "out"));
  Binding binding;
  STRONGROOM_ASSIGN_OR_RETURN(binding.bucket, Flag(args, "bucket"));
  STRONGROOM_ASSIGN_OR_RETURN(binding.object_key, Flag(args, "object-key"));
  int scheme = args.flags.count("scheme") ? std::stoi(args.flags.at("scheme")) : 2;
  std::string provider = args.flags.count("provider-id") ? args.flags.at("provider-id") : "local";
  std::string key_id = args.flags.count("key-id") ? args.flags.at("key-id") : "test-key/1";
  std::string context = args.flags.count("context") ? args.flags.at("context") : "";
  std::optional<Bytes> attributes;
  if (args.flags.count("attributes")) {
    STRONGROOM_ASSIGN_OR_RETURN(attributes, FromHex(args.flags.at("attributes")));
  }
  std::optional<Bytes> manifest_key;
  if (args.flags.count("manifest-key")) {
    STRONGROOM_ASSIGN_OR_RETURN(manifest_key, FromHex(args.flags.at("manifest-key")));
  }
  STRONGROOM_ASSIGN_OR_RETURN(Bytes plaintext, ReadAll(plaintext_path));

  std::vector<std::pair<uint32_t, uint64_t>> parts;
  if (parts_spec == "single") {
    parts.emplace_back(0, plaintext.size());
  } else {
    std::stringstream spec(parts_spec);
    std::string item;
    while (std::getline(spec, item, ',')) {
      auto colon = item.find(':');
      if (colon == std::string::npos) return InvalidArgument("bad --parts");
      parts.emplace_back(static_cast<uint32_t>(std::stoul(item.substr(0, colon))),
                         std::stoull(item.substr(colon + 1)));
    }
  }

  STRONGROOM_ASSIGN_OR_RETURN(ObjectId object_id, format::NewObjectId());
  STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes dek, format::NewDek());
  BytesSink blob;
  Manifest manifest;
  manifest.object_id = object_id;
  manifest.binding = binding;
  uint64_t offset = 0;
  for (auto [number, size] : parts) {
    if (offset + size > plaintext.size()) return InvalidArgument("parts exceed the plaintext");
    STRONGROOM_ASSIGN_OR_RETURN(auto writer,
                                format::StreamWriter::Create(dek.reveal(), object_id, number, blob));
    STRONGROOM_RETURN_IF_ERROR(writer->Write(ByteView(plaintext).subspan(offset, size)));
    STRONGROOM_ASSIGN_OR_RETURN(format::StreamInfo info, writer->Finish());
    manifest.streams.push_back(info);
    offset += size;
  }
  if (offset != plaintext.size()) return InvalidArgument("part sizes do not sum to the plaintext");
  STRONGROOM_ASSIGN_OR_RETURN(
      Bytes sealed_manifest,
      format::SealManifest(manifest, manifest_key ? ByteView(*manifest_key) : dek.reveal()));
  STRONGROOM_ASSIGN_OR_RETURN(
      format::Envelope envelope,
      format::WrapDek(static_cast<format::WrapScheme>(scheme), provider, key_id, kek,
                      dek.reveal(), object_id, binding, AsBytes(context)));
  STRONGROOM_ASSIGN_OR_RETURN(Bytes envelope_bytes, format::SerializeEnvelope(envelope));
  STRONGROOM_ASSIGN_OR_RETURN(Bytes digest,
                              crypto::Digest::Compute(crypto::Digest::Algorithm::kSha256, plaintext));
  nlohmann::json json = {
      {"object_id", HexEncode(object_id)},      {"bucket", binding.bucket},
      {"object_key", binding.object_key},       {"envelope", HexEncode(envelope_bytes)},
      {"manifest", HexEncode(sealed_manifest)}, {"kek", kek_hex},
      {"plaintext_size", plaintext.size()},     {"plaintext_sha256", HexEncode(digest)},
      {"context", context},
  };
  STRONGROOM_ASSIGN_OR_RETURN(Bytes md5,
                              crypto::Digest::Compute(crypto::Digest::Algorithm::kMd5, plaintext));
  STRONGROOM_ASSIGN_OR_RETURN(Bytes etag, format::DeriveEtag(dek.reveal(), object_id, md5));
  json["plaintext_md5"] = HexEncode(md5);
  json["etag"] = HexEncode(etag);
  if (manifest_key) {
    json["manifest_key"] = HexEncode(*manifest_key);
  }
  if (attributes) {
    STRONGROOM_ASSIGN_OR_RETURN(
        Bytes sealed, format::SealAttributes(dek.reveal(), object_id, binding, 0, *attributes));
    json["attributes"] = HexEncode(*attributes);
    json["attributes_sealed"] = HexEncode(sealed);
  }
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) return InvalidArgument("cannot create " + out_dir + ": " + ec.message());
  STRONGROOM_RETURN_IF_ERROR(WriteAll(out_dir + "/blob.bin", blob.bytes()));
  std::string text = json.dump(2);
  return WriteAll(out_dir + "/case.json", AsBytes(text));
}

Result<void> Read(const Args& args) {
  STRONGROOM_ASSIGN_OR_RETURN(std::string dir, Flag(args, "case"));
  STRONGROOM_ASSIGN_OR_RETURN(std::string out_path, Flag(args, "out"));
  STRONGROOM_ASSIGN_OR_RETURN(Bytes case_text, ReadAll(dir + "/case.json"));
  nlohmann::json json = nlohmann::json::parse(AsChars(case_text), nullptr, false);
  if (json.is_discarded()) return InvalidArgument("case.json is not JSON");
  Binding binding{json["bucket"].get<std::string>(), json["object_key"].get<std::string>()};
  STRONGROOM_ASSIGN_OR_RETURN(Bytes kek, FromHex(json["kek"]));
  STRONGROOM_ASSIGN_OR_RETURN(Bytes id_bytes, FromHex(json["object_id"]));
  if (id_bytes.size() != format::kObjectIdSize) return InvalidArgument("bad object id");
  ObjectId object_id;
  std::copy(id_bytes.begin(), id_bytes.end(), object_id.begin());
  STRONGROOM_ASSIGN_OR_RETURN(Bytes envelope_bytes, FromHex(json["envelope"]));
  STRONGROOM_ASSIGN_OR_RETURN(Bytes manifest_bytes, FromHex(json["manifest"]));

  std::string context = json.value("context", std::string());
  std::optional<Bytes> manifest_key;
  if (json.contains("manifest_key")) {
    STRONGROOM_ASSIGN_OR_RETURN(manifest_key, FromHex(json["manifest_key"]));
  }

  STRONGROOM_ASSIGN_OR_RETURN(format::Envelope envelope, format::ParseEnvelope(envelope_bytes));
  STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes dek,
                              format::UnwrapDek(envelope, kek, object_id, binding,
                                                AsBytes(context)));
  STRONGROOM_ASSIGN_OR_RETURN(
      Manifest manifest,
      format::OpenManifest(manifest_bytes, manifest_key ? ByteView(*manifest_key) : dek.reveal(),
                           object_id, binding));
  if (json.contains("attributes_sealed")) {
    STRONGROOM_ASSIGN_OR_RETURN(Bytes sealed, FromHex(json["attributes_sealed"]));
    STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes opened,
                                format::OpenAttributes(dek.reveal(), object_id, binding, 0, sealed));
    if (json.contains("attributes")) {
      STRONGROOM_ASSIGN_OR_RETURN(Bytes expected, FromHex(json["attributes"]));
      if (!std::equal(expected.begin(), expected.end(), opened.reveal().begin(),
                      opened.reveal().end())) {
        return DataLoss("the sealed attributes differ from the case's attributes");
      }
    }
  }
  STRONGROOM_ASSIGN_OR_RETURN(Bytes blob, ReadAll(dir + "/blob.bin"));
  if (blob.size() != manifest.blob_size()) {
    return DataLoss("blob length does not match the manifest");
  }
  // Full read through the streaming reader, stream by stream.
  Bytes plaintext;
  uint64_t offset = 0;
  for (const format::StreamInfo& info : manifest.streams) {
    uint64_t size = format::StreamSize(info.plaintext_size);
    ByteViewSource source(ByteView(blob).subspan(offset, size));
    STRONGROOM_ASSIGN_OR_RETURN(
        auto reader,
        format::StreamReader::Create(dek.reveal(), object_id, info.part_number, source, info));
    Bytes buffer(65536);
    for (;;) {
      STRONGROOM_ASSIGN_OR_RETURN(size_t n, reader->Read(buffer));
      if (n == 0) break;
      plaintext.insert(plaintext.end(), buffer.begin(), buffer.begin() + n);
    }
    offset += size;
  }
  STRONGROOM_ASSIGN_OR_RETURN(Bytes md5,
                              crypto::Digest::Compute(crypto::Digest::Algorithm::kMd5, plaintext));
  if (json.contains("plaintext_md5") &&
      HexEncode(md5) != json["plaintext_md5"].get<std::string>()) {
    return DataLoss("the plaintext MD5 differs from the case's");
  }
  if (json.contains("etag")) {
    STRONGROOM_ASSIGN_OR_RETURN(Bytes etag, format::DeriveEtag(dek.reveal(), object_id, md5));
    if (HexEncode(etag) != json["etag"].get<std::string>()) {
      return DataLoss("the derived ETag differs from the case's");
    }
  }
  // Ranges through the random-access reader must agree.
  ByteViewRandomAccessSource random_access(blob);
  STRONGROOM_ASSIGN_OR_RETURN(auto range_reader,
                              format::ObjectRangeReader::Create(dek.reveal(), manifest, random_access));
  for (const std::string& range : args.ranges) {
    auto dash = range.find('-');
    if (dash == std::string::npos) return InvalidArgument("bad --range " + range);
    uint64_t a = std::stoull(range.substr(0, dash));
    uint64_t b = std::stoull(range.substr(dash + 1));
    if (b < a || b > plaintext.size()) return InvalidArgument("range out of bounds: " + range);
    Bytes part(b - a);
    STRONGROOM_RETURN_IF_ERROR(range_reader->ReadAt(a, part));
    if (!std::equal(part.begin(), part.end(), plaintext.begin() + static_cast<ptrdiff_t>(a))) {
      return DataLoss("range " + range + " differs from the full read");
    }
  }
  return WriteAll(out_path, plaintext);
}

}  // namespace
}  // namespace strongroom

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: format_interop write|read ...\n");
    return 2;
  }
  auto args = strongroom::ParseArgs(argc, argv, 2);
  strongroom::Result<void> result =
      !args ? strongroom::Result<void>(tl::unexpected(args.error()))
      : std::strcmp(argv[1], "write") == 0 ? strongroom::Write(*args)
      : std::strcmp(argv[1], "read") == 0  ? strongroom::Read(*args)
                                           : strongroom::InvalidArgument("unknown command");
  if (!result) {
    std::fprintf(stderr, "error: %s\n", result.error().ToString().c_str());
    return 1;
  }
  return 0;
}
