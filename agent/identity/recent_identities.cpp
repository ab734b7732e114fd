#include "agent/identity/recent_identities.h"

#include <functional>
#include <utility>

namespace sluice {

std::size_t RecentIdentities::Hash::operator()(const ConnectingProcess& p) const noexcept {
    std::size_t h = std::hash<std::string>{}(p.comm);
    for (const uint64_t part : {uint64_t{p.tgid}, uint64_t{p.uid}, uint64_t{p.gid}, p.cgroup_id})
        h = h * 1099511628211ull ^ std::hash<uint64_t>{}(part);
    return h;
}

std::shared_ptr<const ConnectionIdentity> RecentIdentities::find(const ConnectingProcess& process,
                                                                 Clock::time_point now) {
    const Entry* entry = entries_.find(process);
    if (entry == nullptr || now - entry->resolved >= kRecentIdentityTtl) return nullptr;
    return entry->identity;
}

void RecentIdentities::remember(const ConnectingProcess& process,
                                std::shared_ptr<const ConnectionIdentity> identity,
                                Clock::time_point now) {
    entries_.put(process, Entry{std::move(identity), now});
}

}  // namespace sluice
