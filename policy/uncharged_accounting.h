// An accounting that admits everything and keeps nothing: for decisions that must not count
// against rate limits or budgets (a realtime session.update or conversation item is decided
// on its model, tools and text; only the session and its responses are counted).
#pragma once

#include "policy/policy_accounting.h"

namespace sluice {

class UnchargedAccounting final : public PolicyAccounting {
public:
    AdmissionResult admit(const Admission&, TimePoint) override { return {}; }
    void settle(uint64_t, const std::optional<TokenUsage>&, TimePoint) override {}
    void release(uint64_t, TimePoint) override {}
};

}  // namespace sluice
