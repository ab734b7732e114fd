// Serves GET /metrics (Prometheus text format) on its own thread and event loop, so scrapes
// never run on a proxy worker. One request per connection, a 5 s deadline and an 8 KiB head
// limit; anything but GET or HEAD /metrics gets 404/405. Whoever can reach the address can
// read the metrics (no identities, only counts): it listens on loopback unless the config says
// otherwise (docs/metrics.md).
#pragma once

#include <functional>
#include <string>

#include "agent/common/server_thread.h"
#include "agent/config/config.h"

namespace sluice {

class MetricsServer {
public:
    MetricsServer(HostPort listen, std::function<std::string()> render);
    ~MetricsServer();
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;

    // Binds and starts serving; throws std::runtime_error naming the address when it cannot.
    void start();
    void stop();
    uint16_t port() const { return server_.port(); }

private:
    HostPort listen_;
    std::function<std::string()> render_;
    ServerThread server_;
};

}  // namespace sluice
