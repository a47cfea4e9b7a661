// SPDX-License-Identifier: Apache-2.0
#pragma once

// Bytes on the wire that the server writes itself: response heads and the
// minimal error responses sent without consulting the handler. Internal to
// http/; no Beast types.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "http/server.h"

namespace strongroom::http::internal {

// ASCII case-insensitive equality (header names, tokens).
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// True if a comma-separated header value such as "keep-alive, close"
// contains `token` (case-insensitive).
bool HasToken(std::string_view value, std::string_view token);

// What the server adds as the Connection header.
enum class ConnectionHeader { kNone, kClose, kKeepAlive };

// True if `status` is a valid final status code (200..599 or 1xx excluded).
bool IsValidFinalStatus(int status);

// True if responses with `status` carry neither a body nor Content-Length
// (204, 304).
bool StatusHasNoBody(int status);

// True if the handler asked to close the connection (Connection: close).
bool ResponseWantsClose(const Response& response);

// "HTTP/1.1 <status> <reason>\r\n", the handler's fields (minus
// Content-Length, Transfer-Encoding and Connection, which the server owns,
// and minus any field whose name is not a token or whose value contains CR,
// LF or NUL), Date unless present, Content-Length when `content_length` is
// set, the Connection header, and the final "\r\n".
std::string FormatResponseHead(int status, const Headers& headers,
                               std::optional<uint64_t> content_length, ConnectionHeader connection);

// A complete response with "Connection: close" and a short XML body for
// errors detected before a handler runs: 400 (malformed request) or 431
// (header section larger than ServerOptions::max_header_bytes).
std::string MinimalErrorResponse(int status);

// "HTTP/1.1 100 Continue\r\n\r\n".
std::string_view ContinueResponse();

}  // namespace strongroom::http::internal
