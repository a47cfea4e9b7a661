// SPDX-License-Identifier: Apache-2.0
#include "http/internal/wire.h"

#include <time.h>

#include <cstdio>
#include <ctime>
#include <string>

#include <boost/beast/http/status.hpp>

namespace strongroom::http::internal {
namespace {

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// RFC 9110 token characters.
bool IsToken(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!ok) {
      switch (c) {
        case '!':
        case '#':
        case '$':
        case '%':
        case '&':
        case '\'':
        case '*':
        case '+':
        case '-':
        case '.':
        case '^':
        case '_':
        case '`':
        case '|':
        case '~':
          ok = true;
          break;
        default:
          break;
      }
    }
    if (!ok) {
      return false;
    }
  }
  return true;
}

bool IsSafeValue(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string HttpDate() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[64];
  size_t n = std::strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return std::string(buf, n);
}

std::string StatusLine(int status) {
  auto reason = boost::beast::http::obsolete_reason(
      boost::beast::http::int_to_status(static_cast<unsigned>(status)));
  std::string line = "HTTP/1.1 " + std::to_string(status) + " ";
  if (reason.empty() || reason == "<unknown-status>") {
    line += "Status";
  } else {
    line.append(reason.data(), reason.size());
  }
  line += "\r\n";
  return line;
}

}  // namespace

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) {
      return false;
    }
  }
  return true;
}

bool HasToken(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view item = Trim(value.substr(0, comma));
    if (EqualsIgnoreCase(item, token)) {
      return true;
    }
    if (comma == std::string_view::npos) {
      break;
    }
    value.remove_prefix(comma + 1);
  }
  return false;
}

bool IsValidFinalStatus(int status) { return status >= 200 && status <= 599; }

bool StatusHasNoBody(int status) { return status == 204 || status == 304; }

bool ResponseWantsClose(const Response& response) {
  for (const auto& [name, value] : response.headers.all()) {
    if (EqualsIgnoreCase(name, "Connection") && HasToken(value, "close")) {
      return true;
    }
  }
  return false;
}

std::string FormatResponseHead(int status, const Headers& headers,
                               std::optional<uint64_t> content_length,
                               ConnectionHeader connection) {
  std::string head = StatusLine(status);
  bool has_date = false;
  for (const auto& [name, value] : headers.all()) {
    if (EqualsIgnoreCase(name, "Content-Length") || EqualsIgnoreCase(name, "Transfer-Encoding") ||
        EqualsIgnoreCase(name, "Connection") || !IsToken(name) || !IsSafeValue(value)) {
      continue;
    }
    has_date = has_date || EqualsIgnoreCase(name, "Date");
    head += name;
    head += ": ";
    head += value;
    head += "\r\n";
  }
  if (!has_date) {
    head += "Date: " + HttpDate() + "\r\n";
  }
  if (content_length) {
    head += "Content-Length: " + std::to_string(*content_length) + "\r\n";
  }
  if (connection == ConnectionHeader::kClose) {
    head += "Connection: close\r\n";
  } else if (connection == ConnectionHeader::kKeepAlive) {
    head += "Connection: keep-alive\r\n";
  }
  head += "\r\n";
  return head;
}

std::string MinimalErrorResponse(int status) {
  std::string code = "BadRequest";
  std::string message = "The request could not be parsed.";
  if (status == 431) {
    code = "RequestHeaderSectionTooLarge";
    message = "Your request header section exceeds the maximum allowed size.";
  }
  std::string body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" + code +
                     "</Code><Message>" + message + "</Message></Error>";
  Headers headers;
  headers.Add("Content-Type", "application/xml");
  return FormatResponseHead(status, headers, body.size(), ConnectionHeader::kClose) + body;
}

std::string_view ContinueResponse() { return "HTTP/1.1 100 Continue\r\n\r\n"; }

}  // namespace strongroom::http::internal
