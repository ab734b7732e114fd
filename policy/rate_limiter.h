// A token bucket refilled continuously at `per_minute` per 60 s, holding at most `per_minute`
// (one minute of burst). Integer arithmetic at millisecond resolution: one token is 60,000
// units and each elapsed millisecond adds `per_minute` units, so refill is exact — no drift
// however often it is polled — and Retry-After is the true time to the next whole token.
#pragma once

#include <chrono>
#include <cstdint>

namespace sluice {

class TokenBucket {
public:
    using TimePoint = std::chrono::system_clock::time_point;

    TokenBucket(int64_t per_minute, TimePoint now);

    // Changes the rate (policy reload) keeping the current level, capped at the new capacity.
    void set_rate(int64_t per_minute, TimePoint now);

    bool can_take(int64_t tokens, TimePoint now);
    void take(int64_t tokens, TimePoint now);
    // Returns tokens (a settled reservation used less than it took); positive adds, negative
    // takes more and may leave the bucket in debt, repaid by refill before the next request.
    void adjust(int64_t tokens, TimePoint now);
    // How long until `tokens` can be taken; zero when they can now. `tokens` must not exceed
    // capacity().
    std::chrono::milliseconds wait_for(int64_t tokens, TimePoint now);

    int64_t capacity() const { return per_minute_; }
    // Whole tokens available now (floor).
    int64_t available(TimePoint now);

private:
    static constexpr int64_t kUnitsPerToken = 60'000;  // ms per minute
    void refill(TimePoint now);

    int64_t per_minute_;
    int64_t level_units_;
    TimePoint last_refill_;
};

}  // namespace sluice
