// What sluiced tells the service manager (systemd, Type=notify): ready once programs are attached
// and the listener accepts, stopping, and a watchdog ping. Outside systemd (NOTIFY_SOCKET unset:
// scripts/run, tests) every call does nothing.
#pragma once

#include <chrono>
#include <optional>

namespace sluice {

class ServiceManager {
public:
    ServiceManager();

    void notify_ready() const;
    void notify_stopping() const;
    // One watchdog ping; call only when every proxy thread has shown it is alive.
    void ping_watchdog() const;
    // How often to ping: half of WatchdogSec=, or nothing when no watchdog is set.
    std::optional<std::chrono::microseconds> watchdog_ping_interval() const {
        return ping_interval_;
    }

private:
    std::optional<std::chrono::microseconds> ping_interval_;
};

}  // namespace sluice
