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

private:
    ProxyContext& context_;
    std::vector<std::unique_ptr<ProxyWorker>> workers_;
};

}  // namespace sluice
