#include "agent/identity/shared_identities.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sluice {
namespace {

ConnectionIdentity identity_of(const std::string& user, uint32_t pid) {
    ConnectionIdentity identity;
    identity.audit_json = R"({"user":")" + user + R"(","pid":)" + std::to_string(pid) + "}";
    identity.policy.user = user;
    return identity;
}

TEST(SharedIdentities, ConnectionsOfOneProcessShareOneCopy) {
    SharedIdentities shared;
    const auto first = shared.share(identity_of("alice", 10));
    const auto second = shared.share(identity_of("alice", 10));
    EXPECT_EQ(first.get(), second.get());
    EXPECT_EQ(second->policy.user, "alice");
    EXPECT_EQ(second->audit_json, R"({"user":"alice","pid":10})");
}

TEST(SharedIdentities, DifferentIdentitiesStayApart) {
    SharedIdentities shared;
    const auto alice = shared.share(identity_of("alice", 10));
    const auto other_process = shared.share(identity_of("alice", 11));
    const auto bob = shared.share(identity_of("bob", 10));
    EXPECT_NE(alice.get(), other_process.get());
    EXPECT_NE(alice.get(), bob.get());
    EXPECT_EQ(bob->policy.user, "bob");
}

TEST(SharedIdentities, AnIdentityNoConnectionHoldsIsBuiltAfresh) {
    SharedIdentities shared;
    std::weak_ptr<const ConnectionIdentity> first = shared.share(identity_of("alice", 10));
    // Its connection ended at once: the cache must not keep it alive...
    EXPECT_TRUE(first.expired());
    // ...so the next connection's identity is the one just built, not an old copy: same audit
    // JSON, but the policy identity (resolved afresh) has changed.
    ConnectionIdentity rebuilt = identity_of("alice", 10);
    rebuilt.policy.groups = {"joined-since"};
    const auto again = shared.share(std::move(rebuilt));
    ASSERT_NE(again, nullptr);
    EXPECT_EQ(again->policy.groups, std::vector<std::string>{"joined-since"});
    EXPECT_EQ(shared.remembered(), 1u);
}

TEST(SharedIdentities, ForgetsIdentitiesNoLongerInUse) {
    SharedIdentities shared;
    std::vector<std::shared_ptr<const ConnectionIdentity>> live;
    for (uint32_t pid = 0; pid < 10; ++pid) live.push_back(shared.share(identity_of("kept", pid)));
    for (uint32_t pid = 0; pid < 10000; ++pid) shared.share(identity_of("gone", pid));
    EXPECT_LT(shared.remembered(), 200u);
    for (uint32_t pid = 0; pid < 10; ++pid)
        EXPECT_EQ(shared.share(identity_of("kept", pid)).get(), live[pid].get());
}

}  // namespace
}  // namespace sluice
