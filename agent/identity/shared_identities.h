// Connections from one process carry the same identity (a client's pool of keep-alive
// connections is the usual case), so they share one copy of it instead of holding one each:
// the audit JSON and the policy identity are a few hundred bytes of strings per idle connection
// otherwise (docs/benchmarks.md, memory per idle connection).
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "agent/identity/connection_origin.h"

namespace sluice {

class SharedIdentities {
public:
    // The live copy equal to `identity` (same audit JSON), or `identity` itself, now shared.
    // Safe to call from several threads.
    std::shared_ptr<const ConnectionIdentity> share(ConnectionIdentity identity);

    // Distinct identities remembered, live or not yet swept (for tests).
    std::size_t remembered() const;

private:
    static constexpr std::size_t kMinSweepAt = 64;

    mutable std::mutex mu_;  // guards the members below
    // Keyed by the audit JSON, which holds every field the policy identity is made from.
    std::unordered_map<std::string, std::weak_ptr<const ConnectionIdentity>> by_audit_json_;
    std::size_t sweep_at_ = kMinSweepAt;  // forget expired entries when the map reaches this
};

}  // namespace sluice
