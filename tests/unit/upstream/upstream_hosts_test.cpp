// Each intercepted host has its own key and its own trust: a key is never sent to a host it
// was not configured for, and one host's extra CA does not vouch for another host.
#include "agent/upstream/upstream_hosts.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "agent/tls/certificate_authority.h"
#include "agent/tls/upstream_tls.h"
#include "tests/unit/tls/tls_test_support.h"

namespace sluice {
namespace {

constexpr const char* kOpenAi = "api.openai.com";
constexpr const char* kOther = "llm.internal.example";

class UpstreamHostsTest : public ::testing::Test {
protected:
    test::TempDir tmp_;

    std::string key_file(const std::string& name, const std::string& key) {
        const std::string path = tmp_ / name;
        std::ofstream(path) << key << "\n";
        std::filesystem::permissions(
            path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
        return path;
    }

    static Config two_hosts(UpstreamConfig openai, UpstreamConfig other) {
        Config config;
        config.intercept = {InterceptTarget{kOpenAi, 443, {}}, InterceptTarget{kOther, 443, {}}};
        config.upstream = {{kOpenAi, std::move(openai)}, {kOther, std::move(other)}};
        return config;
    }

    // Whether `client` completes a verified handshake with a server for `host` whose leaf
    // comes from `ca`.
    static bool trusts(SSL_CTX* client, CertificateAuthority& ca, const std::string& host) {
        auto server = ca.server_context_for(host);
        test::MemoryTlsPair pair(client, server.get());
        EXPECT_TRUE(prepare_upstream_ssl(pair.client(), host));
        const bool ok = pair.handshake() && SSL_get_verify_result(pair.client()) == X509_V_OK;
        drain_openssl_errors();
        return ok;
    }
};

TEST_F(UpstreamHostsTest, EachHostGetsItsOwnKey) {
    UpstreamHosts hosts(two_hosts({"", "", key_file("openai.key", "sk-openai")},
                                  {"", "", key_file("other.key", "sk-other")}));
    const std::string outcome = hosts.reload();
    ASSERT_NE(hosts.find(kOpenAi), nullptr);
    ASSERT_NE(hosts.find(kOther), nullptr);
    EXPECT_EQ(*hosts.find(kOpenAi)->api_keys.key(), "sk-openai");
    EXPECT_EQ(*hosts.find(kOther)->api_keys.key(), "sk-other");
    EXPECT_TRUE(hosts.all_keys_loaded());
    // The outcome names each host and holds no key material.
    EXPECT_NE(outcome.find(kOpenAi), std::string::npos) << outcome;
    EXPECT_NE(outcome.find(kOther), std::string::npos) << outcome;
    EXPECT_EQ(outcome.find("sk-"), std::string::npos) << outcome;
}

TEST_F(UpstreamHostsTest, AHostWithoutAnUpstreamEntryHasNoKey) {
    Config config;
    config.intercept = {InterceptTarget{kOpenAi, 443, {}}, InterceptTarget{kOther, 443, {}}};
    config.upstream = {{kOpenAi, UpstreamConfig{"", "", key_file("openai.key", "sk-openai")}}};
    UpstreamHosts hosts(config);
    hosts.reload();
    EXPECT_NE(hosts.find(kOpenAi), nullptr);
    EXPECT_EQ(hosts.find(kOther), nullptr);
    EXPECT_EQ(hosts.status_json().count(kOther), 0u);
}

TEST_F(UpstreamHostsTest, OneHostsMissingKeyIsReportedForThatHostOnly) {
    UpstreamHosts hosts(
        two_hosts({"", "", key_file("openai.key", "sk-openai")}, {"", "", tmp_ / "absent.key"}));
    hosts.reload();
    EXPECT_FALSE(hosts.all_keys_loaded());
    const nlohmann::json status = hosts.status_json();
    EXPECT_TRUE(status[kOpenAi]["api_key_loaded"].get<bool>());
    EXPECT_FALSE(status[kOther]["api_key_loaded"].get<bool>());
    EXPECT_TRUE(status[kOther].contains("api_key_problem"));
    EXPECT_FALSE(status[kOpenAi].contains("api_key_problem"));
}

TEST_F(UpstreamHostsTest, EachHostTrustsOnlyItsOwnExtraCa) {
    test::TempDir openai_pki;
    test::TempDir other_pki;
    auto openai_ca = CertificateAuthority::load_or_create(openai_pki.path(), {kOpenAi, kOther});
    auto other_ca = CertificateAuthority::load_or_create(other_pki.path(), {kOpenAi, kOther});
    UpstreamHosts hosts(two_hosts({"", openai_ca.ca_cert_path(), key_file("a.key", "sk-a")},
                                  {"", other_ca.ca_cert_path(), key_file("b.key", "sk-b")}));
    SSL_CTX* openai_client = hosts.find(kOpenAi)->client_context.get();
    SSL_CTX* other_client = hosts.find(kOther)->client_context.get();
    EXPECT_TRUE(trusts(openai_client, openai_ca, kOpenAi));
    EXPECT_TRUE(trusts(other_client, other_ca, kOther));
    // A CA given for one host vouches for nothing on the other.
    EXPECT_FALSE(trusts(openai_client, other_ca, kOpenAi));
    EXPECT_FALSE(trusts(other_client, openai_ca, kOther));
}

TEST_F(UpstreamHostsTest, AnUnloadableCaFileNamesItsHost) {
    try {
        UpstreamHosts hosts(two_hosts({}, {"", tmp_ / "missing-ca.pem", ""}));
        FAIL() << "no exception";
    } catch (const std::runtime_error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find(kOther), std::string::npos) << what;
        EXPECT_NE(what.find("missing-ca.pem"), std::string::npos) << what;
    }
}

}  // namespace
}  // namespace sluice
