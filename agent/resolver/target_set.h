// The addresses of one intercepted host, kept by DNS TTL. Pure: callers pass answers and the
// time; nothing here reads a clock or a socket.
//
// Rules (why in brackets):
//  - a record's TTL is clamped to [min_ttl, max_ttl] (a 0-5 s TTL would have us query all the
//    time; a day-long one would miss a move for a day);
//  - an address that drops out of an answer stays for `grace` after it dropped out, and at
//    least until its old TTL ran out (clients, Java's InetAddress cache above all, keep using
//    addresses past their TTL; dropping it at once would let those connections bypass us);
//  - a failed lookup (timeout, SERVFAIL, NXDOMAIN) changes nothing but the retry time, with
//    exponential backoff (a resolver outage must not empty the set: fail closed).
#pragma once

#include <chrono>
#include <map>
#include <vector>

#include "agent/resolver/dns_lookup.h"
#include "agent/resolver/resolved_target.h"

namespace sluice {

struct TargetSetOptions {
    std::chrono::seconds min_ttl{30};
    std::chrono::seconds max_ttl{3600};
    std::chrono::seconds grace{600};
    std::chrono::seconds initial_backoff{1};
    std::chrono::seconds max_backoff{60};
};

class TargetSet {
public:
    using TimePoint = std::chrono::system_clock::time_point;

    struct TrackedAddress {
        IpAddress addr{};
        TimePoint expires;
        bool superseded = false;  // DNS no longer returns it; kept for the grace period

        friend bool operator==(const TrackedAddress&, const TrackedAddress&) = default;
    };

    explicit TargetSet(TargetSetOptions options = {});

    // Feeds one lookup's outcome for one family.
    void apply(AddressFamily family, const DnsAnswer& answer, TimePoint now);

    // Addresses held at `now` (both families, sorted by address), superseded ones included
    // until their grace period ends.
    std::vector<TrackedAddress> current(TimePoint now) const;

    // When `family` should be looked up again (epoch = right away: never asked yet).
    TimePoint next_refresh(AddressFamily family) const;
    unsigned consecutive_failures(AddressFamily family) const;

private:
    struct Entry {
        TimePoint expires;
        bool superseded = false;
    };
    struct FamilyState {
        std::map<IpAddress, Entry> entries;
        TimePoint refresh_at{};
        unsigned failures = 0;
    };

    FamilyState& state(AddressFamily family);
    const FamilyState& state(AddressFamily family) const;
    std::chrono::seconds clamp_ttl(uint32_t ttl_s) const;
    void apply_success(FamilyState& fs, const DnsAnswer& answer, TimePoint now);
    void apply_failure(FamilyState& fs, TimePoint now);

    TargetSetOptions options_;
    FamilyState v4_;
    FamilyState v6_;
};

}  // namespace sluice
