// SPDX-License-Identifier: Apache-2.0
#pragma once

// Helpers shared by the aws tests: a mutable request, the AWS documentation's
// example credentials and time.

#include <cctype>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "aws/sigv4.h"
#include "base/bytes.h"
#include "crypto/secret_bytes.h"

namespace strongroom::aws::test {

inline constexpr const char* kExampleAccessKey = "AKIAIOSFODNN7EXAMPLE";
inline constexpr const char* kExampleSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

inline crypto::SecretBytes Secret(std::string_view text) {
  return crypto::SecretBytes::CopyFrom(AsBytes(text));
}

// 2013-05-24T00:00:00Z, the time of every AWS documentation example.
inline std::chrono::system_clock::time_point ExampleNow() {
  using namespace std::chrono;
  return sys_days{year{2013} / May / day{24}};
}

inline SecretLookup ExampleSecrets() {
  return [](std::string_view access_key) -> Result<crypto::SecretBytes> {
    if (access_key == kExampleAccessKey) {
      return Secret(kExampleSecret);
    }
    return NotFound("no such access key");
  };
}

inline bool SameName(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

struct TestRequest {
  std::string method;
  std::string path;
  std::string query;
  std::vector<std::pair<std::string, std::string>> headers;

  RequestView view() const { return RequestView{method, path, query, &headers}; }

  std::string Header(std::string_view name) const {
    for (const auto& [n, v] : headers) {
      if (SameName(n, name)) return v;
    }
    return {};
  }
  void RemoveHeader(std::string_view name) {
    std::erase_if(headers, [&](const auto& h) { return SameName(h.first, name); });
  }
  void SetHeader(std::string_view name, std::string value) {
    for (auto& [n, v] : headers) {
      if (SameName(n, name)) {
        v = std::move(value);
        return;
      }
    }
    headers.emplace_back(std::string(name), std::move(value));
  }

  // Rewrites or drops the raw "name=value" parameter of the query.
  void ReplaceQueryParam(std::string_view name, std::string_view value) { EditQuery(name, &value); }
  void RemoveQueryParam(std::string_view name) { EditQuery(name, nullptr); }

  // Replaces any Authorization header with one computed by SignRequestForTest.
  void Sign(std::string_view access_key, std::string_view secret, std::string_view amz_date,
            std::string_view region, std::string_view payload_hash) {
    RemoveHeader("Authorization");
    std::string auth =
        SignRequestForTest(view(), access_key, Secret(secret), amz_date, region, payload_hash);
    headers.emplace_back("Authorization", std::move(auth));
  }

 private:
  void EditQuery(std::string_view name, const std::string_view* value) {
    std::string out;
    std::string_view rest = query;
    while (!rest.empty()) {
      const size_t amp = rest.find('&');
      std::string_view piece = rest.substr(0, amp);
      rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
      std::string replacement(piece);
      if (piece.substr(0, piece.find('=')) == name) {
        if (value == nullptr) continue;
        replacement = std::string(name) + "=" + std::string(*value);
      }
      if (!out.empty()) out += '&';
      out += replacement;
    }
    query = std::move(out);
  }
};

}  // namespace strongroom::aws::test
