// SPDX-License-Identifier: Apache-2.0
#include "s3/metrics.h"

#include <cstdio>
#include <sstream>

namespace strongroom::s3 {

void Metrics::Record(const std::string& operation, int status, uint64_t bytes_in,
                     uint64_t bytes_out, double seconds) {
  std::lock_guard lock(mutex_);
  ++requests_[{operation, status}];
  bytes_in_ += bytes_in;
  bytes_out_ += bytes_out;
  Latency& latency = latency_[operation];
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++latency.counts[i];
  }
  ++latency.count;
  latency.sum += seconds;
}

void Metrics::RecordIntegrityFailure() {
  std::lock_guard lock(mutex_);
  ++integrity_failures_;
}

std::string Metrics::Render() const {
  std::lock_guard lock(mutex_);
  std::ostringstream out;
  out << "# HELP strongroom_requests_total S3 requests by operation and HTTP status.\n"
      << "# TYPE strongroom_requests_total counter\n";
  for (const auto& [key, count] : requests_) {
    out << "strongroom_requests_total{operation=\"" << key.first << "\",status=\"" << key.second
        << "\"} " << count << "\n";
  }
  out << "# HELP strongroom_received_bytes_total Request body bytes received.\n"
      << "# TYPE strongroom_received_bytes_total counter\n"
      << "strongroom_received_bytes_total " << bytes_in_ << "\n"
      << "# HELP strongroom_sent_bytes_total Response body bytes sent.\n"
      << "# TYPE strongroom_sent_bytes_total counter\n"
      << "strongroom_sent_bytes_total " << bytes_out_ << "\n"
      << "# HELP strongroom_integrity_failures_total Reads refused because stored data failed "
         "authentication.\n"
      << "# TYPE strongroom_integrity_failures_total counter\n"
      << "strongroom_integrity_failures_total " << integrity_failures_ << "\n"
      << "# HELP strongroom_request_duration_seconds Time to handle a request.\n"
      << "# TYPE strongroom_request_duration_seconds histogram\n";
  for (const auto& [operation, latency] : latency_) {
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      char le[32];
      std::snprintf(le, sizeof(le), "%g", kBuckets[i]);
      out << "strongroom_request_duration_seconds_bucket{operation=\"" << operation << "\",le=\""
          << le << "\"} " << latency.counts[i] << "\n";
    }
    out << "strongroom_request_duration_seconds_bucket{operation=\"" << operation
        << "\",le=\"+Inf\"} " << latency.count << "\n"
        << "strongroom_request_duration_seconds_sum{operation=\"" << operation << "\"} "
        << latency.sum << "\n"
        << "strongroom_request_duration_seconds_count{operation=\"" << operation << "\"} "
        << latency.count << "\n";
  }
  return out.str();
}

}  // namespace strongroom::s3
