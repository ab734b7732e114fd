// oidc_binding: a rule may require that the OIDC token belong to the kernel user presenting it.
#include <gtest/gtest.h>

#include <fstream>

#include "policy/policy_engine.h"
#include "policy/policy_loader.h"

namespace sluice {
namespace {

const char* kBound = R"(
default: deny
rules:
  - name: bound
    match: {}
    oidc_binding:
      users:
        ci-runner: ["ci-bot@*", "deploy-bot"]
        "1234": [robot]
)";

std::shared_ptr<const Policy> must_load(const std::string& yaml) {
    auto result = load_policy(yaml, "test.yaml");
    EXPECT_TRUE(result.ok()) << result.error;
    return result.policy;
}

PolicyIdentity kernel_user(const std::string& name, uint32_t uid,
                           std::optional<std::string> subject = std::nullopt) {
    PolicyIdentity id;
    id.user = name;
    id.uid = uid;
    if (subject) {
        OidcIdentity o;
        o.issuer = "https://idp.example";
        o.subject = *subject;
        o.email = *subject + "@corp.example";
        o.claims = {{"sub", {*subject}}, {"preferred_username", {*subject}}, {"roles", {"a", "b"}}};
        id.oidc = std::move(o);
    }
    return id;
}

PolicyRequest models_request() {
    PolicyRequest r;
    r.method = "GET";
    r.path = "/v1/models";
    return r;
}

PolicyDecision decide_for(const Policy& p, const PolicyIdentity& id) {
    PolicyState s;
    return evaluate(p, id, models_request(), s, PolicyTimePoint{});
}

TEST(OidcBinding, UnlistedUserMustPresentTokenNamedAfterThem) {
    auto p = must_load(kBound);
    EXPECT_TRUE(decide_for(*p, kernel_user("alice", 1001, "alice")).allowed());
    auto d = decide_for(*p, kernel_user("alice", 1001, "bob"));
    EXPECT_EQ(d.action, PolicyAction::deny);
    EXPECT_EQ(d.http_status, 403);
    EXPECT_EQ(d.code, "identity_mismatch");
    EXPECT_EQ(d.rule, "bound");
    EXPECT_EQ(d.reason, "OIDC sub 'bob' is not bound to kernel user 'alice' (uid 1001)");
}

TEST(OidcBinding, ListedUserMayPresentOnlyTheirGlobs) {
    auto p = must_load(kBound);
    EXPECT_TRUE(decide_for(*p, kernel_user("ci-runner", 990, "ci-bot@corp.example")).allowed());
    EXPECT_TRUE(decide_for(*p, kernel_user("ci-runner", 990, "deploy-bot")).allowed());
    // Listed users get exactly their list: their own name is not implied.
    EXPECT_EQ(decide_for(*p, kernel_user("ci-runner", 990, "ci-runner")).code, "identity_mismatch");
    EXPECT_EQ(decide_for(*p, kernel_user("ci-runner", 990, "alice")).code, "identity_mismatch");
}

TEST(OidcBinding, UidKeysBindUsersWithoutOrBesidesNames) {
    auto p = must_load(kBound);
    EXPECT_TRUE(decide_for(*p, kernel_user("", 1234, "robot")).allowed());
    EXPECT_TRUE(decide_for(*p, kernel_user("svc", 1234, "robot")).allowed());
    auto d = decide_for(*p, kernel_user("", 1234, "alice"));
    EXPECT_EQ(d.code, "identity_mismatch");
    EXPECT_EQ(d.reason, "OIDC sub 'alice' is not bound to kernel user uid 1234 (no user name)");
    // An unnamed uid that is not listed has no name a token could equal.
    EXPECT_EQ(decide_for(*p, kernel_user("", 4321, "4321")).code, "identity_mismatch");
}

TEST(OidcBinding, MissingTokenDeniedUnlessNotRequired) {
    auto p = must_load(kBound);
    auto d = decide_for(*p, kernel_user("alice", 1001));
    EXPECT_EQ(d.action, PolicyAction::deny);
    EXPECT_EQ(d.code, "oidc_token_required");
    EXPECT_EQ(d.reason,
              "rule bound requires an OIDC token bound to kernel user 'alice' (uid 1001)");

    auto optional = must_load(R"(
default: deny
rules:
  - name: optional
    match: {}
    oidc_binding: {required: false}
)");
    EXPECT_TRUE(decide_for(*optional, kernel_user("alice", 1001)).allowed());
    // Optional only means a token may be absent: a token that is present must still bind.
    EXPECT_EQ(decide_for(*optional, kernel_user("alice", 1001, "bob")).code, "identity_mismatch");
    EXPECT_TRUE(decide_for(*optional, kernel_user("alice", 1001, "alice")).allowed());
}

TEST(OidcBinding, ClaimChoosesWhichTokenValueNamesThePerson) {
    auto by_email = must_load(R"(
default: deny
rules:
  - name: email
    match: {}
    oidc_binding:
      claim: email
      users: {alice: ["alice@corp.example"]}
)");
    EXPECT_TRUE(decide_for(*by_email, kernel_user("alice", 1001, "alice")).allowed());
    auto d = decide_for(*by_email, kernel_user("alice", 1001, "mallory"));
    EXPECT_EQ(d.reason,
              "OIDC email 'mallory@corp.example' is not bound to kernel user 'alice' (uid 1001)");
    auto unverified = kernel_user("alice", 1001, "alice");
    unverified.oidc->email.clear();  // email_verified: false leaves it empty
    EXPECT_EQ(decide_for(*by_email, unverified).code, "identity_mismatch");

    auto by_claim = must_load(R"(
default: deny
rules:
  - name: claim
    match: {}
    oidc_binding: {claim: preferred_username}
  - name: roles
    match: {}
)");
    EXPECT_TRUE(decide_for(*by_claim, kernel_user("alice", 1001, "alice")).allowed());
    EXPECT_EQ(decide_for(*by_claim, kernel_user("alice", 1001, "eve")).code, "identity_mismatch");
    auto no_claim = kernel_user("alice", 1001, "alice");
    no_claim.oidc->claims.erase("preferred_username");
    d = decide_for(*by_claim, no_claim);
    EXPECT_EQ(d.code, "identity_mismatch");
    EXPECT_EQ(d.reason,
              "OIDC token has no single 'preferred_username' claim to bind to kernel user "
              "'alice' (uid 1001)");

    auto by_list = must_load(R"(
default: deny
rules:
  - {name: list, match: {}, oidc_binding: {claim: roles, users: {alice: ["*"]}}}
)");
    // A list claim cannot name one person, even when every value would pass.
    EXPECT_EQ(decide_for(*by_list, kernel_user("alice", 1001, "alice")).code, "identity_mismatch");
}

TEST(OidcBinding, ReasonNamesClaimValueButNeverTheTokenAndStaysOneLine) {
    auto p = must_load(kBound);
    auto id =
        kernel_user("alice", 1001, std::string("bob\nFAKE audit line") + std::string(300, 'x'));
    auto d = decide_for(*p, id);
    EXPECT_EQ(d.code, "identity_mismatch");
    EXPECT_EQ(d.reason.find('\n'), std::string::npos) << d.reason;
    EXPECT_LT(d.reason.size(), 250u) << d.reason;
    EXPECT_NE(d.reason.find("'bob?FAKE audit line"), std::string::npos) << d.reason;
    EXPECT_EQ(d.reason.find("eyJ"), std::string::npos);
}

TEST(OidcBinding, DecidesBeforeTheRulesOtherControls) {
    auto p = must_load(R"(
default: deny
rules:
  - name: approval
    match: {}
    require_approval: true
    oidc_binding: {}
)");
    EXPECT_EQ(decide_for(*p, kernel_user("alice", 1001, "bob")).code, "identity_mismatch");
    EXPECT_EQ(decide_for(*p, kernel_user("alice", 1001, "alice")).code, "approval_required");
}

TEST(OidcBinding, RulesWithoutItIgnoreTheToken) {
    auto p = must_load("default: deny\nrules:\n  - {name: open, match: {}}\n");
    EXPECT_TRUE(decide_for(*p, kernel_user("alice", 1001, "bob")).allowed());
}

TEST(OidcBinding, ExplainShowsTheControl) {
    auto p = must_load(kBound);
    auto text = explain(*p, kernel_user("ci-runner", 990, "ci-bot@corp.example"), models_request());
    EXPECT_NE(text.find("decision: allow"), std::string::npos) << text;
    EXPECT_NE(text.find("  oidc_binding: sub 'ci-bot@corp.example' bound to kernel user "
                        "'ci-runner' (uid 990) by oidc_binding.users"),
              std::string::npos)
        << text;
    auto same = explain(*p, kernel_user("alice", 1001, "alice"), models_request());
    EXPECT_NE(same.find("  oidc_binding: sub 'alice' bound to kernel user 'alice' (uid 1001) "
                        "(same name)"),
              std::string::npos)
        << same;
    auto denied = explain(*p, kernel_user("alice", 1001, "bob"), models_request());
    EXPECT_NE(denied.find("decision: deny (403 identity_mismatch)"), std::string::npos) << denied;
    EXPECT_NE(denied.find("reason: OIDC sub 'bob' is not bound to kernel user 'alice'"),
              std::string::npos)
        << denied;
    auto optional = must_load(
        "default: deny\nrules:\n  - {name: o, match: {}, oidc_binding: {required: false}}\n");
    auto none = explain(*optional, kernel_user("alice", 1001), models_request());
    EXPECT_NE(none.find("  oidc_binding: no OIDC token presented; not required"), std::string::npos)
        << none;
}

TEST(OidcBinding, PackagedExampleLoadsWhenUncommented) {
    std::ifstream file(std::string(SLUICE_SOURCE_DIR) + "/packaging/policy.example.yaml");
    std::string line;
    std::string rule;
    bool inside = false;
    while (std::getline(file, line)) {
        if (line == "  # - name: deployers") inside = true;
        if (!inside) continue;
        if (line.rfind("  #", 0) != 0) break;
        rule += "  " + line.substr(4) + "\n";  // "  # x" -> "  x"
    }
    ASSERT_FALSE(rule.empty()) << "example rule 'deployers' not found";
    auto p = must_load("default: deny\nrules:\n" + rule);
    ASSERT_TRUE(p);
    auto deployer = kernel_user("ci-runner", 990, "ci-bot@corp.example");
    deployer.groups = {"deploy"};
    EXPECT_TRUE(decide_for(*p, deployer).allowed());
    deployer.oidc->subject = "alice";
    EXPECT_EQ(decide_for(*p, deployer).code, "identity_mismatch");
}

}  // namespace
}  // namespace sluice
