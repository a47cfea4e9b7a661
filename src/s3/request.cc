// SPDX-License-Identifier: Apache-2.0
#include "s3/request.h"

#include "s3/errors.h"

namespace strongroom::s3 {

std::optional<std::string> Address::Get(std::string_view name) const {
  auto it = query.find(std::string(name));
  if (it == query.end()) return std::nullopt;
  return it->second;
}

Result<std::string> PercentDecode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      auto hex = [](char h) -> int {
        if (h >= '0' && h <= '9') return h - '0';
        if (h >= 'a' && h <= 'f') return h - 'a' + 10;
        if (h >= 'A' && h <= 'F') return h - 'A' + 10;
        return -1;
      };
      if (i + 2 >= text.size() + 0 && i + 2 > text.size() - 1 + 1) {
        return tl::unexpected(MakeError("InvalidURI", "Couldn't parse the specified URI."));
      }
      int hi = i + 1 < text.size() ? hex(text[i + 1]) : -1;
      int lo = i + 2 < text.size() ? hex(text[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return tl::unexpected(MakeError("InvalidURI", "Couldn't parse the specified URI."));
      }
      out.push_back(static_cast<char>((hi << 4) | lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string PercentEncode(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/');
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

Result<Address> ParseAddress(std::string_view target, std::string_view host,
                             std::string_view domain) {
  Address address;
  auto question = target.find('?');
  address.raw_path = std::string(target.substr(0, question));
  if (question != std::string_view::npos) {
    address.raw_query = std::string(target.substr(question + 1));
  }
  if (address.raw_path.empty() || address.raw_path[0] != '/') {
    return tl::unexpected(MakeError("InvalidURI", "Couldn't parse the specified URI."));
  }
  // Query: name[=value] pairs separated by '&'.
  std::string_view query = address.raw_query;
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    STRONGROOM_ASSIGN_OR_RETURN(std::string name, PercentDecode(pair.substr(0, eq), true));
    std::string value;
    if (eq != std::string_view::npos) {
      STRONGROOM_ASSIGN_OR_RETURN(value, PercentDecode(pair.substr(eq + 1), true));
    }
    address.query.emplace(std::move(name), std::move(value));
  }
  STRONGROOM_ASSIGN_OR_RETURN(std::string path, PercentDecode(address.raw_path, false));

  // Virtual-hosted style: Host is "<bucket>.<domain>[:port]".
  std::string_view host_name = host.substr(0, host.rfind(':') == std::string_view::npos ||
                                                      host.find(']') != std::string_view::npos
                                                  ? host.size()
                                                  : host.rfind(':'));
  if (!domain.empty() && host_name.size() > domain.size() + 1 &&
      host_name.substr(host_name.size() - domain.size()) == domain &&
      host_name[host_name.size() - domain.size() - 1] == '.') {
    address.virtual_hosted = true;
    address.bucket = std::string(host_name.substr(0, host_name.size() - domain.size() - 1));
    address.key = path.substr(1);
    return address;
  }
  // Path style: "/bucket/key...".
  std::string rest = path.substr(1);
  auto slash = rest.find('/');
  address.bucket = rest.substr(0, slash);
  if (slash != std::string::npos) {
    address.key = rest.substr(slash + 1);
  }
  return address;
}

}  // namespace strongroom::s3
