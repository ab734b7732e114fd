#include "agent/daemon/service_manager.h"

#include <systemd/sd-daemon.h>

namespace sluice {

ServiceManager::ServiceManager() {
    uint64_t watchdog_usec = 0;
    // unset_environment = 0: the variables describe this process only; no child is started.
    if (sd_watchdog_enabled(0, &watchdog_usec) > 0 && watchdog_usec > 0)
        ping_interval_ = std::chrono::microseconds(watchdog_usec / 2);
}

void ServiceManager::notify_ready() const { sd_notify(0, "READY=1\nSTATUS=enforcing"); }

void ServiceManager::notify_stopping() const { sd_notify(0, "STOPPING=1"); }

void ServiceManager::ping_watchdog() const { sd_notify(0, "WATCHDOG=1"); }

}  // namespace sluice
