// SPDX-License-Identifier: Apache-2.0
// keys::KmipProvider against a real PyKMIP server that run_test.sh starts
// (start.sh: own CA, server and client certificates, a free port). The
// connection details come from KMIP_* environment variables; the outage
// tests stop, freeze and restart that server through KMIP_STOP / KMIP_START.

#include <signal.h>
#include <sys/types.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "crypto/aes_gcm.h"
#include "crypto/random.h"
#include "keys/kmip/kmip_client.h"
#include "keys/kmip/kmip_provider.h"
#include "testing/test_util.h"

namespace strongroom::keys {
namespace {

using std::chrono::milliseconds;
using strongroom::testing::FailsWith;
using Clock = std::chrono::steady_clock;

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') {
    ADD_FAILURE() << name
                  << " is not set: run this binary through tests/providers/kmip/run_test.sh";
    return "";
  }
  return value;
}

KmipProviderOptions Options(const std::string& cert_var = "KMIP_CLIENT_CERT",
                            const std::string& key_var = "KMIP_CLIENT_KEY") {
  KmipProviderOptions options;
  options.host = Env("KMIP_HOST");
  options.port = static_cast<uint16_t>(std::stoi(Env("KMIP_PORT")));
  options.ca_file = Env("KMIP_CA");
  options.client_cert_file = Env(cert_var.c_str());
  options.client_key_file = Env(key_var.c_str());
  options.connect_timeout = milliseconds(2000);
  options.request_timeout = milliseconds(3000);
  return options;
}

std::unique_ptr<KmipProvider> MakeProvider(const KmipProviderOptions& options = Options()) {
  auto provider = KmipProvider::Create(options);
  EXPECT_TRUE(provider.has_value()) << provider.error().ToString();
  return provider ? std::move(*provider) : nullptr;
}

std::string UniqueLabel(const std::string& prefix) {
  auto suffix = crypto::RandomBytes(6);
  return "strongroom-test-" + prefix + "-" + HexEncode(*suffix);
}

Bytes Secret(size_t n = 32, uint64_t seed = 7) { return strongroom::testing::Pattern(n, seed); }

Bytes Revealed(const crypto::SecretBytes& s) { return Bytes(s.reveal().begin(), s.reveal().end()); }

double Millis(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

// Runs the harness script `var` (KMIP_START / KMIP_STOP) on the state dir.
void Harness(const char* var, const std::string& flags = "") {
  const std::string command =
      "bash '" + Env(var) + "' '" + Env("KMIP_STATE_DIR") + "' " + flags + " >/dev/null";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
}

pid_t ServerPid() {
  std::ifstream in(Env("KMIP_STATE_DIR") + "/kmip.pid");
  long pid = 0;
  in >> pid;
  EXPECT_GT(pid, 1) << "no server PID recorded";
  return static_cast<pid_t>(pid);
}

class KmipProviderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    provider_ = MakeProvider();
    ASSERT_NE(provider_, nullptr);
  }
  // A fresh Active key for this test.
  std::string NewKey(const std::string& prefix) {
    auto id = provider_->CreateKey(UniqueLabel(prefix));
    EXPECT_TRUE(id.has_value()) << id.error().ToString();
    return id ? *id : "";
  }
  std::unique_ptr<KmipProvider> provider_;
};

TEST_F(KmipProviderTest, HealthCheckAndServerFacts) {
  auto health = provider_->HealthCheck();
  ASSERT_TRUE(health.has_value()) << health.error().ToString();
  std::string vendor;
  auto ops = provider_->client().QueryOperations(&vendor);
  ASSERT_TRUE(ops.has_value()) << ops.error().ToString();
  EXPECT_NE(vendor.find("PyKMIP"), std::string::npos) << vendor;
  for (auto op : {kmip::Operation::kCreate, kmip::Operation::kActivate, kmip::Operation::kLocate,
                  kmip::Operation::kEncrypt, kmip::Operation::kDecrypt, kmip::Operation::kRevoke,
                  kmip::Operation::kDestroy}) {
    EXPECT_NE(std::find(ops->begin(), ops->end(), static_cast<uint32_t>(op)), ops->end())
        << kmip::OperationName(op);
  }
  std::cout << "[ server   ] " << vendor << "\n";
}

TEST_F(KmipProviderTest, CreateWrapUnwrapRoundTrip) {
  const std::string key = NewKey("roundtrip");
  ASSERT_FALSE(key.empty());
  const Bytes dek = Secret();
  const Bytes aad(AsBytes("bucket/object#v1").begin(), AsBytes("bucket/object#v1").end());
  auto wrapped = provider_->Wrap(key, dek, aad);
  ASSERT_TRUE(wrapped.has_value()) << wrapped.error().ToString();
  ASSERT_EQ(wrapped->size(), 1u + 12 + dek.size() + 16);
  EXPECT_EQ((*wrapped)[0], KmipProvider::kBlobVersion);
  // The ciphertext is not the plaintext.
  EXPECT_FALSE(std::equal(dek.begin(), dek.end(), wrapped->begin() + 13));
  auto unwrapped = provider_->Unwrap(key, *wrapped, aad);
  ASSERT_TRUE(unwrapped.has_value()) << unwrapped.error().ToString();
  EXPECT_EQ(Revealed(*unwrapped), dek);

  // A fresh IV every time: the same input wraps differently.
  auto again = provider_->Wrap(key, dek, aad);
  ASSERT_TRUE(again.has_value());
  EXPECT_NE(*again, *wrapped);
  EXPECT_FALSE(std::equal(again->begin() + 1, again->begin() + 13, wrapped->begin() + 1));

  // Sizes at the edges, and no AAD at all.
  for (size_t n : {size_t{1}, size_t{16}, size_t{4096}}) {
    const Bytes secret = Secret(n, n);
    auto w = provider_->Wrap(key, secret, {});
    ASSERT_TRUE(w.has_value()) << n << ": " << w.error().ToString();
    auto u = provider_->Unwrap(key, *w, {});
    ASSERT_TRUE(u.has_value()) << n << ": " << u.error().ToString();
    EXPECT_EQ(Revealed(*u), secret);
  }
  EXPECT_TRUE(FailsWith(provider_->Wrap(key, Secret(4097), aad), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(provider_->Wrap(key, {}, aad), ErrorCode::kInvalidArgument));
}

TEST_F(KmipProviderTest, KeyIsActiveEncryptDecryptOnlyAndMarkedSensitive) {
  const std::string key = NewKey("attributes");
  auto attributes = provider_->client().GetAttributes(
      key, {"State", "Cryptographic Usage Mask", "Cryptographic Length", "Sensitive"});
  ASSERT_TRUE(attributes.has_value()) << attributes.error().ToString();
  std::map<std::string, kmip::Item> by_name(attributes->begin(), attributes->end());
  ASSERT_TRUE(by_name.count("State"));
  EXPECT_EQ(by_name.at("State").enumeration(), kmip::kStateActive);
  ASSERT_TRUE(by_name.count("Cryptographic Usage Mask"));
  EXPECT_EQ(by_name.at("Cryptographic Usage Mask").integer(),
            kmip::kUsageEncrypt | kmip::kUsageDecrypt);
  ASSERT_TRUE(by_name.count("Cryptographic Length"));
  EXPECT_EQ(by_name.at("Cryptographic Length").integer(), 256);
  ASSERT_TRUE(by_name.count("Sensitive")) << "the server did not keep the Sensitive attribute";
  EXPECT_TRUE(by_name.at("Sensitive").boolean());
}

// What the server does with Get on a key created Sensitive (KMIP 1.4: its
// material must not be exported in clear). Either Get is refused, or — a
// server that ignores Sensitive — the material it hands out is really the
// key behind our blobs. The test prints which one this server is.
TEST_F(KmipProviderTest, GetOfSensitiveKeyIsRefusedOrReported) {
  const std::string key = NewKey("sensitive");
  const Bytes dek = Secret();
  const Bytes aad(AsBytes("ctx").begin(), AsBytes("ctx").end());
  auto wrapped = provider_->Wrap(key, dek, aad);
  ASSERT_TRUE(wrapped.has_value()) << wrapped.error().ToString();

  auto material = provider_->client().Get(key);
  if (!material) {
    EXPECT_TRUE(material.error().code() == ErrorCode::kPermissionDenied ||
                material.error().code() == ErrorCode::kNotFound)
        << material.error().ToString();
    std::cout << "[ pykmip   ] Get of a Sensitive key is refused: " << material.error().ToString()
              << "\n";
    return;
  }
  std::cout << "[ pykmip   ] Get of a Sensitive key RETURNS the key material in clear ("
            << material->size() << " bytes): this server does not enforce Sensitive\n";
  ASSERT_EQ(material->size(), 32u);
  // The blob is standard AES-256-GCM: version ‖ IV ‖ ciphertext ‖ tag.
  auto gcm = crypto::AesGcm256::Create(material->reveal());
  ASSERT_TRUE(gcm.has_value());
  const ByteView blob = *wrapped;
  Bytes out(dek.size());
  ASSERT_TRUE((*gcm)->Open(blob.subspan(1, 12), aad, blob.subspan(13), out).has_value());
  EXPECT_EQ(out, dek);
}

TEST_F(KmipProviderTest, CreateKeyWithTakenLabelIsAlreadyExists) {
  const std::string label = UniqueLabel("dup");
  auto first = provider_->CreateKey(label);
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  auto second = provider_->CreateKey(label);
  ASSERT_TRUE(FailsWith(second, ErrorCode::kAlreadyExists));
  EXPECT_NE(second.error().message().find(*first), std::string::npos);
  EXPECT_TRUE(FailsWith(provider_->CreateKey(""), ErrorCode::kInvalidArgument));
}

TEST_F(KmipProviderTest, RacingCreatorsOfOneLabelLeaveAtMostOneKey) {
  for (int round = 0; round < 5; ++round) {
    const std::string label = UniqueLabel("race");
    constexpr int kRacers = 4;
    std::vector<std::unique_ptr<KmipProvider>> racers;
    for (int i = 0; i < kRacers; ++i) racers.push_back(MakeProvider());
    std::vector<std::optional<Result<std::string>>> results(kRacers);
    strongroom::testing::RunAtOnce(kRacers, [&](int i) {
      results[static_cast<size_t>(i)] = racers[static_cast<size_t>(i)]->CreateKey(label);
    });
    int created = 0;
    for (const auto& result : results) {
      if (result->has_value()) {
        ++created;
      } else {
        EXPECT_EQ(result->error().code(), ErrorCode::kAlreadyExists) << result->error().ToString();
      }
    }
    auto left = provider_->client().LocateByName(label);
    ASSERT_TRUE(left.has_value()) << left.error().ToString();
    EXPECT_LE(created, 1) << "round " << round;
    EXPECT_EQ(static_cast<int>(left->size()), created) << "round " << round;
    for (const auto& result : results) {
      if (result->has_value()) (void)provider_->DestroyKey(**result);
    }
  }
}

TEST_F(KmipProviderTest, WrongAadIsDataLoss) {
  const std::string key = NewKey("aad");
  const Bytes aad(AsBytes("bucket/a").begin(), AsBytes("bucket/a").end());
  const Bytes other(AsBytes("bucket/b").begin(), AsBytes("bucket/b").end());
  auto wrapped = provider_->Wrap(key, Secret(), aad);
  ASSERT_TRUE(wrapped.has_value()) << wrapped.error().ToString();
  EXPECT_TRUE(FailsWith(provider_->Unwrap(key, *wrapped, other), ErrorCode::kDataLoss));
  EXPECT_TRUE(FailsWith(provider_->Unwrap(key, *wrapped, {}), ErrorCode::kDataLoss));
  // Still fine with the right one afterwards (the connection survived).
  EXPECT_TRUE(provider_->Unwrap(key, *wrapped, aad).has_value());
}

TEST_F(KmipProviderTest, TamperedBlobIsDataLoss) {
  const std::string key = NewKey("tamper");
  const Bytes aad(AsBytes("x").begin(), AsBytes("x").end());
  auto wrapped = provider_->Wrap(key, Secret(), aad);
  ASSERT_TRUE(wrapped.has_value()) << wrapped.error().ToString();
  // One flipped bit in the IV, the ciphertext, the tag.
  for (size_t at : {size_t{1}, size_t{12}, size_t{13}, size_t{30}, wrapped->size() - 16,
                    wrapped->size() - 1}) {
    Bytes bad = *wrapped;
    bad[at] ^= 0x01;
    EXPECT_TRUE(FailsWith(provider_->Unwrap(key, bad, aad), ErrorCode::kDataLoss)) << "byte " << at;
  }
  Bytes version = *wrapped;
  version[0] = 0x02;
  EXPECT_TRUE(FailsWith(provider_->Unwrap(key, version, aad), ErrorCode::kDataLoss));
  // Truncations, including a short tag (PyKMIP would check only what it gets).
  for (size_t cut : {size_t{1}, size_t{4}, size_t{15}, wrapped->size() - 1}) {
    Bytes shorter(wrapped->begin(), wrapped->end() - static_cast<std::ptrdiff_t>(cut));
    EXPECT_TRUE(FailsWith(provider_->Unwrap(key, shorter, aad), ErrorCode::kDataLoss))
        << "cut " << cut;
  }
  EXPECT_TRUE(FailsWith(provider_->Unwrap(key, {}, aad), ErrorCode::kDataLoss));
}

TEST_F(KmipProviderTest, UnknownKeyIsNotFound) {
  const std::string key = NewKey("known");
  auto wrapped = provider_->Wrap(key, Secret(), {});
  ASSERT_TRUE(wrapped.has_value());
  for (const char* missing : {"987654321", "no-such-key"}) {
    auto w = provider_->Wrap(missing, Secret(), {});
    EXPECT_TRUE(FailsWith(w, ErrorCode::kNotFound)) << missing;
    auto u = provider_->Unwrap(missing, *wrapped, {});
    EXPECT_TRUE(FailsWith(u, ErrorCode::kNotFound)) << missing;
    EXPECT_TRUE(FailsWith(provider_->DestroyKey(missing), ErrorCode::kNotFound)) << missing;
  }
  EXPECT_TRUE(FailsWith(provider_->Wrap("", Secret(), {}), ErrorCode::kInvalidArgument));
}

TEST_F(KmipProviderTest, DestroyedKeyIsNotFoundAndItsLabelIsFree) {
  const std::string label = UniqueLabel("destroy");
  auto key = provider_->CreateKey(label);
  ASSERT_TRUE(key.has_value()) << key.error().ToString();
  auto wrapped = provider_->Wrap(*key, Secret(), {});
  ASSERT_TRUE(wrapped.has_value());
  auto destroyed = provider_->DestroyKey(*key);
  ASSERT_TRUE(destroyed.has_value()) << destroyed.error().ToString();
  EXPECT_TRUE(FailsWith(provider_->Unwrap(*key, *wrapped, {}), ErrorCode::kNotFound));
  EXPECT_TRUE(FailsWith(provider_->Wrap(*key, Secret(), {}), ErrorCode::kNotFound));
  EXPECT_TRUE(FailsWith(provider_->DestroyKey(*key), ErrorCode::kNotFound));
  EXPECT_TRUE(FailsWith(provider_->client().Get(*key), ErrorCode::kNotFound));
  // The name went with the key.
  auto reborn = provider_->CreateKey(label);
  ASSERT_TRUE(reborn.has_value()) << reborn.error().ToString();
  EXPECT_NE(*reborn, *key);
}

TEST_F(KmipProviderTest, PreActiveKeyCanBeDestroyed) {
  // A key whose Activate never happened (e.g. CreateKey interrupted).
  kmip::SymmetricKeySpec spec;
  spec.name = UniqueLabel("preactive");
  auto id = provider_->client().CreateSymmetricKey(spec);
  ASSERT_TRUE(id.has_value()) << id.error().ToString();
  // Not usable before activation: the server says PermissionDenied.
  EXPECT_TRUE(FailsWith(provider_->Wrap(*id, Secret(), {}), ErrorCode::kPermissionDenied));
  auto destroyed = provider_->DestroyKey(*id);
  ASSERT_TRUE(destroyed.has_value()) << destroyed.error().ToString();
  EXPECT_TRUE(FailsWith(provider_->client().Get(*id), ErrorCode::kNotFound));
}

TEST_F(KmipProviderTest, OtherIdentityIsPermissionDenied) {
  const std::string key = NewKey("owned");
  auto wrapped = provider_->Wrap(key, Secret(), {});
  ASSERT_TRUE(wrapped.has_value());
  auto intruder = MakeProvider(Options("KMIP_INTRUDER_CERT", "KMIP_INTRUDER_KEY"));
  ASSERT_NE(intruder, nullptr);
  EXPECT_TRUE(intruder->HealthCheck().has_value());
  EXPECT_TRUE(FailsWith(intruder->Unwrap(key, *wrapped, {}), ErrorCode::kPermissionDenied));
  EXPECT_TRUE(FailsWith(intruder->Wrap(key, Secret(), {}), ErrorCode::kPermissionDenied));
  EXPECT_TRUE(FailsWith(intruder->DestroyKey(key), ErrorCode::kPermissionDenied));
  EXPECT_TRUE(FailsWith(intruder->client().Get(key), ErrorCode::kPermissionDenied));
  // Still there for its owner.
  EXPECT_TRUE(provider_->Unwrap(key, *wrapped, {}).has_value());
}

// A certificate the server does not accept is the server's refusal, not an
// outage: kPermissionDenied, whether TLS or KMIP says no.
TEST_F(KmipProviderTest, RefusedClientCertificatesArePermissionDenied) {
  for (const char* who : {"NOEKU", "ROGUE"}) {
    auto stranger = MakeProvider(Options(std::string("KMIP_") + who + "_CERT",
                                         std::string("KMIP_") + who + "_KEY"));
    ASSERT_NE(stranger, nullptr);
    auto health = stranger->HealthCheck();
    ASSERT_TRUE(FailsWith(health, ErrorCode::kPermissionDenied)) << who;
    std::cout << "[ refused  ] " << who << ": " << health.error().message() << "\n";
    EXPECT_TRUE(FailsWith(stranger->CreateKey(UniqueLabel("stranger")),
                          ErrorCode::kPermissionDenied))
        << who;
  }
}

TEST_F(KmipProviderTest, ConnectionIsReusedAndCallsAreThreadSafe) {
  const std::string key = NewKey("pool");
  const Bytes aad(AsBytes("pool").begin(), AsBytes("pool").end());
  auto wrapped = provider_->Wrap(key, Secret(), aad);
  ASSERT_TRUE(wrapped.has_value());
  const uint64_t before = provider_->client().connections_opened();
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(provider_->Unwrap(key, *wrapped, aad).has_value());
  EXPECT_EQ(provider_->client().connections_opened(), before) << "sequential calls must reuse";

  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 15; ++i) {
        const Bytes secret = Secret(32, static_cast<uint64_t>(t * 100 + i));
        auto w = provider_->Wrap(key, secret, aad);
        if (!w) continue;
        auto u = provider_->Unwrap(key, *w, aad);
        if (u && Revealed(*u) == secret) ++ok;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), 60);
  EXPECT_LE(provider_->client().connections_opened(), before + 4);
}

// PyKMIP's sessions read with a 10 s socket timeout; an idle connection
// outlives it (the session loop just reads again), so a pooled connection is
// still good after a quiet spell.
TEST_F(KmipProviderTest, IdleConnectionOutlivesServerReadTimeout) {
  const std::string key = NewKey("idle");
  auto wrapped = provider_->Wrap(key, Secret(), {});
  ASSERT_TRUE(wrapped.has_value());
  const uint64_t before = provider_->client().connections_opened();
  std::this_thread::sleep_for(milliseconds(11500));
  auto unwrapped = provider_->Unwrap(key, *wrapped, {});
  ASSERT_TRUE(unwrapped.has_value()) << unwrapped.error().ToString();
  EXPECT_EQ(provider_->client().connections_opened(), before);
}

// The cost of one unwrap per request: warm (pooled connection) and cold
// (a new provider, so TCP + TLS handshake + unwrap).
TEST_F(KmipProviderTest, UnwrapLatency) {
  const std::string key = NewKey("bench");
  const Bytes aad(AsBytes("bench").begin(), AsBytes("bench").end());
  auto wrapped = provider_->Wrap(key, Secret(), aad);
  ASSERT_TRUE(wrapped.has_value());
  ASSERT_TRUE(provider_->Unwrap(key, *wrapped, aad).has_value());  // warm up

  auto summarize = [](std::vector<double> ms) {
    std::sort(ms.begin(), ms.end());
    char line[160];
    std::snprintf(line, sizeof(line),
                  "median %.3f ms, p90 %.3f ms, min %.3f ms, max %.3f ms (n=%zu)",
                  ms[ms.size() / 2], ms[ms.size() * 9 / 10], ms.front(), ms.back(), ms.size());
    return std::string(line);
  };
  std::vector<double> warm;
  for (int i = 0; i < 200; ++i) {
    const auto start = Clock::now();
    auto u = provider_->Unwrap(key, *wrapped, aad);
    warm.push_back(Millis(Clock::now() - start));
    ASSERT_TRUE(u.has_value());
  }
  std::vector<double> wraps;
  for (int i = 0; i < 50; ++i) {
    const auto start = Clock::now();
    auto w = provider_->Wrap(key, Secret(), aad);
    wraps.push_back(Millis(Clock::now() - start));
    ASSERT_TRUE(w.has_value());
  }
  std::vector<double> cold;
  for (int i = 0; i < 20; ++i) {
    auto fresh = MakeProvider();
    const auto start = Clock::now();
    auto u = fresh->Unwrap(key, *wrapped, aad);
    cold.push_back(Millis(Clock::now() - start));
    ASSERT_TRUE(u.has_value());
  }
  std::cout << "[ latency  ] KMIP unwrap, warm connection: " << summarize(warm) << "\n"
            << "[ latency  ] KMIP wrap,   warm connection: " << summarize(wraps) << "\n"
            << "[ latency  ] KMIP unwrap, new connection (TCP+TLS 1.2 handshake): "
            << summarize(cold) << "\n";
  RecordProperty("unwrap_warm_median_ms", std::to_string(warm[warm.size() / 2]));
}

TEST_F(KmipProviderTest, StoppedServerIsUnavailableQuicklyAndRecovers) {
  const std::string key = NewKey("outage");
  const Bytes aad(AsBytes("outage").begin(), AsBytes("outage").end());
  auto wrapped = provider_->Wrap(key, Secret(), aad);
  ASSERT_TRUE(wrapped.has_value());
  ASSERT_TRUE(provider_->Unwrap(key, *wrapped, aad).has_value());  // a pooled connection exists

  Harness("KMIP_STOP", "--kill");  // a crash: no orderly shutdown
  for (int round = 0; round < 2; ++round) {
    const auto start = Clock::now();
    auto down = provider_->Unwrap(key, *wrapped, aad);
    const auto took = Clock::now() - start;
    ASSERT_TRUE(FailsWith(down, ErrorCode::kUnavailable));
    EXPECT_EQ(down.error().reason(), "ServiceUnavailable");
    EXPECT_LT(took, milliseconds(1000)) << "an absent server must fail fast";
  }
  auto health = provider_->HealthCheck();
  EXPECT_TRUE(FailsWith(health, ErrorCode::kUnavailable));
  EXPECT_TRUE(FailsWith(provider_->CreateKey(UniqueLabel("down")), ErrorCode::kUnavailable));
  EXPECT_TRUE(FailsWith(provider_->Wrap(key, Secret(), aad), ErrorCode::kUnavailable));

  Harness("KMIP_START");  // same port, same database
  const uint64_t before = provider_->client().connections_opened();
  auto back = provider_->Unwrap(key, *wrapped, aad);
  ASSERT_TRUE(back.has_value()) << back.error().ToString();
  EXPECT_EQ(Revealed(*back), Secret());
  EXPECT_EQ(provider_->client().connections_opened(), before + 1);
  EXPECT_TRUE(provider_->HealthCheck().has_value());
}

TEST_F(KmipProviderTest, FrozenServerTimesOutAndRecovers) {
  KmipProviderOptions options = Options();
  options.connect_timeout = milliseconds(400);
  options.request_timeout = milliseconds(400);
  auto provider = MakeProvider(options);
  const std::string key = NewKey("frozen");
  const Bytes aad(AsBytes("frozen").begin(), AsBytes("frozen").end());
  auto wrapped = provider->Wrap(key, Secret(), aad);
  ASSERT_TRUE(wrapped.has_value()) << wrapped.error().ToString();

  const pid_t pid = ServerPid();
  ASSERT_EQ(::kill(pid, SIGSTOP), 0);
  // Warm connection: the request goes out, no answer comes back.
  auto start = Clock::now();
  auto stalled = provider->Unwrap(key, *wrapped, aad);
  auto took = Clock::now() - start;
  EXPECT_TRUE(FailsWith(stalled, ErrorCode::kUnavailable));
  if (!stalled) {
    EXPECT_NE(stalled.error().message().find("timed out"), std::string::npos);
  }
  EXPECT_LT(took, milliseconds(2000)) << Millis(took) << " ms";
  // New connection: the kernel accepts TCP, the TLS handshake never finishes.
  auto cold = MakeProvider(options);
  start = Clock::now();
  auto handshake = cold->HealthCheck();
  took = Clock::now() - start;
  EXPECT_TRUE(FailsWith(handshake, ErrorCode::kUnavailable));
  EXPECT_LT(took, milliseconds(2000)) << Millis(took) << " ms";
  ASSERT_EQ(::kill(pid, SIGCONT), 0);

  // Back: the next call reconnects by itself.
  std::this_thread::sleep_for(milliseconds(200));
  auto back = provider->Unwrap(key, *wrapped, aad);
  ASSERT_TRUE(back.has_value()) << back.error().ToString();
  EXPECT_EQ(Revealed(*back), Secret());
}

}  // namespace
}  // namespace strongroom::keys
