#include "agent/resolver/target_set.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

using std::chrono::seconds;
using TimePoint = TargetSet::TimePoint;

IpAddress ip(const char* text) { return *parse_ip_address(text); }

DnsAnswer ok(std::vector<std::pair<const char*, uint32_t>> records, uint32_t negative_ttl = 0) {
    DnsAnswer a;
    a.status = DnsStatus::ok;
    a.negative_ttl_s = negative_ttl;
    for (auto [text, ttl] : records) a.records.push_back({ip(text), ttl});
    return a;
}

DnsAnswer failure() {
    DnsAnswer a;
    a.status = DnsStatus::failure;
    a.error = "timeout";
    return a;
}

std::vector<std::string> addrs(const TargetSet& set, TimePoint now) {
    std::vector<std::string> out;
    for (const auto& t : set.current(now)) out.push_back(format_ip_address(t.addr));
    return out;
}

class TargetSetTest : public ::testing::Test {
protected:
    const TimePoint t0 = TimePoint{} + seconds(1'700'000'000);
    TargetSet set;  // defaults: TTL in [30 s, 1 h], grace 10 min, backoff 1 s .. 60 s
};

TEST_F(TargetSetTest, NewSetIsDueImmediatelyAndEmpty) {
    EXPECT_LE(set.next_refresh(AddressFamily::ipv4), t0);
    EXPECT_LE(set.next_refresh(AddressFamily::ipv6), t0);
    EXPECT_TRUE(set.current(t0).empty());
}

TEST_F(TargetSetTest, RefreshIsDueAtTheShortestTtl) {
    set.apply(AddressFamily::ipv4, ok({{"192.0.2.1", 300}, {"192.0.2.2", 120}}), t0);
    EXPECT_EQ(set.next_refresh(AddressFamily::ipv4), t0 + seconds(120));
    const auto cur = set.current(t0);
    ASSERT_EQ(cur.size(), 2u);
    EXPECT_EQ(cur[0].expires, t0 + seconds(300));
    EXPECT_EQ(cur[1].expires, t0 + seconds(120));
    EXPECT_FALSE(cur[0].superseded);
    // The v6 family is independent and still due.
    EXPECT_LE(set.next_refresh(AddressFamily::ipv6), t0);
}

TEST_F(TargetSetTest, TtlIsClampedToMinimumAndMaximum) {
    set.apply(AddressFamily::ipv4, ok({{"192.0.2.1", 0}, {"192.0.2.2", 5}, {"192.0.2.3", 86400}}),
              t0);
    const auto cur = set.current(t0);
    ASSERT_EQ(cur.size(), 3u);
    EXPECT_EQ(cur[0].expires, t0 + seconds(30));
    EXPECT_EQ(cur[1].expires, t0 + seconds(30));
    EXPECT_EQ(cur[2].expires, t0 + seconds(3600));
    EXPECT_EQ(set.next_refresh(AddressFamily::ipv4), t0 + seconds(30));
}

TEST_F(TargetSetTest, SupersededAddressStaysForGracePeriod) {
    set.apply(AddressFamily::ipv4, ok({{"192.0.2.1", 60}}), t0);
    const TimePoint t1 = t0 + seconds(60);
    set.apply(AddressFamily::ipv4, ok({{"192.0.2.2", 60}}), t1);

    auto cur = set.current(t1);
    ASSERT_EQ(cur.size(), 2u);
    EXPECT_EQ(format_ip_address(cur[0].addr), "192.0.2.1");
    EXPECT_TRUE(cur[0].superseded);
    EXPECT_EQ(cur[0].expires, t1 + seconds(600));
    EXPECT_FALSE(cur[1].superseded);

    EXPECT_EQ(addrs(set, t1 + seconds(599)), (std::vector<std::string>{"192.0.2.1", "192.0.2.2"}));
    // Refreshes during the grace period do not restart it.
    set.apply(AddressFamily::ipv4, ok({{"192.0.2.2", 60}}), t1 + seconds(300));
    EXPECT_EQ(set.current(t1 + seconds(300))[0].expires, t1 + seconds(600));
    EXPECT_EQ(addrs(set, t1 + seconds(600)), (std::vector<std::string>{"192.0.2.2"}));
}

TEST_F(TargetSetTest, GraceNeverEndsBeforeTheOldTtl) {
    set.apply(AddressFamily::ipv4, ok({{"192.0.2.1", 3600}}), t0);
    set.apply(AddressFamily::ipv4, ok({{"192.0.2.2", 60}}), t0 + seconds(10));
    EXPECT_EQ(set.current(t0 + seconds(10))[0].expires, t0 + seconds(3600));
}

TEST_F(TargetSetTest, ReturningAddressIsActiveAgain) {
    set.apply(AddressFamily::ipv4, ok({{"192.0.2.1", 60}}), t0);
    set.apply(AddressFamily::ipv4, ok({{"192.0.2.2", 60}}), t0 + seconds(60));
    set.apply(AddressFamily::ipv4, ok({{"192.0.2.1", 60}, {"192.0.2.2", 60}}), t0 + seconds(120));
    for (const auto& t : set.current(t0 + seconds(120))) EXPECT_FALSE(t.superseded);
}

TEST_F(TargetSetTest, FailureKeepsLastGoodAndBacksOff) {
    set.apply(AddressFamily::ipv4, ok({{"192.0.2.1", 60}}), t0);
    TimePoint now = t0 + seconds(60);
    const seconds expected_backoff[] = {seconds(1),  seconds(2),  seconds(4),  seconds(8),
                                        seconds(16), seconds(32), seconds(60), seconds(60)};
    for (seconds backoff : expected_backoff) {
        set.apply(AddressFamily::ipv4, failure(), now);
        EXPECT_EQ(set.next_refresh(AddressFamily::ipv4), now + backoff);
        // Long past the TTL, the last good address is still there, held until the next try.
        const auto cur = set.current(now);
        ASSERT_EQ(cur.size(), 1u);
        EXPECT_FALSE(cur[0].superseded);
        EXPECT_EQ(cur[0].expires, now + backoff);
        now += backoff;
    }
    EXPECT_EQ(set.consecutive_failures(AddressFamily::ipv4), 8u);
    // Success resets the backoff.
    set.apply(AddressFamily::ipv4, ok({{"192.0.2.1", 60}}), now);
    EXPECT_EQ(set.consecutive_failures(AddressFamily::ipv4), 0u);
    set.apply(AddressFamily::ipv4, failure(), now);
    EXPECT_EQ(set.next_refresh(AddressFamily::ipv4), now + seconds(1));
}

TEST_F(TargetSetTest, NxdomainKeepsLastGoodToo) {
    set.apply(AddressFamily::ipv6, ok({{"2001:db8::1", 60}}), t0);
    DnsAnswer nx;
    nx.status = DnsStatus::nxdomain;
    set.apply(AddressFamily::ipv6, nx, t0 + seconds(3600));
    EXPECT_EQ(addrs(set, t0 + seconds(3600)), (std::vector<std::string>{"2001:db8::1"}));
}

TEST_F(TargetSetTest, EmptyAnswerSupersedesAndUsesNegativeTtl) {
    set.apply(AddressFamily::ipv6, ok({{"2001:db8::1", 60}}), t0);
    set.apply(AddressFamily::ipv6, ok({}, 120), t0 + seconds(60));
    EXPECT_EQ(set.next_refresh(AddressFamily::ipv6), t0 + seconds(180));
    const auto cur = set.current(t0 + seconds(60));
    ASSERT_EQ(cur.size(), 1u);
    EXPECT_TRUE(cur[0].superseded);
    EXPECT_TRUE(set.current(t0 + seconds(660)).empty());
    // No SOA: the minimum TTL.
    set.apply(AddressFamily::ipv6, ok({}, 0), t0 + seconds(700));
    EXPECT_EQ(set.next_refresh(AddressFamily::ipv6), t0 + seconds(730));
}

TEST_F(TargetSetTest, FamiliesAreIndependent) {
    set.apply(AddressFamily::ipv4, ok({{"192.0.2.1", 60}}), t0);
    set.apply(AddressFamily::ipv6, ok({{"2001:db8::1", 600}}), t0);
    set.apply(AddressFamily::ipv4, ok({{"192.0.2.9", 60}}), t0 + seconds(60));
    EXPECT_EQ(addrs(set, t0 + seconds(700)),
              (std::vector<std::string>{"192.0.2.9", "2001:db8::1"}));
}

TEST_F(TargetSetTest, CustomOptions) {
    TargetSetOptions o;
    o.min_ttl = seconds(5);
    o.max_ttl = seconds(10);
    o.grace = seconds(0);
    TargetSet custom(o);
    custom.apply(AddressFamily::ipv4, ok({{"192.0.2.1", 1}}), t0);
    EXPECT_EQ(custom.next_refresh(AddressFamily::ipv4), t0 + seconds(5));
    custom.apply(AddressFamily::ipv4, ok({{"192.0.2.2", 100}}), t0 + seconds(5));
    EXPECT_EQ(custom.next_refresh(AddressFamily::ipv4), t0 + seconds(15));
    EXPECT_EQ(addrs(custom, t0 + seconds(10)), (std::vector<std::string>{"192.0.2.2"}));
}

}  // namespace
}  // namespace sluice
