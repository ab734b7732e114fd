#include "agent/tls/upstream_tls.h"

#include <arpa/inet.h>

#include <ctime>
#include <stdexcept>

namespace sluice {
namespace {

// ex_data slots: the SSL_CTX owns a heap shared_ptr to its cache, each SSL the host it dials.
// Both are freed by OpenSSL with the object, so a callback never sees a dangling pointer even
// when an SSL outlives the caller's shared_ptr<SSL_CTX>.
void free_cache_slot(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
    delete static_cast<std::shared_ptr<UpstreamSessionCache>*>(ptr);
}
void free_host_slot(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
    delete static_cast<std::string*>(ptr);
}

int cache_slot() {
    static const int index = CRYPTO_get_ex_new_index(CRYPTO_EX_INDEX_SSL_CTX, 0, nullptr, nullptr,
                                                     nullptr, free_cache_slot);
    return index;
}
int host_slot() {
    static const int index =
        CRYPTO_get_ex_new_index(CRYPTO_EX_INDEX_SSL, 0, nullptr, nullptr, nullptr, free_host_slot);
    return index;
}

int on_new_session(SSL* ssl, SSL_SESSION* session) {
    auto* host = static_cast<std::string*>(SSL_get_ex_data(ssl, host_slot()));
    auto cache = upstream_session_cache(SSL_get_SSL_CTX(ssl));
    if (host != nullptr && cache) cache->store(*host, session);
    return 0;  // we took our own reference (or none); OpenSSL keeps its own
}

bool expired(const SSL_SESSION* s, std::time_t now) {
    return SSL_SESSION_get_time(s) + SSL_SESSION_get_timeout(s) <= now;
}

bool is_ip_literal(const std::string& host) {
    unsigned char buf[16];
    return inet_pton(AF_INET, host.c_str(), buf) == 1 ||
           inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

[[noreturn]] void throw_openssl(const std::string& what) {
    throw std::runtime_error("upstream TLS context: " + what + ": " + drain_openssl_errors());
}

}  // namespace

UpstreamSessionCache::UpstreamSessionCache(std::size_t max_sessions_per_host)
    : max_sessions_per_host_(max_sessions_per_host == 0 ? 1 : max_sessions_per_host) {}

void UpstreamSessionCache::store(std::string_view host, SSL_SESSION* session) {
    if (session == nullptr || SSL_SESSION_is_resumable(session) != 1) return;
    if (SSL_SESSION_up_ref(session) != 1) return;
    SslSessionPtr owned(session);
    std::lock_guard lock(mutex_);
    auto it = sessions_.find(host);
    if (it == sessions_.end())
        it = sessions_.emplace(std::string(host), std::deque<SslSessionPtr>{}).first;
    it->second.push_front(std::move(owned));
    while (it->second.size() > max_sessions_per_host_) it->second.pop_back();
}

SslSessionPtr UpstreamSessionCache::take(std::string_view host) {
    const std::time_t now = std::time(nullptr);
    std::lock_guard lock(mutex_);
    auto it = sessions_.find(host);
    if (it == sessions_.end()) return nullptr;
    auto& queue = it->second;
    while (!queue.empty()) {
        // OpenSSL marks a session unresumable when its connection is freed without
        // close_notify; the TLS 1.3 tickets that came with it are still good.
        if (expired(queue.front().get(), now) ||
            SSL_SESSION_is_resumable(queue.front().get()) != 1) {
            queue.pop_front();
            continue;
        }
        if (SSL_SESSION_get_protocol_version(queue.front().get()) >= TLS1_3_VERSION) {
            SslSessionPtr out = std::move(queue.front());
            queue.pop_front();
            return out;
        }
        SSL_SESSION_up_ref(queue.front().get());
        return SslSessionPtr(queue.front().get());
    }
    sessions_.erase(it);
    return nullptr;
}

std::size_t UpstreamSessionCache::size(std::string_view host) const {
    std::lock_guard lock(mutex_);
    auto it = sessions_.find(host);
    return it == sessions_.end() ? 0 : it->second.size();
}

void UpstreamSessionCache::clear() {
    std::lock_guard lock(mutex_);
    sessions_.clear();
}

std::shared_ptr<SSL_CTX> make_upstream_client_context(
    const std::string& extra_ca_file, std::shared_ptr<UpstreamSessionCache> sessions) {
    SSL_CTX* raw = SSL_CTX_new(TLS_client_method());
    if (raw == nullptr) throw_openssl("SSL_CTX_new");
    auto ctx = adopt_ssl_ctx(raw);

    if (SSL_CTX_set_min_proto_version(raw, TLS1_2_VERSION) != 1) throw_openssl("min version");
    SSL_CTX_set_options(raw, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_mode(raw, SSL_MODE_RELEASE_BUFFERS);  // pooled idle connections hold no buffers
    if (SSL_CTX_set_default_verify_paths(raw) != 1) throw_openssl("system trust store");
    if (!extra_ca_file.empty() &&
        SSL_CTX_load_verify_locations(raw, extra_ca_file.c_str(), nullptr) != 1) {
        throw std::runtime_error("cannot load upstream CA file " + extra_ca_file + ": " +
                                 drain_openssl_errors());
    }
    SSL_CTX_set_verify(raw, SSL_VERIFY_PEER, nullptr);

    static constexpr unsigned char kAlpn[] = "\x08http/1.1";
    // Unlike most of OpenSSL, set_alpn_protos returns 0 on success.
    if (SSL_CTX_set_alpn_protos(raw, kAlpn, sizeof kAlpn - 1) != 0) throw_openssl("ALPN");

    // Sessions live in our cache keyed by host, not OpenSSL's internal one (which the client
    // side never consults by itself anyway).
    SSL_CTX_set_session_cache_mode(raw, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(raw, on_new_session);
    if (!sessions) sessions = std::make_shared<UpstreamSessionCache>();
    auto* slot = new std::shared_ptr<UpstreamSessionCache>(std::move(sessions));
    if (SSL_CTX_set_ex_data(raw, cache_slot(), slot) != 1) {
        delete slot;
        throw_openssl("session cache slot");
    }
    return ctx;
}

std::shared_ptr<UpstreamSessionCache> upstream_session_cache(SSL_CTX* ctx) {
    if (ctx == nullptr) return nullptr;
    auto* slot =
        static_cast<std::shared_ptr<UpstreamSessionCache>*>(SSL_CTX_get_ex_data(ctx, cache_slot()));
    return slot == nullptr ? nullptr : *slot;
}

bool prepare_upstream_ssl(SSL* ssl, const std::string& host) {
    if (ssl == nullptr || host.empty() || host.find('\0') != std::string::npos) return false;
    const bool ip = is_ip_literal(host);
    // RFC 6066 §3: literal IPv4 and IPv6 addresses are not permitted in SNI.
    if (!ip && SSL_set_tlsext_host_name(ssl, host.c_str()) != 1) return false;
    // mitmproxy's choice too: never fall back to the subject CN, no partial wildcards.
    SSL_set_hostflags(ssl,
                      X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
    // SSL_set1_host takes an IP literal as an IP to match against iPAddress SANs.
    if (SSL_set1_host(ssl, host.c_str()) != 1) return false;

    auto* previous = static_cast<std::string*>(SSL_get_ex_data(ssl, host_slot()));
    auto* owned_host = new std::string(host);
    if (SSL_set_ex_data(ssl, host_slot(), owned_host) != 1) {
        delete owned_host;
        return false;
    }
    delete previous;  // prepared twice
    if (auto cache = upstream_session_cache(SSL_get_SSL_CTX(ssl))) {
        if (SslSessionPtr session = cache->take(host)) {
            // A stale or mismatching session only costs a full handshake.
            SSL_set_session(ssl, session.get());
        }
    }
    return true;
}

}  // namespace sluice
