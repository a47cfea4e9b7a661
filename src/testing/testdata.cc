// SPDX-License-Identifier: Apache-2.0
#include "testing/testdata.h"

#include <stdlib.h>

#include "testing/test_util.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <system_error>

#include <gtest/gtest.h>
#include <zlib.h>

namespace strongroom::testing {

ScratchDir::ScratchDir() {
  const char* base = std::getenv("TMPDIR");
  std::string templ =
      std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/strongroom-test-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) std::abort();
  path_ = templ;
}

ScratchDir::~ScratchDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string TestDataPath(const std::string& relative) {
  const char* dir = std::getenv("STRONGROOM_TESTDATA_DIR");
#ifdef STRONGROOM_TESTDATA_DIR
  if (dir == nullptr) dir = STRONGROOM_TESTDATA_DIR;
#endif
  if (dir == nullptr) {
    ADD_FAILURE() << "STRONGROOM_TESTDATA_DIR is not set";
    return relative;
  }
  return std::string(dir) + "/" + relative;
}

nlohmann::json LoadJson(const std::string& relative) {
  std::ifstream in(TestDataPath(relative));
  if (!in) {
    ADD_FAILURE() << "cannot open testdata/" << relative;
    std::abort();
  }
  return nlohmann::json::parse(in);
}

Bytes Hex(const std::string& hex) {
  auto bytes = HexDecode(hex);
  if (!bytes) {
    ADD_FAILURE() << "bad hex in test data: " << hex.substr(0, 40);
    std::abort();
  }
  return *bytes;
}

Result<Bytes> ZlibInflate(ByteView data) {
  z_stream zs{};
  if (inflateInit(&zs) != Z_OK) {
    return Internal("inflateInit failed");
  }
  Bytes out;
  uint8_t buf[65536];
  zs.next_in = const_cast<Bytef*>(data.data());
  zs.avail_in = static_cast<uInt>(data.size());
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = buf;
    zs.avail_out = sizeof(buf);
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&zs);
      return DataLoss("zlib data is corrupt");
    }
    out.insert(out.end(), buf, buf + (sizeof(buf) - zs.avail_out));
  }
  inflateEnd(&zs);
  return out;
}

}  // namespace strongroom::testing
