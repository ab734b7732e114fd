// The proxy listener: accepts redirected connections on the configured address (IPv4) and on
// ::1 at the same port (IPv6 redirects), over one worker thread per core.
#pragma once

#include <memory>
#include <vector>

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
    // Watchdog: whether every worker's event loop took the beat posted by the previous call
    // (so each turned since then); posts the next beat. The first call is always true.
    bool workers_responsive();

private:
    ProxyContext& context_;
    std::vector<std::unique_ptr<ProxyWorker>> workers_;
    uint64_t beat_ = 0;
};

}  // namespace sluice
