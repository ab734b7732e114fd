// The identities of processes that connected within the last second, so that a client opening
// a connection per request does not have /proc read, its identity rebuilt and serialized on
// every one (a few percent of a full handshake's CPU, docs/benchmarks.md).
//
// An entry is found only by everything the kernel recorded about the connecting thread: its
// process id, uid, gid, cgroup and comm. A different process would need the same pid within
// the second (a full turn of pid_max) with all of those equal; an exec() that keeps every one
// of them (same file name) is seen at most kRecentIdentityTtl late, and only a process that
// could already send anything under its old identity can do that.
//
// Not thread-safe: one per proxy thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "agent/identity/connection_origin.h"
#include "agent/identity/lru_map.h"

namespace sluice {

inline constexpr std::chrono::seconds kRecentIdentityTtl{1};

struct ConnectingProcess {
    uint32_t tgid = 0;
    uint32_t uid = 0;
    uint32_t gid = 0;
    uint64_t cgroup_id = 0;
    std::string comm;
    bool operator==(const ConnectingProcess&) const = default;
};

class RecentIdentities {
public:
    using Clock = std::chrono::steady_clock;
    explicit RecentIdentities(std::size_t max_entries = 1024) : entries_(max_entries) {}

    // The identity remembered for `process` less than kRecentIdentityTtl ago, or null.
    std::shared_ptr<const ConnectionIdentity> find(const ConnectingProcess& process,
                                                   Clock::time_point now);
    void remember(const ConnectingProcess& process,
                  std::shared_ptr<const ConnectionIdentity> identity, Clock::time_point now);
    std::size_t size() const { return entries_.size(); }

private:
    struct Hash {
        std::size_t operator()(const ConnectingProcess& p) const noexcept;
    };
    struct Entry {
        std::shared_ptr<const ConnectionIdentity> identity;
        Clock::time_point resolved;
    };

    LruMap<ConnectingProcess, Entry, Hash> entries_;  // a burst of new processes evicts the oldest
};

}  // namespace sluice
