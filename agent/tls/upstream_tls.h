// The TLS client side towards the real upstream: verified against the system trust store (plus
// an optional extra CA bundle from config), hostname-checked, and resuming sessions so pooled
// reconnects skip the full handshake.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "agent/tls/openssl_handles.h"

namespace sluice {

// Resumable sessions per upstream host. TLS 1.3 tickets arrive after the handshake, so sessions
// are collected by the context's new-session callback, not after SSL_connect.
// TLS 1.3 sessions are handed out once (RFC 8446 §C.4: a ticket reused across connections lets
// them be linked); TLS 1.2 sessions stay until they expire or are replaced. Thread-safe.
// OpenSSL marks a connection's current session unresumable when the SSL is freed without
// having sent close_notify, so callers should SSL_shutdown() upstream connections they retire;
// take() skips sessions so marked.
class UpstreamSessionCache {
public:
    static constexpr std::size_t kDefaultSessionsPerHost = 4;

    explicit UpstreamSessionCache(std::size_t max_sessions_per_host = kDefaultSessionsPerHost);

    // Keeps its own reference to `session` if it is resumable; drops the oldest beyond the cap.
    void store(std::string_view host, SSL_SESSION* session);
    // The newest unexpired session for `host`, or nullptr.
    [[nodiscard]] SslSessionPtr take(std::string_view host);
    std::size_t size(std::string_view host) const;
    void clear();

private:
    const std::size_t max_sessions_per_host_;
    mutable std::mutex mutex_;
    std::map<std::string, std::deque<SslSessionPtr>, std::less<>>
        sessions_;  // guarded, newest first
};

// A client context for upstream connections: TLS 1.2+, peer verification against the system
// default store plus `extra_ca_file` (PEM bundle; "" = none), ALPN http/1.1, client session
// cache feeding `sessions` (a new cache if null; reachable later via upstream_session_cache()).
// Throws std::runtime_error naming the file if `extra_ca_file` cannot be loaded.
std::shared_ptr<SSL_CTX> make_upstream_client_context(
    const std::string& extra_ca_file, std::shared_ptr<UpstreamSessionCache> sessions = nullptr);

// The session cache a context from make_upstream_client_context feeds (nullptr for others).
std::shared_ptr<UpstreamSessionCache> upstream_session_cache(SSL_CTX* ctx);

// Prepares a fresh SSL from such a context to connect to `host`: SNI (not for IP literals),
// certificate name check against `host` (SAN only, no partial wildcards; IP literals as IPs),
// and a cached session to resume, if any. Returns false if `host` is empty or OpenSSL refuses.
[[nodiscard]] bool prepare_upstream_ssl(SSL* ssl, const std::string& host);

}  // namespace sluice
