// SPDX-License-Identifier: Apache-2.0
#include "s3/service.h"

#include <chrono>
#include <cstdio>
#include <ctime>

#include "aws/checksum.h"
#include "aws/sigv4.h"
#include "crypto/random.h"
#include "s3/errors.h"
#include "s3/handlers.h"
#include "s3/object_io.h"
#include "s3/request.h"

namespace strongroom::s3 {

struct Service::Impl {
  objects::ObjectStore& store;
  UserDirectory& users;
  Metrics& metrics;
  ServiceOptions options;

  // One JSON line and one count per read refused because stored data
  // failed authentication. Names only what was asked for; no secrets.
  void ReportIntegrityFailure(const std::string& request_id, const std::string& operation,
                              const std::string& bucket, const std::string& key);
};

Service::Service(objects::ObjectStore& store, UserDirectory& users, Metrics& metrics,
                 ServiceOptions options)
    : impl_(new Impl{store, users, metrics, std::move(options)}) {}

Service::~Service() = default;

namespace {

std::string JsonEscape(std::string_view text) {
  std::string out;
  // Bytes of invalid UTF-8 (a bad key in a request path) become \u00XX so
  // every log line stays valid JSON.
  const bool valid = IsValidUtf8(text);
  for (unsigned char c : text) {
    if (!valid && c >= 0x80) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
      continue;
    }
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

std::string NewRequestId() {
  auto random = crypto::RandomBytes(8);
  return random ? HexEncode(*random) : "0000000000000000";
}


constexpr char kSealedMessage[] =
    "The server is sealed: its key ring is locked. Run `strongroom unseal` to unseal it.";

http::Response ErrorResponse(const Error& error, const std::string& resource,
                             const std::string& request_id, bool head) {
  S3Error s3 = ToS3Error(error);
  http::Response response;
  response.status = s3.status;
  if (s3.status == 503) response.headers.Set("Retry-After", "1");
  if (s3.status == 304) {
    return response;
  }
  if (!head) {
    response.body = ErrorXml(s3, resource, request_id);
    response.headers.Set("Content-Type", "application/xml");
  } else {
    response.omit_body = true;
  }
  return response;
}

}  // namespace

void Service::Impl::ReportIntegrityFailure(const std::string& request_id,
                                           const std::string& operation,
                                           const std::string& bucket, const std::string& key) {
  metrics.RecordIntegrityFailure();
  if (options.access_log) {
    options.access_log("{\"time\":\"" + IsoTime(std::chrono::system_clock::now()) +
                       "\",\"event\":\"integrity_failure\",\"request_id\":\"" + request_id +
                       "\",\"operation\":\"" + JsonEscape(operation) + "\",\"bucket\":\"" +
                       JsonEscape(bucket) + "\",\"key\":\"" + JsonEscape(key) + "\"}");
  }
}

http::Response Service::Handle(http::Request& request) {
  auto started = std::chrono::steady_clock::now();
  const std::string request_id = NewRequestId();
  const bool head = request.method() == "HEAD";
  RequestContext context{request, request_id};
  context.store = &impl_->store;
  context.key_directory = impl_->options.key_directory;
  context.users = &impl_->users;
  context.region = impl_->options.region;
  context.allow_insecure_sse_on_loopback = impl_->options.allow_insecure_sse_on_loopback;
  const bool sealed = impl_->options.sealed && impl_->options.sealed();

  aws::RequestView view;
  view.method = request.method();
  const std::string& target = request.target();
  auto question = target.find('?');
  view.raw_path = std::string_view(target).substr(0, question);
  view.raw_query =
      question == std::string::npos ? std::string_view() : std::string_view(target).substr(question + 1);
  view.headers = &request.headers().all();

  http::Response response;
  std::string resource(view.raw_path);
  auto handled = [&]() -> Result<http::Response> {
    // Unauthenticated operational endpoints. '_' is not valid in bucket
    // names, so the /_strongroom/ paths never shadow a bucket; /health and
    // /metrics answer only requests that carry no credentials.
    if (request.method() == "GET" && !aws::HasCredentials(view)) {
      if (view.raw_path == "/health" || view.raw_path == "/_strongroom/health") {
        context.operation = "Health";
        http::Response ok;
        if (sealed) {
          ok.status = 503;
          ok.body = std::string("sealed: ") + kSealedMessage + "\n";
        } else {
          ok.body = "ok\n";
        }
        ok.headers.Set("Content-Type", "text/plain");
        return ok;
      }
      if (view.raw_path == "/metrics" || view.raw_path == "/_strongroom/metrics") {
        context.operation = "Metrics";
        http::Response ok;
        ok.body = impl_->metrics.Render();
        ok.headers.Set("Content-Type", "text/plain; version=0.0.4");
        return ok;
      }
    }
    if (sealed) {
      // Nothing can be authenticated or decrypted without the key ring.
      context.operation = "Sealed";
      return tl::unexpected(MakeError("ServiceUnavailable", kSealedMessage));
    }
    if (view.raw_path == "/_strongroom/status" && impl_->options.admin_status) {
      // Key-management status (seal state, providers, objects per key
      // version, jobs) for admin users, signed like any S3 request.
      context.operation = "AdminStatus";
      if (!aws::HasCredentials(view)) {
        return tl::unexpected(MakeError("AccessDenied", "Access Denied"));
      }
      aws::VerifyOptions verify;
      verify.region = impl_->options.region;
      STRONGROOM_ASSIGN_OR_RETURN(
          context.auth,
          aws::Authenticate(
              view, std::chrono::system_clock::now(),
              [&](std::string_view access_key) { return impl_->users.Secret(access_key); },
              verify));
      STRONGROOM_ASSIGN_OR_RETURN(bool admin, impl_->users.IsAdmin(context.auth.access_key));
      if (request.method() != "GET") {
        return tl::unexpected(MakeError("MethodNotAllowed",
                                        "The specified method is not allowed against this resource."));
      }
      if (!admin) {
        return tl::unexpected(MakeError("AccessDenied", "Access Denied"));
      }
      STRONGROOM_ASSIGN_OR_RETURN(std::string json, impl_->options.admin_status());
      http::Response ok;
      ok.body = std::move(json);
      ok.headers.Set("Content-Type", "application/json");
      return ok;
    }
    STRONGROOM_ASSIGN_OR_RETURN(
        context.address,
        ParseAddress(target, request.headers().Get("Host").value_or(""), impl_->options.domain));
    context.on_integrity_failure = [impl = impl_.get(), request_id,
                                    bucket = context.address.bucket,
                                    key = context.address.key](const Error& error) {
      if (error.code() == ErrorCode::kDataLoss) {
        impl->ReportIntegrityFailure(request_id, "GetObject", bucket, key);
      }
    };
    if (!aws::HasCredentials(view)) {
      return tl::unexpected(MakeError("AccessDenied", "Access Denied"));
    }
    aws::VerifyOptions verify;
    verify.region = impl_->options.region;
    STRONGROOM_ASSIGN_OR_RETURN(
        context.auth,
        aws::Authenticate(view, std::chrono::system_clock::now(),
                          [&](std::string_view access_key) { return impl_->users.Secret(access_key); },
                          verify));
    return Dispatch(context);
  }();

  if (handled) {
    response = std::move(*handled);
  } else {
    response = ErrorResponse(handled.error(), resource, request_id, head);
    if (handled.error().code() == ErrorCode::kDataLoss) {
      impl_->ReportIntegrityFailure(request_id, context.operation, context.address.bucket,
                                    context.address.key);
    }
  }
  response.headers.Set("x-amz-request-id", request_id);
  response.headers.Set("x-amz-id-2", request_id);
  response.headers.Set("Server", "strongroom");
  response.headers.Set("Date", HttpDate(std::chrono::system_clock::now()));

  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  uint64_t bytes_out = response.body_source ? response.content_length : response.body.size();
  std::string operation = context.operation.empty() ? "Unknown" : context.operation;
  impl_->metrics.Record(operation, response.status, context.bytes_in, bytes_out, seconds);
  if (impl_->options.access_log) {
    char duration[32];
    std::snprintf(duration, sizeof(duration), "%.6f", seconds);
    std::string line = "{\"time\":\"" + IsoTime(std::chrono::system_clock::now()) +
                       "\",\"request_id\":\"" + request_id + "\",\"remote\":\"" +
                       JsonEscape(request.remote_address()) + "\",\"method\":\"" +
                       JsonEscape(request.method()) + "\",\"operation\":\"" + operation +
                       "\",\"bucket\":\"" + JsonEscape(context.address.bucket) +
                       "\",\"key\":\"" + JsonEscape(context.address.key) + "\",\"status\":" +
                       std::to_string(response.status) + ",\"bytes_in\":" +
                       std::to_string(context.bytes_in) + ",\"bytes_out\":" +
                       std::to_string(bytes_out) + ",\"duration_s\":" + duration +
                       ",\"access_key\":\"" + JsonEscape(context.auth.access_key) + "\"";
    if (!handled) {
      line += ",\"error\":\"" + JsonEscape(ToS3Error(handled.error()).code) + "\"";
    }
    line += "}";
    impl_->options.access_log(line);
  }
  return response;
}

}  // namespace strongroom::s3
