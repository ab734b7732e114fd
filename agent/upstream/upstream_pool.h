// Upstream TLS connections: dialled with sluiced's bypass mark, verified against the upstream
// host name, kept alive and reused, and resumed from cached sessions, so a client that opens a
// new connection per request does not cost a new upstream handshake.
// One pool per proxy worker thread; not thread-safe by design (no locks on the data path).
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "agent/tls/tls_stream.h"

namespace sluice {

// OpenSSL on the socket directly (agent/tls/tls_stream.h): no per-connection copy buffers while
// a connection sits idle in the pool, and no per-operation timer; the session's
// ConnectionDeadline watches the leased socket.
using UpstreamStream = TlsStream;

struct UpstreamEndpoint {
    boost::asio::ip::tcp::endpoint address;
    std::string host;  // SNI and the name the certificate must carry
    bool operator<(const UpstreamEndpoint& other) const {
        return address != other.address ? address < other.address : host < other.host;
    }
};

struct UpstreamTimeouts {
    std::chrono::milliseconds connect{10'000};
    std::chrono::milliseconds read{600'000};
};

// Why acquiring an upstream connection failed, mapped to 502/504 by the proxy.
enum class UpstreamFailure { none, unreachable, timeout, tls };

struct UpstreamLease {
    std::unique_ptr<UpstreamStream> stream;
    bool reused = false;
    UpstreamFailure failure = UpstreamFailure::none;
    std::string error;  // for the audit and log; never holds request data
};

struct UpstreamPoolStats {
    uint64_t connects = 0;
    uint64_t reuses = 0;
    uint64_t resumed_handshakes = 0;
    uint64_t failures = 0;
};

class UpstreamPool {
public:
    // `client_context` owns the SSL_CTX (verification store, ALPN, session cache mode).
    UpstreamPool(boost::asio::any_io_executor executor, boost::asio::ssl::context& client_context,
                 UpstreamTimeouts timeouts);

    boost::asio::awaitable<UpstreamLease> acquire(const UpstreamEndpoint& endpoint);
    // Returns a connection whose last exchange completed cleanly and may be reused.
    void release(const UpstreamEndpoint& endpoint, std::unique_ptr<UpstreamStream> stream);
    const UpstreamPoolStats& stats() const { return stats_; }
    const UpstreamTimeouts& timeouts() const { return timeouts_; }

private:
    struct IdleConnection {
        std::unique_ptr<UpstreamStream> stream;
        std::chrono::steady_clock::time_point since;
    };
    struct SessionDeleter {
        void operator()(SSL_SESSION* s) const { SSL_SESSION_free(s); }
    };

    boost::asio::awaitable<UpstreamLease> connect(const UpstreamEndpoint& endpoint);
    void remember_session(const UpstreamEndpoint& endpoint, SSL* ssl);
    // While connections sit idle, a sweep every kUpstreamSweepInterval closes those past the
    // idle timeout and those the upstream has closed (CLOSE-WAIT): without it they stayed open
    // until the next request for that endpoint, holding a descriptor each.
    void schedule_sweep();
    void sweep();

    boost::asio::any_io_executor executor_;
    boost::asio::ssl::context& client_context_;
    UpstreamTimeouts timeouts_;
    std::map<UpstreamEndpoint, std::vector<IdleConnection>> idle_;
    std::map<UpstreamEndpoint, std::unique_ptr<SSL_SESSION, SessionDeleter>> sessions_;
    UpstreamPoolStats stats_;
    boost::asio::steady_timer sweep_timer_;
    bool sweep_scheduled_ = false;
};

// True when an idle connection has been closed or has sent something unexpected: not reusable.
bool idle_connection_is_stale(int fd);

}  // namespace sluice
