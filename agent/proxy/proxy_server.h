// The proxy listener: accepts redirected connections on the configured address (IPv4) and on
// ::1 at the same port (IPv6 redirects), over one worker thread per core.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "agent/common/unique_fd.h"
#include "agent/proxy/proxy_context.h"

namespace sluice {

class ProxyWorker;

class ProxyServer {
public:
    ProxyServer(ProxyContext& context, unsigned threads);
    ~ProxyServer();

    // Binds every listener (throws std::runtime_error naming the address) and starts serving.
    void start();
    // Stops accepting; sessions in flight finish up to limits::kShutdownDrainDeadline.
    void stop();
    uint64_t active_sessions() const;
    // Serves listening sockets sluiced opened in another network namespace (one worker takes
    // all of a namespace's listeners, round robin over workers), until drop_namespace().
    void adopt_namespace(uint64_t netns_cookie, std::vector<UniqueFd> listeners);
    void drop_namespace(uint64_t netns_cookie);
    // Watchdog: whether every worker's event loop took the beat posted by the previous call
    // (so each turned since then); posts the next beat. The first call is always true.
    bool workers_responsive();
    // Each worker's event loop, for services that keep a connection per worker (the shared
    // state store). They are destroyed with the server.
    std::vector<boost::asio::io_context*> worker_loops();

private:
    ProxyContext& context_;
    std::vector<std::unique_ptr<ProxyWorker>> workers_;
    uint64_t beat_ = 0;
    std::mutex namespaces_mu_;
    std::map<uint64_t, size_t> namespace_worker_;  // which worker serves each namespace
    size_t next_worker_ = 0;
};

}  // namespace sluice
