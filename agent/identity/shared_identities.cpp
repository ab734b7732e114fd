#include "agent/identity/shared_identities.h"

#include <algorithm>

namespace sluice {

std::shared_ptr<const ConnectionIdentity> SharedIdentities::share(ConnectionIdentity identity) {
    std::lock_guard lock(mu_);
    auto [it, inserted] = by_audit_json_.try_emplace(identity.audit_json);
    if (!inserted) {
        if (auto live = it->second.lock()) return live;
    }
    auto shared = std::make_shared<const ConnectionIdentity>(std::move(identity));
    it->second = shared;
    if (by_audit_json_.size() >= sweep_at_) {
        // Amortised: the map holds at most about twice the identities still in use.
        std::erase_if(by_audit_json_, [](const auto& entry) { return entry.second.expired(); });
        sweep_at_ = std::max(kMinSweepAt, 2 * by_audit_json_.size());
    }
    return shared;
}

std::size_t SharedIdentities::remembered() const {
    std::lock_guard lock(mu_);
    return by_audit_json_.size();
}

}  // namespace sluice
