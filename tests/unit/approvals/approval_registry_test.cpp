// The approvals registry: holds, decisions, timeouts, scopes, who may decide, and the late
// approval that lets the identical retry through once. Time is a hand-moved clock.
#include "agent/approvals/approval_registry.h"

#include <gtest/gtest.h>

#include "agent/approvals/approval_commands.h"
#include "agent/common/duration_text.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;

constexpr uid_t kAlice = 1001;
constexpr uid_t kBob = 1002;
constexpr gid_t kApprovers = 4000;

HeldRequest request_by(uid_t uid, std::string rule = "prod", std::string body_hash = "hash-1") {
    HeldRequest held;
    held.request_id = "req-" + std::to_string(uid);
    held.requester.uid = uid;
    held.requester.user = uid == kAlice ? "alice" : "bob";
    held.requester.key = approval_identity_key(uid, "", "");
    held.rule = std::move(rule);
    held.body_hash = std::move(body_hash);
    return held;
}

const Approver kRoot{0, {}, "root"};
const Approver kBobInGroup{kBob, {kApprovers}, "bob"};
const Approver kAliceInGroup{kAlice, {kApprovers}, "alice"};
const Approver kCarol{1003, {}, "carol"};

class ApprovalRegistryTest : public ::testing::Test {
protected:
    ApprovalRegistryTest() : registry_(settings(), [this] { return now_; }) {}
    static ApprovalSettings settings() {
        ApprovalSettings s;
        s.timeout = 60s;
        s.retry_window = 600s;
        s.max_held = 3;
        s.max_held_per_identity = 2;
        s.approver_gids = {kApprovers};
        return s;
    }
    std::string hold(HeldRequest held, int* woken = nullptr) {
        auto outcome = registry_.hold(std::move(held), [woken] {
            if (woken) ++*woken;
        });
        EXPECT_TRUE(outcome.refusal.empty()) << outcome.refusal;
        return outcome.id;
    }

    ApprovalRegistry::Clock::time_point now_{};
    ApprovalRegistry registry_;
};

TEST_F(ApprovalRegistryTest, ApprovalWakesTheWaitingSessionWithTheApproverAndReason) {
    int woken = 0;
    const std::string id = hold(request_by(kAlice), &woken);
    EXPECT_FALSE(registry_.decision(id));
    now_ += 5s;
    const auto outcome = registry_.decide(id, kBobInGroup, true, "ticket 42", 0s);
    ASSERT_TRUE(outcome.ok) << outcome.error;
    EXPECT_EQ(woken, 1);
    const auto decision = registry_.decision(id);
    ASSERT_TRUE(decision);
    EXPECT_EQ(decision->state, ApprovalState::approved);
    EXPECT_EQ(decision->approver, "bob");
    EXPECT_EQ(decision->reason, "ticket 42");
    EXPECT_EQ(decision->scope, "once");
    EXPECT_EQ(decision->waited, 5000ms);
}

TEST_F(ApprovalRegistryTest, DenialCarriesTheReason) {
    const std::string id = hold(request_by(kAlice));
    ASSERT_TRUE(registry_.decide(id, kRoot, false, "freeze", 0s).ok);
    EXPECT_EQ(registry_.decision(id)->state, ApprovalState::denied);
    EXPECT_EQ(registry_.decision(id)->reason, "freeze");
    EXPECT_FALSE(registry_.decide(id, kRoot, true, "", 0s).ok) << "decided once only";
}

TEST_F(ApprovalRegistryTest, TheRequesterNeverApprovesItsOwnRequest) {
    const std::string id = hold(request_by(kAlice));
    const auto outcome = registry_.decide(id, kAliceInGroup, true, "", 0s);
    EXPECT_FALSE(outcome.ok);
    EXPECT_NE(outcome.error.find("self-approval refused"), std::string::npos) << outcome.error;
    EXPECT_FALSE(registry_.decision(id)) << "still held";
    const std::string root_id = hold(request_by(0));
    EXPECT_FALSE(registry_.decide(root_id, kRoot, true, "", 0s).ok) << "not even root";
}

TEST_F(ApprovalRegistryTest, OnlyRootAndConfiguredApproversDecide) {
    const std::string id = hold(request_by(kAlice));
    EXPECT_FALSE(registry_.may_approve(kCarol));
    EXPECT_FALSE(registry_.decide(id, kCarol, true, "", 0s).ok);
    EXPECT_TRUE(registry_.may_approve(kRoot));
    EXPECT_TRUE(registry_.may_approve(kBobInGroup));
}

TEST_F(ApprovalRegistryTest, TimeoutThenLateApprovalLetsTheIdenticalRetryThroughOnce) {
    const std::string id = hold(request_by(kAlice, "prod", "hash-1"));
    now_ += 60s;
    EXPECT_EQ(registry_.expire(id).state, ApprovalState::timed_out);
    const std::string key = approval_identity_key(kAlice, "", "");
    EXPECT_FALSE(registry_.take_grant(key, "prod", "hash-1"))
        << "nothing granted before the approval";
    ASSERT_TRUE(registry_.decide(id, kRoot, true, "late", 0s).ok);
    EXPECT_FALSE(registry_.take_grant(key, "prod", "hash-2")) << "another body is not the retry";
    EXPECT_FALSE(registry_.take_grant(approval_identity_key(kBob, "", ""), "prod", "hash-1"))
        << "nor another identity";
    EXPECT_EQ(registry_.take_grant(key, "prod", "hash-1"), id);
    EXPECT_FALSE(registry_.take_grant(key, "prod", "hash-1")) << "once";
}

TEST_F(ApprovalRegistryTest, ALateApprovalExpiresWithTheRetryWindow) {
    const std::string id = hold(request_by(kAlice));
    registry_.expire(id);
    ASSERT_TRUE(registry_.decide(id, kRoot, true, "", 0s).ok);
    now_ += 601s;
    EXPECT_FALSE(registry_.take_grant(approval_identity_key(kAlice, "", ""), "prod", "hash-1"));
    EXPECT_FALSE(registry_.show(id));
}

TEST_F(ApprovalRegistryTest, ATimedOutHoldIsForgottenAfterTheRetryWindow) {
    const std::string id = hold(request_by(kAlice));
    registry_.expire(id);
    now_ += 601s;
    EXPECT_FALSE(registry_.decide(id, kRoot, true, "", 0s).ok);
}

TEST_F(ApprovalRegistryTest, ADecisionThatRacesTheDeadlineWins) {
    const std::string id = hold(request_by(kAlice));
    ASSERT_TRUE(registry_.decide(id, kRoot, true, "", 0s).ok);
    EXPECT_EQ(registry_.expire(id).state, ApprovalState::approved);
}

TEST_F(ApprovalRegistryTest, AScopedApprovalCoversTheIdentityAndRuleForItsDuration) {
    const std::string id = hold(request_by(kAlice, "prod"));
    ASSERT_TRUE(registry_.decide(id, kRoot, true, "", 15min).ok);
    EXPECT_EQ(registry_.decision(id)->scope, "for");
    const std::string key = approval_identity_key(kAlice, "", "");
    EXPECT_EQ(registry_.take_grant(key, "prod", "other-body"), id);
    EXPECT_EQ(registry_.take_grant(key, "prod", "third-body"), id) << "not consumed";
    EXPECT_FALSE(registry_.take_grant(key, "other-rule", "x"));
    EXPECT_FALSE(registry_.take_grant(approval_identity_key(kBob, "", ""), "prod", "x"));
    now_ += 15min;
    EXPECT_FALSE(registry_.take_grant(key, "prod", "x")) << "ended";
}

TEST_F(ApprovalRegistryTest, AnOidcSubjectIsItsOwnIdentity) {
    EXPECT_NE(approval_identity_key(kAlice, "https://idp", "alice"),
              approval_identity_key(kAlice, "", ""));
    EXPECT_NE(approval_identity_key(kAlice, "https://idp", "alice"),
              approval_identity_key(kAlice, "https://idp", "eve"));
}

TEST_F(ApprovalRegistryTest, HoldsAreBoundedPerIdentityAndInTotal) {
    hold(request_by(kAlice));
    hold(request_by(kAlice));
    EXPECT_FALSE(registry_.hold(request_by(kAlice), nullptr).refusal.empty()) << "per identity";
    hold(request_by(kBob));
    EXPECT_FALSE(registry_.hold(request_by(kBob), nullptr).refusal.empty()) << "in total";
}

TEST_F(ApprovalRegistryTest, ShutDownWakesEveryHeldSession) {
    int woken = 0;
    const std::string a = hold(request_by(kAlice), &woken);
    const std::string b = hold(request_by(kBob), &woken);
    registry_.shut_down();
    EXPECT_EQ(woken, 2);
    EXPECT_EQ(registry_.decision(a)->state, ApprovalState::shut_down);
    EXPECT_EQ(registry_.open_holds(), 2u);
    registry_.finish(a);
    registry_.withdraw(b);
    EXPECT_EQ(registry_.open_holds(), 0u);
}

TEST_F(ApprovalRegistryTest, ListAndShowNameWhoWhatWhyAndHowLong) {
    const std::string id = hold(request_by(kAlice));
    now_ += 7s;
    const auto shown = registry_.show(id);
    ASSERT_TRUE(shown);
    EXPECT_EQ((*shown)["requester"]["user"], "alice");
    EXPECT_EQ((*shown)["rule"], "prod");
    EXPECT_EQ((*shown)["waiting_s"], 7);
    EXPECT_EQ((*shown)["times_out_in_s"], 53);
    EXPECT_EQ(registry_.list().size(), 1u);
}

TEST_F(ApprovalRegistryTest, CommandsRefuseNonApproversAndBadScopes) {
    const std::string id = hold(request_by(kAlice));
    int decided = 0;
    const ApprovalDecided count = [&](const std::string&, const ApprovalRegistry::DecideOutcome&) {
        ++decided;
    };
    EXPECT_TRUE(
        run_approval_command(registry_, {{"verb", "list"}}, kCarol, count).contains("error"));
    EXPECT_TRUE(run_approval_command(registry_, {{"verb", "approve"}, {"id", id}, {"for", "soon"}},
                                     kRoot, count)
                    .contains("error"));
    EXPECT_TRUE(
        run_approval_command(registry_, {{"verb", "deny"}, {"id", id}, {"for", "5m"}}, kRoot, count)
            .contains("error"));
    const auto answer = run_approval_command(
        registry_, {{"verb", "approve"}, {"id", id}, {"for", "5m"}}, kRoot, count);
    EXPECT_EQ(answer.value("scope", ""), "for") << answer.dump();
    EXPECT_EQ(decided, 1);
}

TEST(Duration, ReadsWhatPeopleWrite) {
    EXPECT_EQ(parse_duration("90s"), 90s);
    EXPECT_EQ(parse_duration("15m"), 15min);
    EXPECT_EQ(parse_duration("1h30m"), 90min);
    EXPECT_EQ(parse_duration("1d"), 24h);
    for (const char* bad : {"", "0s", "15", "m", "5x", "-5m", "99999999d"})
        EXPECT_FALSE(parse_duration(bad)) << bad;
}

}  // namespace
}  // namespace sluice
