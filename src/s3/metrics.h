// SPDX-License-Identifier: Apache-2.0
#pragma once

// Request metrics in the Prometheus text format: requests by operation and
// status, bytes received and sent, a latency histogram per operation, and
// the count of integrity failures (stored data that failed authentication).
// Thread-safe.

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace strongroom::s3 {

class Metrics {
 public:
  void Record(const std::string& operation, int status, uint64_t bytes_in, uint64_t bytes_out,
              double seconds);
  // A stored object that failed authentication on a read (never served).
  void RecordIntegrityFailure();
  std::string Render() const;

 private:
  static constexpr std::array<double, 12> kBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                      0.1,   0.25,   0.5,   1.0,  2.5,   10.0};
  struct Latency {
    std::array<uint64_t, kBuckets.size()> counts{};
    uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  std::map<std::string, Latency> latency_;
  uint64_t bytes_in_ = 0;
  uint64_t bytes_out_ = 0;
  uint64_t integrity_failures_ = 0;
};

}  // namespace strongroom::s3
