#include "agent/oidc/oidc_authenticator.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>

#include "agent/tls/certificate_authority.h"
#include "tests/unit/oidc/https_test_server.h"
#include "tests/unit/oidc/jwt_test_support.h"
#include "tests/unit/tls/tls_test_support.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using Clock = std::chrono::system_clock;

constexpr const char* kFileIssuer = "https://ci.example.com";
constexpr const char* kAudience = "sluice";

const Clock::time_point kNow = Clock::time_point(std::chrono::seconds(1'800'000'000));

int64_t now_s() {
    return std::chrono::duration_cast<std::chrono::seconds>(kNow.time_since_epoch()).count();
}

json claims_for(const std::string& issuer, const std::string& sub = "user-1") {
    return json{{"iss", issuer}, {"aud", kAudience}, {"sub", sub}, {"exp", now_s() + 600}};
}

void write_file(const std::string& path, const std::string& text) {
    // Write-then-rename, as config management does, so a reader never sees half a file.
    const std::string tmp = path + ".tmp";
    std::ofstream(tmp, std::ios::trunc) << text;
    std::filesystem::rename(tmp, path);
}

OidcAuthenticatorOptions fixed_clock_options() {
    OidcAuthenticatorOptions options;
    options.clock = [] { return kNow; };
    return options;
}

class OidcAuthenticatorFile : public ::testing::Test {
protected:
    void SetUp() override {
        write_file(jwks_path_,
                   test::jwks_document({test::public_jwk(key_.get(), JwsAlgorithm::es256, "k1")}));
        config_.issuer = kFileIssuer;
        config_.audiences = {kAudience};
        config_.jwks_file = jwks_path_;
    }
    std::string sign(const json& claims, EVP_PKEY* key, const std::string& kid) const {
        return test::sign_jwt(json::object(), claims, key, JwsAlgorithm::es256, kid);
    }

    test::TempDir dir_;
    std::string jwks_path_ = dir_ / "jwks.json";
    EvpPkeyPtr key_ = test::generate_signing_key(JwsAlgorithm::es256);
    OidcIssuerConfig config_;
};

TEST_F(OidcAuthenticatorFile, OrdinaryKeysAreNone) {
    OidcAuthenticator auth({config_}, fixed_clock_options());
    ASSERT_TRUE(auth.enabled());
    for (const char* credential :
         {"sk-dummy", "", "sk-proj-abc123", "dummy", "Bearer", "ey", "eyj.a.b"}) {
        const OidcAuthentication a = auth.authenticate(credential);
        EXPECT_EQ(a.outcome, OidcOutcome::none) << credential;
        EXPECT_FALSE(a.identity.has_value());
    }
}

TEST_F(OidcAuthenticatorFile, WithoutIssuersEvenAJwtIsNone) {
    OidcAuthenticator auth({}, fixed_clock_options());
    EXPECT_FALSE(auth.enabled());
    EXPECT_EQ(auth.authenticate(sign(claims_for(kFileIssuer), key_.get(), "k1")).outcome,
              OidcOutcome::none);
}

TEST_F(OidcAuthenticatorFile, VerifiesTokenFromTheFile) {
    OidcAuthenticator auth({config_}, fixed_clock_options());
    const OidcAuthentication a = auth.authenticate(sign(claims_for(kFileIssuer), key_.get(), "k1"));
    ASSERT_EQ(a.outcome, OidcOutcome::ok) << a.reason;
    EXPECT_EQ(a.identity->issuer, kFileIssuer);
    EXPECT_EQ(a.identity->subject, "user-1");
}

TEST_F(OidcAuthenticatorFile, JwtsThatFailAreInvalidNeverNone) {
    OidcAuthenticator auth({config_}, fixed_clock_options());
    json expired = claims_for(kFileIssuer);
    expired["exp"] = now_s() - 3600;
    const struct {
        std::string credential;
        JwtError error;
    } cases[] = {
        {sign(expired, key_.get(), "k1"), JwtError::expired},
        {sign(claims_for("https://other.example.com"), key_.get(), "k1"), JwtError::wrong_issuer},
        {sign(claims_for(kFileIssuer), key_.get(), "k2"), JwtError::unknown_key},
        {"eyJhbGciOiJFUzI1NiJ9.bm90IGpzb24", JwtError::malformed},  // two segments
        {"eyJhbGciOiJFUzI1NiJ9.e30.sig.x", JwtError::malformed},    // four segments
        {"eyJ" + std::string(20000, 'A') + ".e30.x", JwtError::malformed},
    };
    for (const auto& c : cases) {
        const OidcAuthentication a = auth.authenticate(c.credential);
        EXPECT_EQ(a.outcome, OidcOutcome::invalid) << c.credential.substr(0, 40);
        EXPECT_EQ(a.error, c.error) << a.reason;
        EXPECT_FALSE(a.reason.empty());
        EXPECT_FALSE(a.identity.has_value());
    }
}

TEST_F(OidcAuthenticatorFile, RereadsTheFileWhenItChanges) {
    OidcAuthenticator auth({config_}, fixed_clock_options());
    EvpPkeyPtr next = test::generate_signing_key(JwsAlgorithm::es256);
    const std::string new_token = sign(claims_for(kFileIssuer), next.get(), "k2");
    EXPECT_EQ(auth.authenticate(new_token).outcome, OidcOutcome::invalid);

    write_file(jwks_path_,
               test::jwks_document({test::public_jwk(next.get(), JwsAlgorithm::es256, "k2")}));
    EXPECT_EQ(auth.authenticate(new_token).outcome, OidcOutcome::ok);
    // k1 was rotated out.
    EXPECT_EQ(auth.authenticate(sign(claims_for(kFileIssuer), key_.get(), "k1")).error,
              JwtError::unknown_key);

    // A broken rewrite keeps the last good keys and says so in status().
    write_file(jwks_path_, "{ not json");
    EXPECT_EQ(auth.authenticate(new_token).outcome, OidcOutcome::ok);
    const auto status = auth.status();
    ASSERT_EQ(status.size(), 1u);
    EXPECT_EQ(status[0].keys, 1u);
    EXPECT_EQ(status[0].last_error, "JWKS is not valid JSON");
}

TEST_F(OidcAuthenticatorFile, UnusableFileAtStartIsOneLineNamingIt) {
    config_.jwks_file = dir_ / "missing.json";
    try {
        OidcAuthenticator auth({config_}, fixed_clock_options());
        FAIL() << "constructed";
    } catch (const OidcSetupError& e) {
        EXPECT_EQ(std::string(e.what()), "oidc issuer https://ci.example.com: jwks_file " +
                                             config_.jwks_file +
                                             ": cannot read file: No such file or directory");
    }
    write_file(jwks_path_, R"({"keys":[{"kty":"oct","k":"c2VjcmV0"}]})");
    config_.jwks_file = jwks_path_;
    EXPECT_THROW(OidcAuthenticator({config_}, fixed_clock_options()), OidcSetupError);
}

TEST_F(OidcAuthenticatorFile, SafeFromManyThreads) {
    OidcAuthenticator auth({config_}, fixed_clock_options());
    const std::string good = sign(claims_for(kFileIssuer), key_.get(), "k1");
    const std::string bad = sign(claims_for(kFileIssuer), key_.get(), "zz");
    std::atomic<int> ok{0}, invalid{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 50; ++i) {
                ok += auth.authenticate(good).outcome == OidcOutcome::ok;
                invalid += auth.authenticate(bad).outcome == OidcOutcome::invalid;
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(ok, 200);
    EXPECT_EQ(invalid, 200);
}

// --- keys fetched over HTTPS from an in-test server with its own CA ---

class OidcAuthenticatorRemote : public ::testing::Test {
protected:
    void SetUp() override {
        publish({test::public_jwk(key1_.get(), JwsAlgorithm::eddsa, "k1")});
        config_.issuer = server_.url("");
        config_.audiences = {kAudience};
        config_.jwks_uri = server_.url("/keys");
        config_.ca_file = ca_.ca_cert_path();
    }

    void publish(std::vector<json> keys) {
        std::lock_guard lock(mutex_);
        jwks_ = test::jwks_document(keys);
        failing_ = false;
    }
    void fail_fetches() {
        std::lock_guard lock(mutex_);
        failing_ = true;
    }
    test::HttpReply reply(const std::string& target) {
        std::lock_guard lock(mutex_);
        if (failing_) return {500, "oops"};
        if (target == "/keys") return {200, jwks_};
        if (target == "/.well-known/openid-configuration") {
            return {200,
                    json{{"issuer", config_.issuer}, {"jwks_uri", server_.url("/keys")}}.dump()};
        }
        return {404, ""};
    }
    std::string sign(EVP_PKEY* key, const std::string& kid,
                     const std::string& sub = "user-1") const {
        return test::sign_jwt(json::object(), claims_for(config_.issuer, sub), key,
                              JwsAlgorithm::eddsa, kid);
    }
    OidcAuthenticatorOptions options() const {
        OidcAuthenticatorOptions o = fixed_clock_options();
        o.fetch_deadline = 5s;
        o.unknown_kid_wait = 5s;  // generous: CI machines are slow; a good run never waits it out
        return o;
    }

    test::TempDir dir_;
    CertificateAuthority ca_ = CertificateAuthority::load_or_create(dir_.path(), {"localhost"});
    std::mutex mutex_;
    std::string jwks_;      // guarded
    bool failing_ = false;  // guarded
    test::HttpsTestServer server_{ca_.server_context_for("localhost"),
                                  [this](const std::string& target) { return reply(target); }};
    EvpPkeyPtr key1_ = test::generate_signing_key(JwsAlgorithm::eddsa);
    EvpPkeyPtr key2_ = test::generate_signing_key(JwsAlgorithm::eddsa);
    OidcIssuerConfig config_;
};

TEST_F(OidcAuthenticatorRemote, FetchesKeysAndVerifies) {
    OidcAuthenticator auth({config_}, options());
    // The first request may arrive before the first fetch: it waits for it.
    const OidcAuthentication a = auth.authenticate(sign(key1_.get(), "k1"));
    ASSERT_EQ(a.outcome, OidcOutcome::ok) << a.reason;
    EXPECT_EQ(a.identity->issuer, config_.issuer);
    EXPECT_GE(server_.hits("/keys"), 1);
    const auto status = auth.status();
    ASSERT_EQ(status.size(), 1u);
    EXPECT_EQ(status[0].keys, 1u);
    EXPECT_TRUE(status[0].loaded_at.has_value());
    EXPECT_EQ(status[0].last_error, "");
}

TEST_F(OidcAuthenticatorRemote, NewKidTriggersRefreshAndIsAccepted) {
    OidcAuthenticator auth({config_}, options());
    ASSERT_EQ(auth.authenticate(sign(key1_.get(), "k1")).outcome, OidcOutcome::ok);
    const int fetches = server_.hits("/keys");

    publish({test::public_jwk(key1_.get(), JwsAlgorithm::eddsa, "k1"),
             test::public_jwk(key2_.get(), JwsAlgorithm::eddsa, "k2")});
    const OidcAuthentication a = auth.authenticate(sign(key2_.get(), "k2", "user-2"));
    ASSERT_EQ(a.outcome, OidcOutcome::ok) << a.reason;
    EXPECT_EQ(a.identity->subject, "user-2");
    EXPECT_EQ(server_.hits("/keys"), fetches + 1);
}

TEST_F(OidcAuthenticatorRemote, UnknownKidRefreshesAtMostOncePerInterval) {
    OidcAuthenticator auth({config_}, options());
    ASSERT_EQ(auth.authenticate(sign(key1_.get(), "k1")).outcome, OidcOutcome::ok);
    const int fetches = server_.hits("/keys");
    EXPECT_EQ(auth.authenticate(sign(key2_.get(), "made-up-1")).error, JwtError::unknown_key);
    EXPECT_EQ(server_.hits("/keys"), fetches + 1);
    const auto started = std::chrono::steady_clock::now();
    EXPECT_EQ(auth.authenticate(sign(key2_.get(), "made-up-2")).error, JwtError::unknown_key);
    EXPECT_EQ(server_.hits("/keys"), fetches + 1);              // no second fetch within 30 s
    EXPECT_LT(std::chrono::steady_clock::now() - started, 1s);  // and no waiting for one
}

TEST_F(OidcAuthenticatorRemote, FetchFailureKeepsTheLastGoodKeys) {
    OidcAuthenticator auth({config_}, options());
    ASSERT_EQ(auth.authenticate(sign(key1_.get(), "k1")).outcome, OidcOutcome::ok);
    fail_fetches();
    // An unknown kid forces a fetch, which fails...
    EXPECT_EQ(auth.authenticate(sign(key2_.get(), "k2")).error, JwtError::unknown_key);
    const auto status = auth.status();
    EXPECT_EQ(status[0].last_error, "GET " + config_.jwks_uri + ": response: status 500");
    EXPECT_EQ(status[0].keys, 1u);
    // ...and k1 still works.
    EXPECT_EQ(auth.authenticate(sign(key1_.get(), "k1")).outcome, OidcOutcome::ok);
}

TEST_F(OidcAuthenticatorRemote, DiscoversJwksUriFromTheIssuer) {
    config_.jwks_uri.clear();
    OidcAuthenticator auth({config_}, options());
    const OidcAuthentication a = auth.authenticate(sign(key1_.get(), "k1"));
    ASSERT_EQ(a.outcome, OidcOutcome::ok) << a.reason;
    EXPECT_EQ(server_.hits("/.well-known/openid-configuration"), 1);
    EXPECT_GE(server_.hits("/keys"), 1);
}

TEST_F(OidcAuthenticatorRemote, UntrustedServerCertificateMeansNoKeys) {
    config_.ca_file.clear();  // the test CA is not in the system store
    OidcAuthenticator auth({config_}, options());
    const OidcAuthentication a = auth.authenticate(sign(key1_.get(), "k1"));
    EXPECT_EQ(a.outcome, OidcOutcome::unavailable);
    EXPECT_EQ(a.reason, "the token's issuer keys could not be fetched");
    EXPECT_EQ(server_.hits("/keys"), 0);
    EXPECT_NE(auth.status()[0].last_error.find("TLS handshake"), std::string::npos)
        << auth.status()[0].last_error;
}

TEST_F(OidcAuthenticatorRemote, AwaitableVariantWaitsForTheRefreshWithoutBlocking) {
    OidcAuthenticator auth({config_}, options());
    ASSERT_EQ(auth.authenticate(sign(key1_.get(), "k1")).outcome, OidcOutcome::ok);
    publish({test::public_jwk(key2_.get(), JwsAlgorithm::eddsa, "k2")});

    boost::asio::io_context io{1};
    std::vector<OidcAuthentication> results;
    const std::string rotated = sign(key2_.get(), "k2");
    const std::string dummy = "sk-dummy";
    auto request = [&](const std::string& credential) -> boost::asio::awaitable<void> {
        std::string copy = credential;
        OidcAuthentication a = co_await auth.authenticate_async(copy);
        results.push_back(std::move(a));
    };
    boost::asio::co_spawn(io, request(rotated), boost::asio::detached);
    boost::asio::co_spawn(io, request(dummy), boost::asio::detached);
    io.run();
    ASSERT_EQ(results.size(), 2u);
    // The dummy key finished while the rotated token waited for the refresh on the same thread.
    EXPECT_EQ(results[0].outcome, OidcOutcome::none);
    EXPECT_EQ(results[1].outcome, OidcOutcome::ok) << results[1].reason;
}

}  // namespace
}  // namespace sluice
