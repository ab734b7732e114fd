#include <gtest/gtest.h>

#include "policy/rate_limiter.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;
const TokenBucket::TimePoint kT0{std::chrono::seconds{1'700'000'000}};

TEST(TokenBucket, StartsFullAndRefusesPastCapacity) {
    TokenBucket bucket(3, kT0);
    for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(bucket.can_take(1, kT0));
        bucket.take(1, kT0);
    }
    EXPECT_FALSE(bucket.can_take(1, kT0));
}

TEST(TokenBucket, RefillsExactlyOneTokenPerSecondAtSixtyPerMinute) {
    TokenBucket bucket(60, kT0);
    bucket.take(60, kT0);
    EXPECT_FALSE(bucket.can_take(1, kT0 + 999ms));
    EXPECT_TRUE(bucket.can_take(1, kT0 + 1000ms));
    EXPECT_EQ(bucket.available(kT0 + 1000ms), 1);
    EXPECT_EQ(bucket.available(kT0 + 30s), 30);
    EXPECT_EQ(bucket.available(kT0 + 10min), 60);  // capped at capacity
}

TEST(TokenBucket, PollingOftenDoesNotLoseRefill) {
    TokenBucket bucket(7, kT0);  // 7/min: not a divisor of 1000 ms
    bucket.take(7, kT0);
    auto t = kT0;
    for (int i = 0; i < 60'000; ++i) {  // poll every millisecond for a minute
        t += 1ms;
        bucket.available(t);
    }
    EXPECT_EQ(bucket.available(t), 7);
    // Sub-millisecond steps carry over too.
    TokenBucket fine(60, kT0);
    fine.take(60, kT0);
    auto u = kT0;
    for (int i = 0; i < 4000; ++i) u += 250us, fine.available(u);
    EXPECT_EQ(fine.available(u), 1);
}

TEST(TokenBucket, WaitIsTimeToTheNextWholeToken) {
    TokenBucket bucket(60, kT0);
    bucket.take(60, kT0);
    EXPECT_EQ(bucket.wait_for(1, kT0), 1000ms);
    EXPECT_EQ(bucket.wait_for(1, kT0 + 400ms), 600ms);
    EXPECT_EQ(bucket.wait_for(2, kT0 + 400ms), 1600ms);
    EXPECT_EQ(bucket.wait_for(1, kT0 + 1s), 0ms);
    TokenBucket slow(1, kT0);  // one per minute
    slow.take(1, kT0);
    EXPECT_EQ(slow.wait_for(1, kT0 + 15s), 45s);
}

TEST(TokenBucket, AdjustRefundsCappedAndChargesIntoDebt) {
    TokenBucket bucket(100, kT0);
    bucket.take(30, kT0);
    bucket.adjust(50, kT0);  // refund beyond capacity is capped
    EXPECT_EQ(bucket.available(kT0), 100);
    bucket.adjust(-150, kT0);  // used more than reserved
    EXPECT_EQ(bucket.available(kT0), -50);
    EXPECT_FALSE(bucket.can_take(1, kT0 + 30s));  // -50 + 50 = 0
    EXPECT_TRUE(bucket.can_take(1, kT0 + 30s + 600ms));
}

TEST(TokenBucket, ClockStepBackNeitherRefillsNorDrains) {
    TokenBucket bucket(60, kT0);
    bucket.take(30, kT0);
    EXPECT_EQ(bucket.available(kT0 - 1h), 30);
    EXPECT_EQ(bucket.available(kT0 + 1s), 31);
}

}  // namespace
}  // namespace sluice
