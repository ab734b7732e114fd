// Ships audit lines to collectors (audit.ship: syslog and/or OTLP), off the data path: the
// audit writer hands over each batch it has written to the local file (which stays the source
// of truth), already sealed into the hash chain, so a collector receives the chain fields and
// can verify what it got (`sluicectl audit verify` on what rsyslog wrote).
//
// Per destination: the lines go to a bounded on-disk spool (audit_spool.h), and a thread of
// its own sends them in batches, in order, retrying with backoff (0.2 s doubling to 30 s)
// while the collector is away; nothing is lost while the spool has room. Past the spool's
// bound, failure_mode decides: closed keeps every line and reports unhealthy (new requests are
// refused, as when the audit file cannot be written); open drops the oldest lines and counts
// them, and the daemon audits each drop.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "agent/audit_shipping/audit_spool.h"
#include "agent/audit_shipping/collector_sender.h"

namespace sluice {

struct ShipDestination {
    std::string name;  // "syslog" or "otlp": names its spool files and its status
    std::string url;
    std::unique_ptr<CollectorSender> sender;
};

struct AuditShipperOptions {
    std::string spool_dir;
    uint64_t spool_max_bytes = 1ull << 30;
    std::size_t batch_records = 500;
    bool fail_closed = true;
};

class AuditShipper {
public:
    // Opens each destination's spool; throws std::runtime_error naming a spool it cannot.
    AuditShipper(AuditShipperOptions options, std::vector<ShipDestination> destinations);
    ~AuditShipper();
    AuditShipper(const AuditShipper&) = delete;
    AuditShipper& operator=(const AuditShipper&) = delete;

    void start();
    void stop();

    // Lines just written to the audit file ('\n'-terminated); called on the writer thread.
    void ship(std::string_view lines);
    // False while failure_mode is closed and a spool is past its bound or cannot be written.
    bool healthy() const { return healthy_.load(std::memory_order_acquire); }
    // Lines dropped (failure_mode open) since the last call, per destination, for the audit.
    std::vector<std::pair<std::string, uint64_t>> take_dropped();
    nlohmann::json status_json() const;
    uint64_t pending_bytes() const;

private:
    struct Lane;
    void run(Lane& lane);
    void update_health();

    AuditShipperOptions options_;
    std::vector<std::unique_ptr<Lane>> lanes_;
    std::atomic<bool> healthy_{true};
    std::atomic<bool> stopping_{false};
};

}  // namespace sluice
