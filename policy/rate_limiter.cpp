#include "policy/rate_limiter.h"

#include <algorithm>

namespace sluice {

TokenBucket::TokenBucket(int64_t per_minute, TimePoint now)
    : per_minute_(per_minute), level_units_(per_minute * kUnitsPerToken), last_refill_(now) {}

void TokenBucket::refill(TimePoint now) {
    if (now <= last_refill_) return;  // a clock stepping back refills nothing, never drains
    auto elapsed_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now - last_refill_).count();
    const int64_t capacity_units = per_minute_ * kUnitsPerToken;
    // Advance by whole milliseconds only, so sub-millisecond remainders carry to the next call.
    last_refill_ += std::chrono::milliseconds(elapsed_ms);
    // A minute refills any bucket completely; capping first keeps the product in range.
    elapsed_ms = std::min<int64_t>(elapsed_ms, 2 * kUnitsPerToken);
    level_units_ = std::min(capacity_units, level_units_ + elapsed_ms * per_minute_);
}

void TokenBucket::set_rate(int64_t per_minute, TimePoint now) {
    refill(now);
    per_minute_ = per_minute;
    level_units_ = std::min(level_units_, per_minute_ * kUnitsPerToken);
}

bool TokenBucket::can_take(int64_t tokens, TimePoint now) {
    refill(now);
    return level_units_ >= tokens * kUnitsPerToken;
}

void TokenBucket::take(int64_t tokens, TimePoint now) {
    refill(now);
    level_units_ -= tokens * kUnitsPerToken;
}

void TokenBucket::adjust(int64_t tokens, TimePoint now) {
    refill(now);
    const int64_t capacity_units = per_minute_ * kUnitsPerToken;
    level_units_ =
        std::clamp(level_units_ + tokens * kUnitsPerToken, -capacity_units, capacity_units);
}

std::chrono::milliseconds TokenBucket::wait_for(int64_t tokens, TimePoint now) {
    refill(now);
    int64_t deficit = tokens * kUnitsPerToken - level_units_;
    if (deficit <= 0 || per_minute_ <= 0) return std::chrono::milliseconds{0};
    return std::chrono::milliseconds{(deficit + per_minute_ - 1) / per_minute_};
}

int64_t TokenBucket::available(TimePoint now) {
    refill(now);
    return level_units_ >= 0 ? level_units_ / kUnitsPerToken
                             : -((-level_units_ + kUnitsPerToken - 1) / kUnitsPerToken);
}

}  // namespace sluice
