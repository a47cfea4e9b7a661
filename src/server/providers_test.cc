// SPDX-License-Identifier: Apache-2.0
// [provider.*] config tables, the KEK cache settings, and the provider
// registry's guard (without servers: an unreachable KMIP endpoint and an
// absent PKCS#11 module). The real providers: tests/providers/.

#include "server/providers.h"

#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "catalog/sqlite/sqlite_catalog.h"
#include "crypto/certificate.h"
#include "keys/hierarchy/fake_key_provider_test_util.h"
#include "keys/provider_root/provider_root.h"
#include "server/options.h"
#include "testing/test_util.h"

namespace strongroom::server {
namespace {

using namespace std::chrono_literals;
using ::strongroom::testing::ScratchDir;

std::string Write(const ScratchDir& dir, const std::string& name, const std::string& text) {
  std::string path = dir.path() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

// A TCP port on 127.0.0.1 nothing listens on (bound, then closed).
uint16_t DeadPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST(ProviderSettingsTest, ConfigTablesAndCacheKeys) {
  ScratchDir dir;
  std::string path = Write(dir, "c.toml",
                           "data-dir = \"/d\"\n"
                           "kek-cache-ttl = 0\nkek_cache_entries = 7\n"
                           "[provider.kmip]\nhost = \"kms.local\"\nport = 15696\n"
                           "ca = \"ca.pem\"\nclient-cert = \"c.pem\"\nclient_key = \"k.pem\"\n"
                           "request_timeout_ms = 900\n"
                           "[provider.pkcs11]\nmodule = \"/m.so\"\ntoken_label = \"t\"\n"
                           "pin_file = \"/p\"\n"
                           "[provider.tpm]\ntcti = \"swtpm:port=2321\"\npcrs = \"sha256:7\"\n");
  ServerSettings settings;
  auto loaded = LoadConfigFile(path, settings);
  ASSERT_TRUE(loaded) << loaded.error().ToString();
  EXPECT_EQ(settings.data_dir, "/d");
  EXPECT_EQ(settings.kek_cache_ttl, 0u);
  EXPECT_EQ(settings.kek_cache_entries, 7u);
  ASSERT_TRUE(settings.providers.kmip);
  EXPECT_EQ(settings.providers.kmip->host, "kms.local");
  EXPECT_EQ(settings.providers.kmip->port, 15696);
  EXPECT_EQ(settings.providers.kmip->ca, "ca.pem");
  EXPECT_EQ(settings.providers.kmip->client_cert, "c.pem");
  EXPECT_EQ(settings.providers.kmip->client_key, "k.pem");
  EXPECT_EQ(settings.providers.kmip->request_timeout_ms, 900u);
  EXPECT_EQ(settings.providers.kmip->connect_timeout_ms, 3000u);
  ASSERT_TRUE(settings.providers.pkcs11);
  EXPECT_EQ(settings.providers.pkcs11->module, "/m.so");
  EXPECT_EQ(settings.providers.pkcs11->token_label, "t");
  EXPECT_EQ(settings.providers.pkcs11->pin_file, "/p");
  ASSERT_TRUE(settings.providers.tpm);
  EXPECT_EQ(settings.providers.tpm->tcti, "swtpm:port=2321");
  EXPECT_EQ(settings.providers.tpm->pcrs, "sha256:7");

  keys::KekCacheOptions cache = KekCacheOptionsOf(settings);
  EXPECT_EQ(cache.ttl, 0s);
  EXPECT_EQ(cache.max_entries, 7u);
  ServerSettings defaults;
  EXPECT_EQ(KekCacheOptionsOf(defaults).ttl, 300s);
  EXPECT_EQ(KekCacheOptionsOf(defaults).max_entries, 1024u);
  EXPECT_FALSE(defaults.providers.any());
}

TEST(ProviderSettingsTest, BadTablesAreRefused) {
  ScratchDir dir;
  for (const char* text : {
           "[provider.hsm]\nmodule = \"x\"\n",                                  // unknown provider
           "[provider.kmip]\nca = \"a\"\nclient_cert = \"b\"\n",                // client_key missing
           "[provider.kmip]\nca = \"a\"\nclient_cert = \"b\"\nclient_key = \"c\"\nport = 0\n",
           "[provider.kmip]\nca = \"a\"\nclient_cert = \"b\"\nclient_key = \"c\"\nhots = \"h\"\n",
           "[provider.pkcs11]\nmodule = \"m\"\ntoken_label = \"t\"\n",           // pin_file missing
           "[provider.tpm]\ntcti = 5\n",
           "provider = \"kmip\"\n",
       }) {
    ServerSettings settings;
    auto loaded = LoadConfigFile(Write(dir, "bad.toml", text), settings);
    ASSERT_FALSE(loaded) << text;
    EXPECT_EQ(loaded.error().code(), ErrorCode::kInvalidArgument) << text;
  }
}

TEST(ProviderRegistryTest, RequireNamesTheMissingTable) {
  auto registry = ProviderRegistry::Create({});
  ASSERT_TRUE(registry) << registry.error().ToString();
  EXPECT_TRUE((*registry)->ids().empty());
  EXPECT_EQ((*registry)->Find("kmip"), nullptr);
  auto missing = (*registry)->Require("kmip");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(missing.error().message().find("[provider.kmip]"), std::string::npos);
  EXPECT_EQ((*registry)->Require("vault").error().code(), ErrorCode::kInvalidArgument);
}

TEST(ProviderRegistryTest, ConfigurationErrorsFailAtOnce) {
  ProviderSettings settings;
  settings.kmip = KmipSettings{};
  settings.kmip->ca = "/nonexistent/ca.pem";
  settings.kmip->client_cert = "/nonexistent/c.pem";
  settings.kmip->client_key = "/nonexistent/k.pem";
  EXPECT_FALSE(ProviderRegistry::Create(settings)) << "a missing certificate is no outage";
}

// KMIP on a port nothing listens on: every call fails kUnavailable with
// ServiceUnavailable; within the cool-down the guard answers without
// dialling; a health probe always dials; the notices say down, not twice.
TEST(ProviderRegistryTest, UnreachableProviderFailsFastWithServiceUnavailable) {
  ScratchDir dir;
  // Certificates are only loaded, never used: the connection is refused first.
  std::string cert = dir.path() + "/cert.pem", key = dir.path() + "/key.pem";
  ASSERT_TRUE(crypto::WriteSelfSignedCertificate(cert, key, {"127.0.0.1"}, 1, false));
  ProviderSettings settings;
  settings.kmip = KmipSettings{};
  settings.kmip->port = DeadPort();
  settings.kmip->ca = settings.kmip->client_cert = cert;
  settings.kmip->client_key = key;
  std::vector<std::string> notices;
  auto registry = ProviderRegistry::Create(settings, [&](const std::string& line) {
    notices.push_back(line);
  });
  ASSERT_TRUE(registry) << registry.error().ToString();
  keys::KeyProvider* kmip = (*registry)->Find("kmip");
  ASSERT_NE(kmip, nullptr);
  auto start = std::chrono::steady_clock::now();
  auto first = kmip->Unwrap("1", Bytes(40, 1), {});
  ASSERT_FALSE(first);
  EXPECT_EQ(first.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(first.error().reason(), "ServiceUnavailable");
  auto second = kmip->Unwrap("1", Bytes(40, 1), {});
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().reason(), "ServiceUnavailable");
  EXPECT_NE(second.error().message().find("retrying shortly"), std::string::npos)
      << second.error().message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s) << "never hangs";
  EXPECT_FALSE(kmip->HealthCheck());
  auto health = (*registry)->CheckHealth();
  ASSERT_EQ(health.size(), 1u);
  EXPECT_EQ(health[0].id, "kmip");
  EXPECT_FALSE(health[0].ok);
  ASSERT_EQ(notices.size(), 1u) << "one notice per outage";
  EXPECT_NE(notices[0].find("unavailable"), std::string::npos);
}

// A PKCS#11 module that is not there cannot be loaded: kUnavailable per the
// provider's contract, so the registry keeps it for a later build.
TEST(ProviderRegistryTest, Pkcs11ModuleThatCannotBeLoadedIsRetriedLater) {
  ScratchDir dir;
  ProviderSettings settings;
  settings.pkcs11 = Pkcs11Settings{};
  settings.pkcs11->module = dir.path() + "/missing.so";
  settings.pkcs11->token_label = "t";
  settings.pkcs11->pin_file = Write(dir, "pin", "1234");
  ::chmod(settings.pkcs11->pin_file.c_str(), 0600);
  auto registry = ProviderRegistry::Create(settings);
  ASSERT_TRUE(registry) << registry.error().ToString();
  keys::KeyProvider* pkcs11 = (*registry)->Find("pkcs11");
  ASSERT_NE(pkcs11, nullptr);
  auto wrapped = pkcs11->Wrap("k", Bytes(32, 1), {});
  ASSERT_FALSE(wrapped);
  EXPECT_EQ(wrapped.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(wrapped.error().reason(), "ServiceUnavailable");
}

// DestroyProviderKeys against a fake provider: only the keys strongroom
// made, never the root key's, and failures are retried.
TEST(DestroyProviderKeysTest, DestroysOwnedKeysKeepsTheRootsAndRetriesFailures) {
  ScratchDir dir;
  auto catalog = catalog::SqliteCatalog::Open(dir.path() + "/catalog.db");
  ASSERT_TRUE(catalog);
  keys::KeyDirectory directory(**catalog);
  keys::FakeKeyProvider fake("fake");
  keys::ProviderLookup lookup = [&](std::string_view id) -> keys::KeyProvider* {
    return id == "fake" ? &fake : nullptr;
  };
  ServerSettings settings;
  settings.key_dir = dir.path() + "/keys";
  std::filesystem::create_directories(settings.key_dir);
  auto root_key = fake.CreateKey("root");
  ASSERT_TRUE(root_key);
  ASSERT_TRUE(keys::CreateProviderRoot(settings.key_dir, fake, *root_key));

  auto own = fake.CreateKey("own");
  auto given = fake.CreateKey("given");
  ASSERT_TRUE(own && given);
  auto a = directory.Create("a", "", "fake", *own, /*provider_key_owned=*/true);
  auto b = directory.Create("b", "", "fake", *given);
  auto c = directory.Create("c", "", "fake", *root_key, /*provider_key_owned=*/true);
  auto d = directory.Create("d", "", "elsewhere", "far", /*provider_key_owned=*/true);
  ASSERT_TRUE(a && b && c && d);
  for (const auto* key : {&*a, &*b, &*c, &*d}) {
    ASSERT_TRUE(directory.ScheduleDestroy(key->key_id, 0));
  }
  ASSERT_TRUE(directory.DestroyDueKeys());

  fake.down = true;  // unreachable: only the root's key settles (nothing to ask)
  ProviderKeyRetries retries;
  auto first = DestroyProviderKeys(settings, directory, lookup, nullptr, "test", &retries);
  ASSERT_EQ(first.size(), 3u);  // a, c, d; never b
  for (const auto& step : first) {
    ASSERT_TRUE(step.error.has_value());
    EXPECT_FALSE(step.repeated);
    if (step.key.key_id == c->key_id) {
      EXPECT_EQ(step.outcome, "kept: it also wraps the root key (root.provider)");
      EXPECT_NE(DescribeOutcome(step).find("root key"), std::string::npos);
    } else {
      EXPECT_EQ(step.outcome, "") << step.key.key_id;
      EXPECT_NE(DescribeOutcome(step).find("tries again"), std::string::npos);
    }
  }
  EXPECT_EQ(directory.Get(c->key_id)->provider_key_outcome,
            "kept: it also wraps the root key (root.provider)");
  // The same failures again: nothing new to say.
  auto again = DestroyProviderKeys(settings, directory, lookup, nullptr, "test", &retries);
  ASSERT_EQ(again.size(), 2u);
  for (const auto& step : again) EXPECT_TRUE(step.repeated) << step.key.key_id;

  fake.down = false;
  auto second = DestroyProviderKeys(settings, directory, lookup, nullptr, "test", &retries);
  ASSERT_EQ(second.size(), 2u);
  for (const auto& step : second) {
    if (step.key.key_id == a->key_id) {
      EXPECT_EQ(step.outcome, "destroyed");
      EXPECT_FALSE(step.repeated);
      EXPECT_NE(DescribeOutcome(step).find("is destroyed"), std::string::npos);
    } else {
      EXPECT_EQ(step.key.key_id, d->key_id);
      EXPECT_EQ(step.outcome, "");  // its provider is not configured here
      EXPECT_TRUE(step.repeated);
      EXPECT_NE(DescribeOutcome(step).find("not configured"), std::string::npos);
    }
  }
  EXPECT_EQ(directory.Get(a->key_id)->provider_key_outcome, "destroyed");
  EXPECT_TRUE(::strongroom::testing::FailsWith(fake.Wrap(*own, AsBytes(std::string_view("x")), {}),
                                              ErrorCode::kNotFound));
  EXPECT_TRUE(fake.Wrap(*given, AsBytes(std::string_view("x")), {}));
  EXPECT_TRUE(fake.Wrap(*root_key, AsBytes(std::string_view("x")), {}));
  auto third = DestroyProviderKeys(settings, directory, lookup, nullptr, "test");
  ASSERT_EQ(third.size(), 1u);
  EXPECT_EQ(third[0].key.key_id, d->key_id);
}

}  // namespace
}  // namespace strongroom::server
