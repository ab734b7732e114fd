// Real TLS handshakes (OpenSSL client ↔ sluice's intercept context) over memory BIOs.
#include "agent/tls/server_context.h"

#include <gtest/gtest.h>

#include "agent/tls/certificate_authority.h"
#include "agent/tls/client_hello_peek.h"
#include "tests/unit/tls/tls_test_support.h"

namespace sluice {
namespace {

class InterceptHandshake : public ::testing::Test {
protected:
    test::TempDir tmp_;
    CertificateAuthority ca_ =
        CertificateAuthority::load_or_create(tmp_.path(), {"api.openai.com"});
    std::shared_ptr<SSL_CTX> client_ctx_ = test::make_client_context_trusting(ca_.ca_cert_path());

    // A client the way curl or an SDK sets one up: SNI, hostname check, ALPN offer.
    void configure_client(SSL* ssl, const std::vector<std::string>& alpn) {
        SSL_set_tlsext_host_name(ssl, "api.openai.com");
        SSL_set1_host(ssl, "api.openai.com");
        if (!alpn.empty()) {
            auto wire = test::alpn_wire(alpn);
            SSL_set_alpn_protos(ssl, wire.data(), static_cast<unsigned>(wire.size()));
        }
    }
};

TEST_F(InterceptHandshake, ClientTrustingCaCompletesTls13WithHttp11) {
    auto server_ctx = ca_.server_context_for("api.openai.com");
    ASSERT_TRUE(server_ctx);
    test::MemoryTlsPair pair(client_ctx_.get(), server_ctx.get());
    configure_client(pair.client(), {"h2", "http/1.1"});
    ASSERT_TRUE(pair.handshake()) << drain_openssl_errors();
    EXPECT_EQ(SSL_get_verify_result(pair.client()), X509_V_OK);
    EXPECT_EQ(SSL_version(pair.client()), TLS1_3_VERSION);
    EXPECT_EQ(pair.client_alpn(), "http/1.1");
    // The chain on the wire is leaf + CA.
    EXPECT_EQ(sk_X509_num(SSL_get_peer_cert_chain(pair.client())), 2);
    EXPECT_TRUE(pair.exchange_data());
}

// The server picks AES-128-GCM-SHA256 under TLS 1.3 even when the client lists AES-256 first
// (OpenSSL clients do): cheaper records and key schedule, the suite TLS 1.3 makes mandatory.
TEST_F(InterceptHandshake, Tls13PrefersAes128Gcm) {
    auto server_ctx = ca_.server_context_for("api.openai.com");
    test::MemoryTlsPair pair(client_ctx_.get(), server_ctx.get());
    SSL_set_ciphersuites(
        pair.client(),
        "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256");
    configure_client(pair.client(), {"http/1.1"});
    ASSERT_TRUE(pair.handshake()) << drain_openssl_errors();
    EXPECT_STREQ(SSL_get_cipher_name(pair.client()), "TLS_AES_128_GCM_SHA256");
    // A client that does not offer it still gets served.
    test::MemoryTlsPair other(client_ctx_.get(), server_ctx.get());
    SSL_set_ciphersuites(other.client(), "TLS_CHACHA20_POLY1305_SHA256");
    configure_client(other.client(), {"http/1.1"});
    ASSERT_TRUE(other.handshake()) << drain_openssl_errors();
    EXPECT_STREQ(SSL_get_cipher_name(other.client()), "TLS_CHACHA20_POLY1305_SHA256");
}

TEST_F(InterceptHandshake, Tls12ClientIsServedToo) {
    auto server_ctx = ca_.server_context_for("api.openai.com");
    test::MemoryTlsPair pair(client_ctx_.get(), server_ctx.get());
    SSL_set_max_proto_version(pair.client(), TLS1_2_VERSION);
    configure_client(pair.client(), {"http/1.1"});
    ASSERT_TRUE(pair.handshake()) << drain_openssl_errors();
    EXPECT_EQ(SSL_version(pair.client()), TLS1_2_VERSION);
    EXPECT_EQ(pair.client_alpn(), "http/1.1");
    EXPECT_NE(std::string(SSL_get_cipher_name(pair.client())).find("ECDHE-ECDSA"),
              std::string::npos);
}

TEST_F(InterceptHandshake, H2OnlyClientGetsNoAlpnAndFallsBackToHttp11) {
    auto server_ctx = ca_.server_context_for("api.openai.com");
    test::MemoryTlsPair pair(client_ctx_.get(), server_ctx.get());
    configure_client(pair.client(), {"h2"});
    ASSERT_TRUE(pair.handshake()) << drain_openssl_errors();
    EXPECT_EQ(pair.client_alpn(), "");
}

TEST_F(InterceptHandshake, ClientWithoutAlpnIsServed) {
    auto server_ctx = ca_.server_context_for("api.openai.com");
    test::MemoryTlsPair pair(client_ctx_.get(), server_ctx.get());
    configure_client(pair.client(), {});
    ASSERT_TRUE(pair.handshake());
    EXPECT_EQ(pair.client_alpn(), "");
}

TEST_F(InterceptHandshake, Tls11ClientIsRefused) {
    auto server_ctx = ca_.server_context_for("api.openai.com");
    test::MemoryTlsPair pair(client_ctx_.get(), server_ctx.get());
    SSL_set_security_level(pair.client(), 0);
    SSL_set_min_proto_version(pair.client(), TLS1_1_VERSION);
    SSL_set_max_proto_version(pair.client(), TLS1_1_VERSION);
    configure_client(pair.client(), {"http/1.1"});
    EXPECT_FALSE(pair.handshake());
    drain_openssl_errors();
}

TEST_F(InterceptHandshake, ClientNotTrustingTheCaRejectsTheLeaf) {
    auto server_ctx = ca_.server_context_for("api.openai.com");
    auto untrusting = adopt_ssl_ctx(SSL_CTX_new(TLS_client_method()));
    SSL_CTX_set_verify(untrusting.get(), SSL_VERIFY_PEER, nullptr);
    test::MemoryTlsPair pair(untrusting.get(), server_ctx.get());
    configure_client(pair.client(), {"http/1.1"});
    EXPECT_FALSE(pair.handshake());
    EXPECT_NE(SSL_get_verify_result(pair.client()), X509_V_OK);
    drain_openssl_errors();
}

// The proxy's flow: hold the client's first bytes, read SNI from them, pick the context, then
// replay exactly those bytes into the server side.
TEST_F(InterceptHandshake, PeekedClientHelloIsReplayedIntoTheChosenContext) {
    test::MemoryTlsPair pair(client_ctx_.get(), nullptr);
    configure_client(pair.client(), {"h2", "http/1.1"});
    EXPECT_FALSE(pair.handshake(1));  // first flight only
    auto peeked = pair.pending_from_client();
    auto hello = parse_client_hello(peeked);
    ASSERT_EQ(hello.status, ClientHelloStatus::ok);
    ASSERT_TRUE(hello.sni);
    auto server_ctx = ca_.server_context_for(*hello.sni);
    ASSERT_TRUE(server_ctx);
    pair.set_server(server_ctx.get());
    ASSERT_TRUE(pair.handshake()) << drain_openssl_errors();
    EXPECT_EQ(pair.client_alpn(), "http/1.1");
}

// Resumption is by ticket alone (the server keeps no session store), under TLS 1.3 and 1.2.
TEST_F(InterceptHandshake, ResumptionWorksAgainstTheCachedContext) {
    for (const int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
        auto server_ctx = ca_.server_context_for("api.openai.com");
        SSL_SESSION* session = nullptr;
        {
            test::MemoryTlsPair pair(client_ctx_.get(), server_ctx.get());
            SSL_set_max_proto_version(pair.client(), version);
            configure_client(pair.client(), {"http/1.1"});
            ASSERT_TRUE(pair.handshake());
            ASSERT_TRUE(pair.exchange_data());  // receive the ticket
            pair.shutdown();
            session = SSL_get1_session(pair.client());
        }
        SslSessionPtr owned(session);
        ASSERT_TRUE(owned);
        test::MemoryTlsPair again(client_ctx_.get(),
                                  ca_.server_context_for("api.openai.com").get());
        SSL_set_max_proto_version(again.client(), version);
        configure_client(again.client(), {"http/1.1"});
        SSL_set_session(again.client(), owned.get());
        ASSERT_TRUE(again.handshake());
        EXPECT_EQ(SSL_session_reused(again.client()), 1) << version;
        EXPECT_EQ(SSL_CTX_sess_number(server_ctx.get()), 0) << "no server-side session store";
    }
}

// One ticket per full handshake, not OpenSSL's default two (each costs the server an
// encryption and a record).
TEST_F(InterceptHandshake, OneTicketPerHandshake) {
    static int tickets = 0;
    tickets = 0;
    SSL_CTX_set_session_cache_mode(client_ctx_.get(),
                                   SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(client_ctx_.get(), [](SSL*, SSL_SESSION*) {
        ++tickets;
        return 0;  // not kept
    });
    auto server_ctx = ca_.server_context_for("api.openai.com");
    test::MemoryTlsPair pair(client_ctx_.get(), server_ctx.get());
    configure_client(pair.client(), {"http/1.1"});
    ASSERT_TRUE(pair.handshake());
    ASSERT_TRUE(pair.exchange_data());
    EXPECT_EQ(tickets, 1);
}

}  // namespace
}  // namespace sluice
