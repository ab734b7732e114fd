// Policy keys say which kind of name they match: units, slices, containers, pods, cgroups and
// exes only the system's; user_* keys only what the caller itself made, and only beside users
// or uids. `policy check` warns about globs only user-made names (or user-writable places) meet.
#include <gtest/gtest.h>

#include <string>

#include "policy/policy_engine.h"
#include "policy/policy_lint.h"
#include "policy/policy_loader.h"

namespace sluice {
namespace {

std::shared_ptr<const Policy> must_load(const std::string& yaml) {
    auto result = load_policy(yaml, "test.yaml");
    EXPECT_TRUE(result.ok()) << result.error;
    return result.policy;
}

const std::string kPolicy = R"(
version: 1
default: deny
rules:
  - {name: ci-unit, match: {units: ["ci-*.service"]}}
  - {name: ci-slice, match: {slices: ["ci.slice"]}}
  - {name: ci-container, match: {containers: ["abc*"]}}
  - {name: ci-pod, match: {pods: ["0f3a*"]}}
  - {name: ci-cgroup, match: {cgroups: ["*/ci-build.service"]}}
  - {name: ci-exe, match: {exes: ["/opt/ci/*"]}}
  - {name: own-unit, match: {uids: [65534], user_units: ["dev-*.service"]}}
  - {name: own-slice, match: {users: [nobody], user_slices: ["dev.slice"]}}
  - {name: own-container, match: {uids: [65534], user_containers: ["def*"]}}
  - {name: own-pod, match: {uids: [65534], user_pods: ["1111*"]}}
  - {name: own-cgroup, match: {uids: [65534], user_cgroups: ["/dev/*"]}}
  - {name: own-exe, match: {uids: [65534], user_exes: ["/home/nobody/*"]}}
)";

PolicyIdentity nobody_in_own_subtree() {
    PolicyIdentity id;
    id.uid = 65534;
    id.user = "nobody";
    id.cgroup = "/user.slice/user-65534.slice/user@65534.service";
    id.unit = "user@65534.service";
    id.slice = "user-65534.slice";
    id.user_controlled = UserControlledNames{
        65534, "/app.slice/ci-build.service", "ci-build.service", "ci.slice", "abc123", "0f3a5c2e"};
    return id;
}

std::string rule_for(const Policy& policy, const PolicyIdentity& id) {
    PolicyRequest request;
    request.method = "POST";
    request.path = "/v1/chat/completions";
    PolicyState state;
    return evaluate(policy, id, request, state, {}).rule;
}

TEST(UserControlledNames, SystemKeysNeverMatchUserMadeNames) {
    auto policy = must_load(kPolicy);
    EXPECT_EQ(rule_for(*policy, nobody_in_own_subtree()), "default");
    // The same names in the system's part do match, key by key.
    struct Case {
        const char* rule;
        std::function<void(PolicyIdentity&)> set;
    };
    const Case cases[] = {
        {"ci-unit", [](PolicyIdentity& id) { id.unit = "ci-build.service"; }},
        {"ci-slice", [](PolicyIdentity& id) { id.slice = "ci.slice"; }},
        {"ci-container", [](PolicyIdentity& id) { id.container_id = "abc123"; }},
        {"ci-pod", [](PolicyIdentity& id) { id.pod_uid = "0f3a5c2e"; }},
        {"ci-cgroup", [](PolicyIdentity& id) { id.cgroup = "/system.slice/ci-build.service"; }},
        {"ci-exe", [](PolicyIdentity& id) { id.exe = "/opt/ci/run", id.exe_trusted = true; }},
    };
    for (const Case& c : cases) {
        PolicyIdentity id;
        id.uid = 990;
        id.user = "ci";
        c.set(id);
        EXPECT_EQ(rule_for(*policy, id), c.rule);
    }
}

TEST(UserControlledNames, UserKeysMatchOnlyTheOwnersOwnNames) {
    auto policy = must_load(kPolicy);
    struct Case {
        const char* rule;
        std::function<void(UserControlledNames&)> set;
    };
    const Case cases[] = {
        {"own-unit", [](UserControlledNames& u) { u.unit = "dev-x.service"; }},
        {"own-slice", [](UserControlledNames& u) { u.slice = "dev.slice"; }},
        {"own-container", [](UserControlledNames& u) { u.container_id = "def456"; }},
        {"own-pod", [](UserControlledNames& u) { u.pod_uid = "1111-2222"; }},
        {"own-cgroup", [](UserControlledNames& u) { u.cgroup = "/dev/x.scope"; }},
    };
    for (const Case& c : cases) {
        PolicyIdentity id = nobody_in_own_subtree();
        c.set(*id.user_controlled);
        EXPECT_EQ(rule_for(*policy, id), c.rule);
        // Someone else's subtree, or a subtree whose owner the kernel did not say: no match.
        id.user_controlled->owner_uid = 1000;
        EXPECT_EQ(rule_for(*policy, id), "default") << c.rule;
        id.user_controlled->owner_uid.reset();
        EXPECT_EQ(rule_for(*policy, id), "default") << c.rule;
    }
    // user_exes matches the exe whatever its trust, but only for the user named beside it.
    PolicyIdentity own_exe = nobody_in_own_subtree();
    own_exe.exe = "/home/nobody/bin/agent";
    EXPECT_EQ(rule_for(*policy, own_exe), "own-exe");
    own_exe.uid = 1000;
    own_exe.user = "alice";
    EXPECT_EQ(rule_for(*policy, own_exe), "default");
}

TEST(UserControlledNames, ExesMatchOnlyTrustedExecutables) {
    auto policy = must_load(kPolicy);
    PolicyIdentity id;
    id.uid = 1000;
    id.user = "alice";
    id.exe = "/opt/ci/run";
    id.exe_trusted = false;
    EXPECT_EQ(rule_for(*policy, id), "default");
    PolicyRequest request;
    request.method = "POST";
    request.path = "/v1/chat/completions";
    const std::string why = explain(*policy, id, request);
    EXPECT_NE(why.find("is not root's alone"), std::string::npos) << why;
    id.exe_trusted = true;
    EXPECT_EQ(rule_for(*policy, id), "ci-exe");
}

TEST(UserControlledNames, ExplainSaysWhyAUserMadeUnitIsNotTheSystems) {
    auto policy = must_load(kPolicy);
    PolicyRequest request;
    request.method = "POST";
    request.path = "/v1/chat/completions";
    PolicyIdentity id = nobody_in_own_subtree();
    id.uid = 1000;  // a subtree that is not the caller's
    const std::string why = explain(*policy, id, request);
    EXPECT_NE(why.find("unit 'user@65534.service' matches none of"), std::string::npos) << why;
    EXPECT_NE(why.find("is not in a subtree the caller owns"), std::string::npos) << why;
}

TEST(UserControlledNames, UserKeysNeedUsersOrUids) {
    for (const char* key : {"user_units", "user_slices", "user_containers", "user_pods",
                            "user_cgroups", "user_exes"}) {
        const std::string yaml =
            std::string("version: 1\ndefault: deny\nrules:\n  - name: x\n    match: {") + key +
            ": [\"a*\"]}\n";
        auto result = load_policy(yaml, "p.yaml");
        EXPECT_FALSE(result.ok()) << key;
        EXPECT_NE(result.error.find(std::string("rules[0].match.") + key), std::string::npos)
            << result.error;
        EXPECT_NE(result.error.find("add users or uids"), std::string::npos) << result.error;
        const std::string with_group =
            std::string(
                "version: 1\ndefault: deny\nrules:\n  - name: x\n    match: {groups: [g], ") +
            key + ": [\"a*\"]}\n";
        EXPECT_FALSE(load_policy(with_group, "p.yaml").ok()) << key;
        const std::string with_uid =
            std::string("version: 1\ndefault: deny\nrules:\n  - name: x\n    match: {uids: [7], ") +
            key + ": [\"a*\"]}\n";
        EXPECT_TRUE(load_policy(with_uid, "p.yaml").ok()) << key;
    }
}

TEST(PolicyLint, FlagsGlobsOnlyUserMadeNamesOrUserWritablePlacesMeet) {
    auto policy = must_load(R"(
version: 1
default: deny
rules:
  - {name: below-user-manager, match: {cgroups: ["/user.slice/*/user@*.service/app.slice/*"]}}
  - {name: app-scope, match: {units: ["app-*.scope"]}}
  - {name: app-slice, match: {slices: ["app.slice"]}}
  - {name: runner-anywhere, match: {exes: ["*/ci-runner"]}}
  - {name: runner-tmp, match: {exes: ["/tmp/ci/*"]}}
  - {name: runner-home, match: {exes: ["/ho*"]}}
  - {name: fine, match: {units: ["ci-*.service"], cgroups: ["/system.slice/*"], exes: ["/usr/bin/ci-runner"]}}
  - {name: own, match: {uids: [5], user_units: ["app-*.scope"], user_exes: ["*/x"]}}
)");
    const std::vector<std::string> warnings = lint_policy(*policy);
    auto flagged = [&](const std::string& rule) {
        for (const auto& w : warnings)
            if (w.find("rule '" + rule + "'") != std::string::npos) return true;
        return false;
    };
    for (const char* rule : {"below-user-manager", "app-scope", "app-slice", "runner-anywhere",
                             "runner-tmp", "runner-home"})
        EXPECT_TRUE(flagged(rule)) << rule;
    EXPECT_FALSE(flagged("fine"));
    EXPECT_FALSE(flagged("own"));
    EXPECT_EQ(warnings.size(), 6u);
    EXPECT_EQ(warnings[0].rfind("test.yaml:5: rule 'below-user-manager': cgroups glob", 0), 0u)
        << warnings[0];
    EXPECT_NE(warnings[0].find("use user_cgroups"), std::string::npos);
}

TEST(PolicyLint, FlagsFullRecordingOfARuleThatMasksNothing) {
    auto policy = must_load(R"(
version: 1
default: deny
rules:
  - {name: raw, match: {users: [a]}, record: full}
  - {name: masked, match: {users: [b]}, record: full, masking: [{entities: [email]}]}
  - {name: meta, match: {users: [c]}, record: metadata}
)");
    const std::vector<std::string> warnings = lint_policy(*policy);
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("rule 'raw': record: full"), std::string::npos) << warnings[0];
}

}  // namespace
}  // namespace sluice
