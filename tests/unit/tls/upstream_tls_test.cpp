// The upstream client context against a server whose certificate comes from a CA the system
// store does not know (the test CA plays the role of the config's upstream ca_file).
#include "agent/tls/upstream_tls.h"

#include <gtest/gtest.h>

#include "agent/tls/certificate_authority.h"
#include "tests/unit/tls/tls_test_support.h"

namespace sluice {
namespace {

class UpstreamTls : public ::testing::Test {
protected:
    test::TempDir tmp_;
    CertificateAuthority upstream_ca_ =
        CertificateAuthority::load_or_create(tmp_.path(), {"api.openai.com"});
    std::shared_ptr<SSL_CTX> server_ctx_ = upstream_ca_.server_context_for("api.openai.com");
    // The upstream plays a server with OpenSSL's default of two TLS 1.3 tickets per full
    // handshake (sluice's own intercept context sends one).
    const bool two_tickets_ = SSL_CTX_set_num_tickets(server_ctx_.get(), 2) == 1;

    // One full connection: prepare, handshake, one read so TLS 1.3 tickets are processed.
    struct Outcome {
        bool completed = false;
        long verify_result = -1;
        bool resumed = false;
        std::string alpn;
    };
    Outcome connect(SSL_CTX* client_ctx, const std::string& host, int max_version = 0,
                    bool clean_close = true) {
        test::MemoryTlsPair pair(client_ctx, server_ctx_.get());
        if (max_version != 0) SSL_set_max_proto_version(pair.client(), max_version);
        EXPECT_TRUE(prepare_upstream_ssl(pair.client(), host));
        Outcome out;
        out.completed = pair.handshake() && pair.exchange_data();
        out.verify_result = SSL_get_verify_result(pair.client());
        out.resumed = SSL_session_reused(pair.client()) == 1;
        out.alpn = pair.client_alpn();
        if (out.completed && clean_close) pair.shutdown();
        drain_openssl_errors();
        return out;
    }
};

TEST_F(UpstreamTls, VerifiesServerSignedByExtraCaFile) {
    auto ctx = make_upstream_client_context(upstream_ca_.ca_cert_path());
    auto out = connect(ctx.get(), "api.openai.com");
    EXPECT_TRUE(out.completed);
    EXPECT_EQ(out.verify_result, X509_V_OK);
    EXPECT_EQ(out.alpn, "http/1.1");
}

TEST_F(UpstreamTls, RejectsWrongHostname) {
    auto ctx = make_upstream_client_context(upstream_ca_.ca_cert_path());
    auto out = connect(ctx.get(), "api.evil.example");
    EXPECT_FALSE(out.completed);
    EXPECT_EQ(out.verify_result, X509_V_ERR_HOSTNAME_MISMATCH);
    // A parent or child of the certified name is not the name either.
    EXPECT_EQ(connect(ctx.get(), "openai.com").verify_result, X509_V_ERR_HOSTNAME_MISMATCH);
    EXPECT_EQ(connect(ctx.get(), "x.api.openai.com").verify_result, X509_V_ERR_HOSTNAME_MISMATCH);
}

TEST_F(UpstreamTls, RejectsServerWhenCaIsOnlyInTheExtraFileAndNoFileIsGiven) {
    auto ctx = make_upstream_client_context("");
    auto out = connect(ctx.get(), "api.openai.com");
    EXPECT_FALSE(out.completed);
    EXPECT_NE(out.verify_result, X509_V_OK);
}

TEST_F(UpstreamTls, UnreadableExtraCaFileThrowsNamingIt) {
    try {
        (void)make_upstream_client_context(tmp_ / "missing.pem");
        FAIL() << "no exception";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("missing.pem"), std::string::npos) << e.what();
    }
}

TEST_F(UpstreamTls, ReconnectResumesTls13SessionAndUsesEachTicketOnce) {
    auto ctx = make_upstream_client_context(upstream_ca_.ca_cert_path());
    auto cache = upstream_session_cache(ctx.get());
    ASSERT_TRUE(cache);
    auto first = connect(ctx.get(), "api.openai.com");
    ASSERT_TRUE(first.completed);
    EXPECT_FALSE(first.resumed);
    const std::size_t tickets = cache->size("api.openai.com");
    EXPECT_GE(tickets, 1u);  // OpenSSL servers send two after a full handshake

    auto second = connect(ctx.get(), "api.openai.com");
    ASSERT_TRUE(second.completed);
    EXPECT_TRUE(second.resumed);
    EXPECT_EQ(second.verify_result, X509_V_OK);
    // One ticket consumed, and the resumed connection brought a fresh one.
    EXPECT_GE(cache->size("api.openai.com"), 1u);
}

TEST_F(UpstreamTls, UncleanCloseStillResumesWithAnotherTls13Ticket) {
    auto ctx = make_upstream_client_context(upstream_ca_.ca_cert_path());
    auto cache = upstream_session_cache(ctx.get());
    // Dropped without close_notify, as a reset or an idle kill would: OpenSSL marks the
    // connection's latest session unresumable; the cache must skip it, not offer it.
    ASSERT_TRUE(connect(ctx.get(), "api.openai.com", 0, /*clean_close=*/false).completed);
    ASSERT_EQ(cache->size("api.openai.com"), 2u);
    auto second = connect(ctx.get(), "api.openai.com");
    EXPECT_TRUE(second.completed);
    EXPECT_TRUE(second.resumed);
}

TEST_F(UpstreamTls, ReconnectResumesTls12Session) {
    auto ctx = make_upstream_client_context(upstream_ca_.ca_cert_path());
    auto cache = upstream_session_cache(ctx.get());
    ASSERT_TRUE(connect(ctx.get(), "api.openai.com", TLS1_2_VERSION).completed);
    ASSERT_EQ(cache->size("api.openai.com"), 1u);
    auto second = connect(ctx.get(), "api.openai.com", TLS1_2_VERSION);
    EXPECT_TRUE(second.completed);
    EXPECT_TRUE(second.resumed);
}

TEST_F(UpstreamTls, SessionsAreKeptPerHost) {
    auto ctx = make_upstream_client_context(upstream_ca_.ca_cert_path());
    auto cache = upstream_session_cache(ctx.get());
    ASSERT_TRUE(connect(ctx.get(), "api.openai.com").completed);
    EXPECT_EQ(cache->size("other.example"), 0u);
    EXPECT_EQ(cache->take("other.example"), nullptr);
    // A failed handshake leaves no session behind.
    EXPECT_FALSE(connect(ctx.get(), "other.example").completed);
    EXPECT_EQ(cache->size("other.example"), 0u);
}

TEST_F(UpstreamTls, SharedCacheSurvivesContextRebuild) {
    auto sessions = std::make_shared<UpstreamSessionCache>();
    {
        auto ctx = make_upstream_client_context(upstream_ca_.ca_cert_path(), sessions);
        ASSERT_TRUE(connect(ctx.get(), "api.openai.com").completed);
    }
    EXPECT_GE(sessions->size("api.openai.com"), 1u);
    auto rebuilt = make_upstream_client_context(upstream_ca_.ca_cert_path(), sessions);
    EXPECT_EQ(upstream_session_cache(rebuilt.get()), sessions);
    EXPECT_TRUE(connect(rebuilt.get(), "api.openai.com").resumed);
}

TEST_F(UpstreamTls, CacheKeepsAtMostTheCapPerHost) {
    auto sessions = std::make_shared<UpstreamSessionCache>(2);
    auto ctx = make_upstream_client_context(upstream_ca_.ca_cert_path(), sessions);
    for (int i = 0; i < 3; ++i) {
        // Full handshakes (no resumption) each deliver two tickets.
        test::MemoryTlsPair pair(ctx.get(), server_ctx_.get());
        ASSERT_TRUE(prepare_upstream_ssl(pair.client(), "api.openai.com"));
        SSL_set_session(pair.client(), nullptr);
        ASSERT_TRUE(pair.handshake() && pair.exchange_data());
        EXPECT_LE(sessions->size("api.openai.com"), 2u);
    }
    EXPECT_EQ(sessions->size("api.openai.com"), 2u);
}

TEST(UpstreamSessionCache, IgnoresSessionsThatCannotResume) {
    UpstreamSessionCache cache(2);
    SslSessionPtr empty(SSL_SESSION_new());
    cache.store("h", empty.get());
    EXPECT_EQ(cache.size("h"), 0u);
    cache.store("h", nullptr);
    EXPECT_EQ(cache.size("h"), 0u);
}

TEST(PrepareUpstreamSsl, IpLiteralGetsNoSniButIsStillChecked) {
    auto ctx = make_upstream_client_context("");
    SslPtr ssl(SSL_new(ctx.get()));
    ASSERT_TRUE(prepare_upstream_ssl(ssl.get(), "127.10.0.1"));
    EXPECT_EQ(SSL_get_servername(ssl.get(), TLSEXT_NAMETYPE_host_name), nullptr);
    SslPtr named(SSL_new(ctx.get()));
    ASSERT_TRUE(prepare_upstream_ssl(named.get(), "api.openai.com"));
    EXPECT_STREQ(SSL_get_servername(named.get(), TLSEXT_NAMETYPE_host_name), "api.openai.com");
    EXPECT_FALSE(prepare_upstream_ssl(named.get(), ""));
    EXPECT_FALSE(prepare_upstream_ssl(nullptr, "api.openai.com"));
}

}  // namespace
}  // namespace sluice
