#include <gtest/gtest.h>

#include <random>

#include "policy/policy_engine.h"
#include "policy/policy_loader.h"
#include "policy/rule_index.h"

namespace sluice {
namespace {

// Small vocabularies so that random rules and identities meet often, with the globs that make
// indexing hard: leading '*', '?', classes, escapes, the empty pattern, literal look-alikes.
const std::vector<std::string> kUsers = {"alice", "bob", "carol", "dave", ""};
const std::vector<uint32_t> kUids = {1000, 1001, 1002, 1003};
const std::vector<std::string> kGroups = {"ml", "ops", "dev", "x"};
const std::vector<std::string> kCgroupGlobs = {"/system.slice/*",
                                               "/system.slice/ci-*.service",
                                               "/user.slice/*",
                                               "*",
                                               "*.scope",
                                               "/system.slice/ci-build.service",
                                               "/sys*",
                                               "",
                                               "/system.slice/\\*x",
                                               "[/]system*"};
const std::vector<std::string> kCgroups = {"/system.slice/ci-build.service",
                                           "/system.slice/ci-test.service",
                                           "/user.slice/user-1000.slice/session-1.scope",
                                           "/system.slice/*x",
                                           "/sys",
                                           ""};
const std::vector<std::string> kUnitGlobs = {
    "ci-*.service", "ci-build.service", "*.service", "session-?.scope", "c*",
    "ci-",          "svc-[0-9]*",       ""};
const std::vector<std::string> kUnits = {
    "ci-build.service", "ci-.service", "session-1.scope", "svc-1", "c", "ci-", ""};
const std::vector<std::string> kContainerGlobs = {"abc*", "abcdef", "*", "a?c*"};
const std::vector<std::string> kContainers = {"abcdef", "abc", "xyz", ""};
const std::vector<std::string> kExeGlobs = {"/usr/bin/*", "/usr/bin/python3", "/opt/*", "*python*",
                                            "/usr/bin/py?hon3"};
const std::vector<std::string> kExes = {"/usr/bin/python3", "/opt/x", "/usr/bin/curl", ""};
const std::vector<std::string> kSubjectGlobs = {"user-1*", "user-2", "*", "u\\ser-2"};
const std::vector<std::string> kSubjects = {"user-1", "user-2", "user-12", "x"};
const std::vector<std::string> kEmailGlobs = {"a@x", "*@x", "b@*"};
const std::vector<std::string> kEmails = {"a@x", "b@y", ""};
const std::vector<std::string> kOidcGroups = {"admins", "devs"};

class Generator {
public:
    explicit Generator(uint32_t seed) : rng_(seed) {}

    size_t number(size_t lo, size_t hi) {
        return std::uniform_int_distribution<size_t>(lo, hi)(rng_);
    }

    bool chance(int percent) { return std::uniform_int_distribution<int>(0, 99)(rng_) < percent; }

    template <typename T>
    T pick(const std::vector<T>& from) {
        return from[number(0, from.size() - 1)];
    }

    template <typename T>
    std::vector<T> some(const std::vector<T>& from, size_t min = 1) {
        std::vector<T> out;
        size_t n = number(min, 3);
        for (size_t i = 0; i < n; ++i) out.push_back(pick(from));
        return out;
    }

    PrincipalMatch match() {
        PrincipalMatch m;
        if (chance(2)) return m;  // match: {}
        if (chance(25)) m.users = some(kUsers);
        if (chance(20)) m.uids = some(kUids);
        if (chance(25)) m.groups = some(kGroups);
        if (chance(25)) m.cgroups = some(kCgroupGlobs);
        if (chance(30)) m.units = some(kUnitGlobs);
        if (chance(15)) m.containers = some(kContainerGlobs);
        if (chance(20)) m.exes = some(kExeGlobs);
        if (chance(20)) {
            m.has_oidc = true;
            if (chance(40)) m.oidc_subjects = some(kSubjectGlobs);
            if (chance(30)) m.oidc_emails = some(kEmailGlobs);
            if (chance(30)) m.oidc_groups = some(kOidcGroups);
            if (chance(20))
                m.oidc_claims = {{"team", {pick(std::vector<std::string>{"data-*", "ops"})}}};
        }
        return m;
    }

    PolicyIdentity identity() {
        PolicyIdentity id;
        id.user = pick(kUsers);
        if (chance(80)) id.uid = pick(kUids);
        if (chance(70)) id.groups = some(kGroups, 0);
        id.cgroup = pick(kCgroups);
        id.unit = pick(kUnits);
        id.container_id = pick(kContainers);
        id.exe = pick(kExes);
        id.exe_trusted = chance(70);
        if (chance(40)) {
            OidcIdentity o;
            o.subject = pick(kSubjects);
            o.email = pick(kEmails);
            if (chance(50)) o.groups = some(kOidcGroups, 0);
            if (chance(50)) o.claims["team"] = {pick(std::vector<std::string>{"data-eng", "ops"})};
            id.oidc = std::move(o);
        }
        return id;
    }

private:
    std::mt19937 rng_;
};

std::vector<PolicyRule> rules_from(std::vector<PrincipalMatch> matches) {
    std::vector<PolicyRule> rules;
    for (size_t i = 0; i < matches.size(); ++i) {
        PolicyRule rule;
        rule.name = "r" + std::to_string(i);
        rule.index = i;
        rule.match = std::move(matches[i]);
        rules.push_back(std::move(rule));
    }
    return rules;
}

std::string describe(const PolicyIdentity& id) {
    std::string oidc = id.oidc ? " sub=" + id.oidc->subject + " email=" + id.oidc->email : "";
    return "user=" + id.user + " uid=" + (id.uid ? std::to_string(*id.uid) : "-") +
           " unit=" + id.unit + " cgroup=" + id.cgroup + " container=" + id.container_id +
           " exe=" + id.exe + oidc;
}

TEST(RuleIndex, AgreesWithLinearScanOnRandomPolicies) {
    constexpr uint32_t kPolicies = 1500;
    constexpr int kIdentitiesPerPolicy = 40;
    size_t matched = 0;
    size_t lookups = 0;
    for (uint32_t seed = 1; seed <= kPolicies; ++seed) {
        Generator gen(seed);
        std::vector<PrincipalMatch> matches;
        size_t count = gen.number(0, 60);
        for (size_t i = 0; i < count; ++i) matches.push_back(gen.match());
        auto rules = rules_from(std::move(matches));
        RuleIndex index(rules);
        for (int i = 0; i < kIdentitiesPerPolicy; ++i) {
            auto id = gen.identity();
            auto expected = first_match_linear(rules, id);
            ASSERT_EQ(index.first_match(rules, id), expected)
                << "seed " << seed << ", identity " << i << ": " << describe(id);
            ++lookups;
            if (expected) ++matched;
            // The explaining and the quiet principal_matches must agree too.
            for (const auto& rule : rules) {
                std::string why;
                ASSERT_EQ(principal_matches(rule.match, id, &why),
                          principal_matches(rule.match, id))
                    << "seed " << seed << " rule " << rule.name << ": " << why;
            }
        }
    }
    // The generator must exercise both outcomes, or the comparison proves little.
    EXPECT_GT(matched, lookups / 4) << matched << " of " << lookups;
    EXPECT_GT(lookups - matched, lookups / 20) << matched << " of " << lookups;
}

TEST(RuleIndex, FirstMatchWinsWhenLaterRulesAreIndexedBetter) {
    // Rule 0 cannot be filed under a key (its exe glob starts with '*'); rule 1 is filed under
    // its user. The index must still try rule 0 first.
    PrincipalMatch by_exe;
    by_exe.exes = {"*"};
    PrincipalMatch by_user;
    by_user.users = {"alice"};
    PrincipalMatch everyone;
    auto rules = rules_from({by_exe, by_user, everyone});
    RuleIndex index(rules);
    PolicyIdentity alice;
    alice.user = "alice";
    alice.exe = "/usr/bin/python3";
    alice.exe_trusted = true;
    EXPECT_EQ(index.first_match(rules, alice), 0u);
    alice.exe = "";
    EXPECT_EQ(index.first_match(rules, alice), 1u);
    alice.user = "bob";
    EXPECT_EQ(index.first_match(rules, alice), 2u);
}

TEST(RuleIndex, IdentityReachingManyListsFallsBackToTheScan) {
    std::vector<PrincipalMatch> matches;
    PolicyIdentity id;
    for (int i = 0; i < 50; ++i) {
        PrincipalMatch m;
        m.groups = {"g" + std::to_string(i)};
        if (i < 45) m.exes = {"/nope"};  // group rules that do not match after all
        matches.push_back(m);
        id.groups.push_back("g" + std::to_string(i));
    }
    auto rules = rules_from(std::move(matches));
    RuleIndex index(rules);
    EXPECT_EQ(index.first_match(rules, id), 45u);
    EXPECT_EQ(first_match_linear(rules, id), 45u);
}

TEST(RuleIndex, LoaderBuildsItAndEvaluateUsesIt) {
    auto loaded = load_policy(R"(
default: deny
rules:
  - {name: svc, match: {units: ["svc-1-*.service"]}}
  - {name: cg, match: {cgroups: ["/system.slice/app-1/*"]}}
  - {name: team, match: {groups: [team]}}
  - {name: rest, match: {}}
)",
                              "t.yaml");
    ASSERT_TRUE(loaded.ok()) << loaded.error;
    ASSERT_TRUE(loaded.policy->rule_index);
    EXPECT_EQ(loaded.policy->rule_index->rule_count(), 4u);
    PolicyState state;
    PolicyRequest request;
    request.method = "GET";
    request.path = "/v1/models";
    auto rule_for = [&](const PolicyIdentity& id) {
        return evaluate(*loaded.policy, id, request, state, PolicyTimePoint{}).rule;
    };
    PolicyIdentity id;
    id.unit = "svc-1-worker.service";
    EXPECT_EQ(rule_for(id), "svc");
    id.unit = "svc-10-worker.service";
    id.cgroup = "/system.slice/app-1/x";
    EXPECT_EQ(rule_for(id), "cg");
    id.cgroup = "/system.slice/app-10/x";
    id.groups = {"team"};
    EXPECT_EQ(rule_for(id), "team");
    id.groups = {};
    EXPECT_EQ(rule_for(id), "rest");
}

TEST(RuleIndex, HandAssembledPolicyWithoutIndexStillEvaluates) {
    Policy policy;
    policy.rules = rules_from({PrincipalMatch{}});
    policy.rules[0].name = "all";
    PolicyState state;
    PolicyRequest request;
    request.method = "GET";
    request.path = "/v1/models";
    EXPECT_EQ(evaluate(policy, PolicyIdentity{}, request, state, PolicyTimePoint{}).rule, "all");
}

}  // namespace
}  // namespace sluice
