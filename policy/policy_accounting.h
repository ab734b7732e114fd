// Where rate limits and budgets are reserved and settled. The engine decides what a request
// would take (an Admission); an accounting takes it atomically or refuses it, and later settles
// or releases the reservation. Two implementations: PolicyState (this host's memory, the
// default) and the Redis store in agent/state_store (shared by many hosts).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "policy/budget_ledger.h"
#include "policy/policy_admission.h"
#include "policy/rate_limiter.h"

namespace sluice {

class PolicyAccounting {
public:
    using TimePoint = TokenBucket::TimePoint;

    virtual ~PolicyAccounting() = default;

    // Checks every bucket and account and, only if all have room, takes from all of them and
    // records a reservation, atomically: concurrent callers cannot both fit in the last slot.
    virtual AdmissionResult admit(const Admission& admission, TimePoint now) = 0;

    // Whether admit_later answers without blocking the caller (a store on the network). The
    // data path then calls admit_later and waits on its own event loop; otherwise admit.
    virtual bool answers_later() const { return false; }
    // As admit, but `done` gets the answer later, on the calling thread's event loop (within the
    // store's bounded wait). Stores that answer at once call `done` before returning.
    using AdmitCallback = std::function<void(AdmissionResult)>;
    virtual void admit_later(const Admission& admission, TimePoint now, AdmitCallback done) {
        done(admit(admission, now));
    }

    // The request finished: replace its reservation with what it really used. With no usage
    // (stream cut before the usage chunk), the whole estimate is charged. Unknown or already
    // settled ids are ignored, so calling twice is harmless.
    virtual void settle(uint64_t reservation_id, const std::optional<TokenUsage>& usage,
                        TimePoint now) = 0;

    // The request never reached upstream (or upstream refused it before billing): return the
    // reservation in full.
    virtual void release(uint64_t reservation_id, TimePoint now) = 0;
};

}  // namespace sluice
