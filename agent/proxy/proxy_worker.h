// One proxy thread: its own io_context, listeners (SO_REUSEPORT, so the kernel spreads
// connections over workers), upstream pool and TLS contexts. Nothing here is shared between
// workers, so the data path takes no locks.
#pragma once

#include <atomic>
#include <exception>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "agent/common/unique_fd.h"
#include "agent/proxy/proxy_context.h"
#include "agent/upstream/upstream_hosts.h"
#include "agent/upstream/upstream_pool.h"

namespace sluice {

class ProxyWorker {
public:
    ProxyWorker(ProxyContext& context, const std::vector<boost::asio::ip::tcp::endpoint>& listen);
    ~ProxyWorker();

    void start();
    void stop_accepting();
    void join();
    // Accepts on listening sockets opened in another network namespace (`netns_cookie`), until
    // drop_namespace(); thread-safe (posted to this worker's loop).
    void adopt_namespace(uint64_t netns_cookie, std::vector<UniqueFd> listeners);
    void drop_namespace(uint64_t netns_cookie);
    // The namespace of this worker's own listeners (the host's).
    uint64_t host_netns_cookie() const { return host_netns_cookie_; }

    ProxyContext& context() { return context_; }
    boost::asio::io_context& io() { return io_; }
    // An intercepted host's upstream as this worker sees it: the host (key, config) and this
    // worker's pool of connections to it.
    struct HostUpstream {
        UpstreamHost* host = nullptr;
        std::unique_ptr<boost::asio::ssl::context> tls;
        std::unique_ptr<UpstreamPool> pool;
    };
    // nullptr when the config gives `host` no upstream.
    HostUpstream* upstream_for(const std::string& host);
    // The asio wrapper for the CA's context for `sni`, or nullptr if not intercepted.
    boost::asio::ssl::context* server_context(const std::string& sni);
    // This thread's memo of processes that connected within the last second.
    RecentIdentities& recent_identities() { return recent_identities_; }
    uint64_t active_sessions() const { return active_sessions_; }
    void session_started() { ++active_sessions_; }
    void session_ended() { --active_sessions_; }
    // Watchdog: the main thread posts a numbered beat; this worker's event loop records it when
    // it gets to it, so a wedged loop shows as a beat not taken.
    void post_heartbeat(uint64_t beat);
    uint64_t last_heartbeat() const { return heartbeat_.load(std::memory_order_relaxed); }

private:
    struct ServerContext {
        std::shared_ptr<SSL_CTX> native;
        std::unique_ptr<boost::asio::ssl::context> wrapped;
    };

    ProxyContext& context_;
    boost::asio::io_context io_{1};
    std::vector<std::shared_ptr<boost::asio::ip::tcp::acceptor>> acceptors_;
    uint64_t host_netns_cookie_ = 0;
    // Listeners in other namespaces, by namespace; touched on this worker's thread only.
    std::map<uint64_t, std::vector<std::shared_ptr<boost::asio::ip::tcp::acceptor>>>
        namespace_acceptors_;
    std::map<std::string, HostUpstream> upstreams_;
    RecentIdentities recent_identities_;
    std::map<std::string, ServerContext> server_contexts_;
    std::atomic<uint64_t> active_sessions_{0};
    std::atomic<uint64_t> heartbeat_{0};
    std::thread thread_;
};

// The completion handler of a connection's coroutines (co_spawn): logs the exception that
// ended one, if any (the last-resort catch at the top of each session).
void report_session_error(std::exception_ptr error);

// Wraps an SSL_CTX (shared) in the asio type without taking the caller's reference.
std::unique_ptr<boost::asio::ssl::context> wrap_ssl_context(const std::shared_ptr<SSL_CTX>& ctx);

}  // namespace sluice
