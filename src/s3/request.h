// SPDX-License-Identifier: Apache-2.0
#pragma once

// Parsing the addressing of an S3 request: bucket and key from path-style
// (/bucket/key) or virtual-hosted-style (bucket.domain/key) URLs, and the
// query parameters.

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace strongroom::s3 {

struct Address {
  std::string bucket;     // empty for service-level requests (ListBuckets)
  std::string key;        // decoded; empty for bucket-level requests
  std::string raw_path;   // as sent
  std::string raw_query;  // as sent, without '?'
  std::multimap<std::string, std::string> query;  // decoded
  bool virtual_hosted = false;

  bool Has(std::string_view name) const { return query.find(std::string(name)) != query.end(); }
  std::optional<std::string> Get(std::string_view name) const;
};

// `target` is the request-target; `host` the Host header (may be empty);
// `domain` the configured base domain for virtual-hosted-style requests
// (empty disables them). kInvalidArgument (InvalidURI) for bad encodings.
Result<Address> ParseAddress(std::string_view target, std::string_view host,
                             std::string_view domain);

// Percent-decoding; '+' stays '+' (S3 paths), or becomes ' ' in queries
// when `plus_is_space`.
Result<std::string> PercentDecode(std::string_view text, bool plus_is_space);
// RFC 3986 encoding of everything but unreserved characters (and '/' when
// `keep_slash`), as S3's encoding-type=url does.
std::string PercentEncode(std::string_view text, bool keep_slash);

}  // namespace strongroom::s3
