// The per-thread memory of identities resolved within the last second.
#include "agent/identity/recent_identities.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

using namespace std::chrono_literals;

std::shared_ptr<const ConnectionIdentity> identity(const std::string& user) {
    auto made = std::make_shared<ConnectionIdentity>();
    made->audit_json = R"({"user":")" + user + R"("})";
    return made;
}

const ConnectingProcess kCurl{4242, 1000, 1000, 77, "curl"};

TEST(RecentIdentities, TheSameProcessWithinASecondGetsTheSameIdentity) {
    RecentIdentities recent;
    const auto t0 = RecentIdentities::Clock::now();
    EXPECT_EQ(recent.find(kCurl, t0), nullptr);
    const auto alice = identity("alice");
    recent.remember(kCurl, alice, t0);
    EXPECT_EQ(recent.find(kCurl, t0 + 999ms), alice);
    EXPECT_EQ(recent.find(kCurl, t0 + kRecentIdentityTtl), nullptr)
        << "resolved again after the TTL";
}

// Any difference in what the kernel recorded means another process (or one that changed):
// it is resolved afresh.
TEST(RecentIdentities, AnyRecordedDifferenceIsAnotherProcess) {
    RecentIdentities recent;
    const auto t0 = RecentIdentities::Clock::now();
    recent.remember(kCurl, identity("alice"), t0);
    auto other = [](auto change) {
        ConnectingProcess p = kCurl;
        change(p);
        return p;
    };
    EXPECT_EQ(recent.find(other([](auto& p) { p.tgid = 4243; }), t0), nullptr);
    EXPECT_EQ(recent.find(other([](auto& p) { p.uid = 0; }), t0), nullptr);
    EXPECT_EQ(recent.find(other([](auto& p) { p.gid = 0; }), t0), nullptr);
    EXPECT_EQ(recent.find(other([](auto& p) { p.cgroup_id = 78; }), t0), nullptr);
    EXPECT_EQ(recent.find(other([](auto& p) { p.comm = "python3"; }), t0), nullptr);
}

TEST(RecentIdentities, StaysBoundedUnderABurstOfNewProcesses) {
    RecentIdentities recent(8);
    const auto t0 = RecentIdentities::Clock::now();
    for (uint32_t pid = 1; pid <= 100; ++pid) {
        ConnectingProcess p = kCurl;
        p.tgid = pid;
        recent.remember(p, identity("u" + std::to_string(pid)), t0);
        EXPECT_LE(recent.size(), 8u);
    }
    ConnectingProcess last = kCurl;
    last.tgid = 100;
    ASSERT_NE(recent.find(last, t0), nullptr);
    EXPECT_EQ(recent.find(last, t0)->audit_json, R"({"user":"u100"})");
}

}  // namespace
}  // namespace sluice
