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

Approver web_user(std::string name, std::string subject, std::vector<std::string> groups) {
    Approver approver;
    approver.name = std::move(name);
    approver.via = "web_oidc";
    approver.oidc_issuer = "https://idp.test";
    approver.oidc_subject = std::move(subject);
    approver.oidc_groups = std::move(groups);
    approver.uid = 0;  // never read for a web approver: not root
    return approver;
}

Approver saml_user(std::string name_id, std::vector<std::string> groups) {
    Approver approver;
    approver.name = name_id;
    approver.via = "web_saml";
    approver.saml_idp = "https://idp.test/metadata";
    approver.saml_name_id = std::move(name_id);
    approver.saml_groups = std::move(groups);
    approver.uid = 0;  // never read for a web approver: not root
    return approver;
}

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
        s.approver_oidc_groups = {"approvers"};
        s.approver_saml_groups = {"saml-approvers"};
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

HeldRequest needing(int approvers, HeldRequest held) {
    held.min_approvers = approvers;
    return held;
}

TEST_F(ApprovalRegistryTest, MinApproversReleasesOnlyWhenThatManyDistinctApproversApproved) {
    int woken = 0;
    const std::string id = hold(needing(2, request_by(kAlice)), &woken);
    auto first = registry_.decide(id, kRoot, true, "ok by me", 0s);
    ASSERT_TRUE(first.ok) << first.error;
    EXPECT_EQ(first.event, "partially_approved");
    EXPECT_FALSE(registry_.decision(id)) << "still held after one of two";
    EXPECT_EQ(woken, 0);
    auto again = registry_.decide(id, kRoot, true, "", 0s);
    EXPECT_FALSE(again.ok) << "the same approver twice is one approver";
    EXPECT_NE(again.error.find("already approved"), std::string::npos) << again.error;
    EXPECT_EQ((*registry_.show(id))["approvals"], nlohmann::json::array({"root"}));
    auto second = registry_.decide(id, kBobInGroup, true, "", 0s);
    ASSERT_TRUE(second.ok) << second.error;
    EXPECT_EQ(second.event, "approved");
    EXPECT_EQ(woken, 1);
    EXPECT_EQ(registry_.decision(id)->state, ApprovalState::approved);
    EXPECT_EQ(registry_.decision(id)->approvers, (std::vector<std::string>{"root", "bob"}));
}

TEST_F(ApprovalRegistryTest, WithMinApproversAnyOneDenialDenies) {
    int woken = 0;
    const std::string id = hold(needing(3, request_by(kAlice)), &woken);
    ASSERT_TRUE(registry_.decide(id, kRoot, true, "", 0s).ok);
    auto denial = registry_.decide(id, kBobInGroup, false, "no", 0s);
    ASSERT_TRUE(denial.ok);
    EXPECT_EQ(denial.event, "denied");
    EXPECT_EQ(woken, 1);
    EXPECT_EQ(registry_.decision(id)->state, ApprovalState::denied);
}

TEST_F(ApprovalRegistryTest, TheRequesterNeverCountsTowardsMinApprovers) {
    const std::string id = hold(needing(2, request_by(kAlice)));
    EXPECT_FALSE(registry_.decide(id, kAliceInGroup, true, "", 0s).ok);
    ASSERT_TRUE(registry_.decide(id, kRoot, true, "", 0s).ok);
    EXPECT_FALSE(registry_.decision(id)) << "alice's attempt did not count";
}

TEST_F(ApprovalRegistryTest, WebApproversAreCheckedByGroupAndNeverApproveTheirOwnRequest) {
    const Approver dana = web_user("dana", "sub-dana", {"approvers"});
    const Approver erin = web_user("erin", "sub-erin", {"staff"});
    EXPECT_TRUE(registry_.may_approve(dana));
    EXPECT_FALSE(registry_.may_approve(erin)) << "not in an approver group";
    EXPECT_FALSE(registry_.may_approve(web_user("root", "sub-r", {}))) << "a name is not root";

    // The request was made with dana's own token: her web sign-in may not approve it.
    HeldRequest with_token = request_by(kBob);
    with_token.requester.oidc_issuer = "https://idp.test";
    with_token.requester.oidc_subject = "sub-dana";
    const std::string id = hold(with_token);
    const auto self = registry_.decide(id, dana, true, "", 0s);
    EXPECT_FALSE(self.ok);
    EXPECT_NE(self.error.find("self-approval refused: OIDC subject sub-dana"), std::string::npos)
        << self.error;
    // The same subject at another issuer is someone else.
    Approver other_idp = dana;
    other_idp.oidc_issuer = "https://other.test";
    EXPECT_TRUE(registry_.decide(id, other_idp, true, "", 0s).ok);

    // Nor under the kernel user name the request was made as.
    const std::string bobs = hold(request_by(kBob));
    EXPECT_FALSE(
        registry_.decide(bobs, web_user("bob", "sub-bob", {"approvers"}), true, "", 0s).ok);
}

TEST_F(ApprovalRegistryTest, SamlApproversAreCheckedByTheirOwnGroupsAndAuditedAsSaml) {
    EXPECT_TRUE(registry_.may_approve(saml_user("dana", {"staff", "saml-approvers"})));
    EXPECT_FALSE(registry_.may_approve(saml_user("erin", {"staff"})));
    EXPECT_FALSE(registry_.may_approve(saml_user("olga", {"approvers"})))
        << "an OIDC approver group is not a SAML one";
    EXPECT_FALSE(registry_.may_approve(saml_user("root", {}))) << "a NameID is not root";

    // Never one's own request: a NameID equal to the kernel user the request was made as.
    const std::string bobs = hold(request_by(kBob));
    const auto self = registry_.decide(bobs, saml_user("bob", {"saml-approvers"}), true, "", 0s);
    EXPECT_FALSE(self.ok);
    EXPECT_NE(self.error.find("self-approval refused: user bob"), std::string::npos) << self.error;

    const std::string id = hold(needing(2, request_by(kAlice)));
    ASSERT_TRUE(registry_.decide(id, saml_user("dana", {"saml-approvers"}), true, "", 0s).ok);
    EXPECT_FALSE(registry_.decide(id, saml_user("dana", {"saml-approvers"}), true, "", 0s).ok)
        << "the same NameID at the same IdP counts once";
    const auto released =
        registry_.decide(id, web_user("dana", "sub-dana", {"approvers"}), true, "ok", 0s);
    ASSERT_TRUE(released.ok) << "an OIDC sign-in is another approver";
    EXPECT_EQ(released.event, "approved");

    const std::string one = hold(request_by(kAlice, "prod", "hash-2"));
    const auto approved =
        registry_.decide(one, saml_user("dana", {"saml-approvers"}), true, "fine", 0s);
    ASSERT_TRUE(approved.ok);
    const auto event =
        approval_event_json(one, approved.event, approved.request, approved.decision);
    EXPECT_EQ(event["approver"], (nlohmann::json{{"user", "dana"},
                                                 {"via", "web_saml"},
                                                 {"saml_name_id", "dana"},
                                                 {"saml_idp", "https://idp.test/metadata"}}));
}

TEST_F(ApprovalRegistryTest, AKernelApproverAndAWebApproverAreTwoApprovers) {
    const std::string id = hold(needing(2, request_by(kAlice)));
    ASSERT_TRUE(registry_.decide(id, web_user("dana", "sub-dana", {"approvers"}), true, "", 0s).ok);
    const auto released = registry_.decide(id, kRoot, true, "", 0s);
    ASSERT_TRUE(released.ok);
    EXPECT_EQ(released.event, "approved");
    const auto event = approval_event_json(id, released.event, released.request, released.decision);
    EXPECT_EQ(event["approvers"], nlohmann::json::array({"dana", "root"}));
    EXPECT_EQ(event["approver"]["via"], "admin_socket");
}

TEST_F(ApprovalRegistryTest, ALateApprovalNeedsMinApproversBeforeTheRetryPasses) {
    const std::string id = hold(needing(2, request_by(kAlice)));
    registry_.expire(id);
    const std::string key = approval_identity_key(kAlice, "", "");
    ASSERT_TRUE(registry_.decide(id, kRoot, true, "", 0s).ok);
    EXPECT_FALSE(registry_.take_grant(key, "prod", "hash-1")) << "one of two";
    ASSERT_TRUE(registry_.decide(id, kBobInGroup, true, "", 0s).ok);
    EXPECT_EQ(registry_.take_grant(key, "prod", "hash-1"), id);
}

TEST_F(ApprovalRegistryTest, WithSeveralApproversTheShortestScopeHolds) {
    const std::string id = hold(needing(2, request_by(kAlice)));
    ASSERT_TRUE(registry_.decide(id, kRoot, true, "", 1h).ok);
    ASSERT_TRUE(registry_.decide(id, kBobInGroup, true, "", 0s).ok);
    EXPECT_EQ(registry_.decision(id)->scope, "once") << "bob granted this request only";
    EXPECT_FALSE(registry_.take_grant(approval_identity_key(kAlice, "", ""), "prod", "other"));
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
