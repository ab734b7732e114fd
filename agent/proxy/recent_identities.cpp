#include "agent/proxy/recent_identities.h"

#include <functional>

namespace sluice {

std::size_t RecentIdentities::Hash::operator()(const ConnectingProcess& p) const noexcept {
    std::size_t h = std::hash<std::string>{}(p.comm);
    for (const uint64_t part : {uint64_t{p.tgid}, uint64_t{p.uid}, uint64_t{p.gid}, p.cgroup_id})
        h = h * 1099511628211ull ^ std::hash<uint64_t>{}(part);
    return h;
}

std::shared_ptr<const ConnectionIdentity> RecentIdentities::find(const ConnectingProcess& process,
                                                                 Clock::time_point now) const {
    const auto it = entries_.find(process);
    if (it == entries_.end() || now - it->second.resolved >= kRecentIdentityTtl) return nullptr;
    return it->second.identity;
}

void RecentIdentities::remember(ConnectingProcess process, std::shared_ptr<const ConnectionIdentity> identity,
                                Clock::time_point now) {
    if (entries_.size() >= max_entries_ && !entries_.contains(process)) {
        // Full: what has expired goes; if nothing has, everything does (a burst of new
        // processes), rather than keeping a list in age order for this rare case.
        std::erase_if(entries_, [&](const auto& entry) { return now - entry.second.resolved >= kRecentIdentityTtl; });
        if (entries_.size() >= max_entries_) entries_.clear();
    }
    entries_.insert_or_assign(std::move(process), Entry{std::move(identity), now});
}

}  // namespace sluice
