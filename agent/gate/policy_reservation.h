// What a request holds against rate limits and budgets between the decision and the answer.
// Exactly one of settle() or release() happens: if neither was called (the client went away,
// an error unwound the session) the destructor releases, so nothing stays held forever.
#pragma once

#include <cstdint>
#include <optional>

#include "policy/policy_accounting.h"
#include "policy/usage.h"

namespace sluice {

class PolicyReservation {
public:
    PolicyReservation() = default;
    PolicyReservation(PolicyAccounting& state, uint64_t id) : state_(&state), id_(id) {}
    PolicyReservation(PolicyReservation&& other) noexcept { *this = std::move(other); }
    PolicyReservation& operator=(PolicyReservation&& other) noexcept;
    PolicyReservation(const PolicyReservation&) = delete;
    PolicyReservation& operator=(const PolicyReservation&) = delete;
    ~PolicyReservation() { release(); }

    bool held() const { return state_ != nullptr && id_ != 0; }
    // Upstream answered: charge what it says it used (`usage` is the response's usage object;
    // none or unreadable charges the whole estimate, the fail-closed choice).
    void settle(const std::optional<UsageObject>& usage);
    // Upstream never saw the request, or refused it (4xx/5xx is not billed): return it all.
    void release();
    // settle() or release() by the upstream status the client got (0 = never reached).
    void finish(unsigned upstream_status, const std::optional<UsageObject>& usage);

private:
    PolicyAccounting* state_ = nullptr;
    uint64_t id_ = 0;
};

}  // namespace sluice
