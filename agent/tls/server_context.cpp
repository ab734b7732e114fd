#include "agent/tls/server_context.h"

#include <stdexcept>
#include <string>
#include <string_view>

namespace sluice {
namespace {

constexpr std::string_view kHttp11 = "http/1.1";

[[noreturn]] void throw_openssl(const char* what) {
    throw std::runtime_error(std::string("TLS server context: ") + what + ": " +
                             drain_openssl_errors());
}

// RFC 7301 §3.2: pick http/1.1 if offered; otherwise answer without ALPN rather than with a
// fatal no_application_protocol alert, so h2-only clients fall back to HTTP/1.1.
int select_http11(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                  unsigned int inlen, void*) {
    unsigned int pos = 0;
    while (pos < inlen) {
        unsigned int len = in[pos];
        if (len == 0 || len > inlen - pos - 1) break;
        std::string_view proto(reinterpret_cast<const char*>(in + pos + 1), len);
        if (proto == kHttp11) {
            *out = in + pos + 1;
            *outlen = static_cast<unsigned char>(len);
            return SSL_TLSEXT_ERR_OK;
        }
        pos += 1 + len;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

}  // namespace

std::shared_ptr<SSL_CTX> make_intercept_server_context(X509* leaf, EVP_PKEY* leaf_key, X509* ca) {
    SSL_CTX* raw = SSL_CTX_new(TLS_server_method());
    if (raw == nullptr) throw_openssl("SSL_CTX_new");
    auto ctx = adopt_ssl_ctx(raw);

    if (SSL_CTX_set_min_proto_version(raw, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(raw, TLS1_3_VERSION) != 1) {
        throw_openssl("protocol versions");
    }
    SSL_CTX_set_options(
        raw, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    // Idle keep-alive connections give OpenSSL's record buffers back: with them released, an
    // idle connection's ~15 KiB is mostly OpenSSL's own per-connection state
    // (docs/benchmarks.md, memory per idle connection).
    SSL_CTX_set_mode(raw, SSL_MODE_RELEASE_BUFFERS);
    // The leaf is ECDSA, so only ECDSA suites can ever be chosen under TLS 1.2. Under TLS 1.3,
    // AES-128-GCM with SHA-256 first (TLS 1.3's mandatory suite, as Go and BoringSSL servers
    // prefer it): OpenSSL's default order puts AES-256-GCM with SHA-384 first, which costs more
    // per record and in the handshake's key schedule for no security a local hop needs.
    if (SSL_CTX_set_cipher_list(raw,
                                "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
                                "ECDHE-ECDSA-CHACHA20-POLY1305") != 1) {
        throw_openssl("cipher list");
    }
    if (SSL_CTX_set_ciphersuites(
            raw, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256") != 1)
        throw_openssl("TLS 1.3 suites");
    if (SSL_CTX_set1_groups_list(raw, "X25519:P-256:P-384") != 1) throw_openssl("groups");

    if (SSL_CTX_use_certificate(raw, leaf) != 1) throw_openssl("leaf certificate");
    if (SSL_CTX_use_PrivateKey(raw, leaf_key) != 1) throw_openssl("leaf key");
    if (SSL_CTX_check_private_key(raw) != 1) throw_openssl("leaf key does not match");
    // Sending the root too costs a few hundred bytes and helps clients that look for it.
    if (SSL_CTX_add1_chain_cert(raw, ca) != 1) throw_openssl("CA chain");

    // Resumption is by session ticket only (stateless): no server-side session store, which
    // cost a locked hash insert per handshake, a sweep of the whole store every 255, and up to
    // 20,000 cached sessions of memory. One ticket per handshake instead of OpenSSL's two:
    // each is a session encoding, an encryption and a record (docs/benchmarks.md, handshakes).
    SSL_CTX_set_session_cache_mode(raw, SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_INTERNAL_STORE |
                                            SSL_SESS_CACHE_NO_AUTO_CLEAR);
    if (SSL_CTX_set_num_tickets(raw, 1) != 1) throw_openssl("session tickets");
    static constexpr unsigned char kSessionIdContext[] = "sluice";
    if (SSL_CTX_set_session_id_context(raw, kSessionIdContext, sizeof kSessionIdContext - 1) != 1) {
        throw_openssl("session id context");
    }
    SSL_CTX_set_alpn_select_cb(raw, select_http11, nullptr);
    return ctx;
}

}  // namespace sluice
