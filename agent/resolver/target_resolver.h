// Keeps the set of intercepted (address, port) pairs current: fixed addresses from the config
// as they are, every other host looked up (A and AAAA) and refreshed by TTL on a background
// thread. Whoever programs the BPF target map subscribes with `on_change`.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "agent/config/config.h"
#include "agent/resolver/dns_lookup.h"
#include "agent/resolver/resolved_target.h"
#include "agent/resolver/target_set.h"

namespace sluice {

struct TargetResolverOptions {
    TargetSetOptions set;
    DnsLookupOptions dns;
    // Read on every pass; its entries for an intercepted host are intercepted too (expiring
    // with the next pass). "" = ignore.
    std::string hosts_file = "/etc/hosts";
    // Seams for tests; default to lookup_addresses(host, family, dns) and the system clock.
    std::function<DnsAnswer(const std::string& host, AddressFamily family)> lookup;
    std::function<std::chrono::system_clock::time_point()> clock;
};

class TargetResolver {
public:
    using ChangeCallback = std::function<void(const std::vector<ResolvedTarget>&)>;
    using TimePoint = std::chrono::system_clock::time_point;

    // Throws std::invalid_argument for a fixed address that is not an IP (the config loader
    // has already refused those, so this does not happen after start-up).
    TargetResolver(const std::vector<InterceptTarget>& targets, ChangeCallback on_change,
                   TargetResolverOptions options = {});
    ~TargetResolver();
    TargetResolver(const TargetResolver&) = delete;
    TargetResolver& operator=(const TargetResolver&) = delete;

    // Resolves every host once on the calling thread (so the first on_change has run when this
    // returns), then keeps refreshing on a background thread until stop() or destruction.
    void start();
    // Wakes and joins the thread; an in-flight lookup finishes first (bounded by DNS timeouts).
    void stop();

    // One pass: looks up every (host, family) that is due at clock(), calls on_change if the
    // set of (host, address, port) changed, and returns when the next lookup is due. start()'s
    // thread loops on this; tests call it directly with an injected clock.
    TimePoint refresh_due();

    // The current set, sorted by host, port, address. Thread-safe.
    std::vector<ResolvedTarget> snapshot() const;
    // The intercepted host `address` is held for (the first, if several share it). Thread-safe.
    std::optional<std::string> host_for_address(const IpAddress& address) const;

private:
    struct DnsHost {
        std::string name;
        std::vector<uint16_t> ports;
        TargetSet set;
        std::vector<IpAddress> from_hosts_file;
    };

    std::vector<ResolvedTarget> build(TimePoint now) const;
    void read_hosts_file();
    void run(std::stop_token stop);

    const ChangeCallback on_change_;
    TargetResolverOptions options_;
    std::vector<ResolvedTarget> fixed_;
    std::vector<DnsHost> hosts_;  // touched only by the thread running refresh_due()

    mutable std::mutex mu_;  // guards published_
    std::vector<ResolvedTarget> published_;
    bool published_once_ = false;

    std::mutex wake_mu_;
    std::condition_variable_any wake_;
    std::jthread thread_;
};

}  // namespace sluice
