#include "policy/policy_engine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include "policy/policy_loader.h"
#include "policy/prompt_text.h"
#include "tests/unit/policy/read_body.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;
const PolicyTimePoint kNoon{std::chrono::sys_days{std::chrono::year{2024} / 3 / 1} + 12h};

std::shared_ptr<const Policy> must_load(const std::string& yaml, PolicyLoadOptions options = {}) {
    auto result = load_policy(yaml, "test.yaml", options);
    EXPECT_TRUE(result.ok()) << result.error;
    return result.policy;
}

PolicyIdentity user(const std::string& name, std::vector<std::string> groups = {}) {
    PolicyIdentity id;
    id.user = name;
    id.uid = 1000;
    id.groups = std::move(groups);
    id.unit = "session-1.scope";
    id.cgroup = "/user.slice/user-1000.slice/session-1.scope";
    id.exe = "/usr/bin/python3";
    return id;
}

PolicyIdentity unit(const std::string& name) {
    PolicyIdentity id;
    id.user = "ci";
    id.uid = 990;
    id.unit = name;
    id.cgroup = "/system.slice/" + name;
    return id;
}

PolicyRequest chat(const std::string& model, std::optional<int64_t> max_tokens = std::nullopt,
                   std::vector<std::string> texts = {"hello"}) {
    PolicyRequest r;
    r.method = "POST";
    r.path = "/v1/chat/completions";
    r.model = model;
    r.max_output_tokens = max_tokens;
    r.texts = std::move(texts);
    r.estimated_prompt_tokens = 10;
    return r;
}

PolicyDecision eval(const Policy& p, const PolicyIdentity& id, const PolicyRequest& r,
                    PolicyState& s, PolicyTimePoint now = kNoon) {
    return evaluate(p, id, r, s, now);
}

const char* kTwoRules = R"(
default: deny
rules:
  - name: ci
    match: {units: ["ci-*.service"]}
    models: {allow: [gpt-4o-mini]}
  - name: ml
    match: {groups: [ml]}
)";

TEST(PolicyEngine, FirstMatchingRuleWins) {
    auto p = must_load(kTwoRules);
    PolicyState s;
    auto ci = eval(*p, unit("ci-build.service"), chat("gpt-4o"), s);
    EXPECT_EQ(ci.action, PolicyAction::deny);
    EXPECT_EQ(ci.rule, "ci");
    EXPECT_EQ(ci.code, "model_not_allowed");
    EXPECT_EQ(ci.http_status, 403);
    EXPECT_TRUE(eval(*p, unit("ci-build.service"), chat("gpt-4o-mini"), s).allowed());
    auto alice = eval(*p, user("alice", {"ml"}), chat("gpt-4o"), s);
    EXPECT_TRUE(alice.allowed());
    EXPECT_EQ(alice.rule, "ml");
    EXPECT_EQ(alice.http_status, 200);
    // A CI unit whose user is also in ml still hits `ci` first.
    auto both = unit("ci-x.service");
    both.groups = {"ml"};
    EXPECT_EQ(eval(*p, both, chat("gpt-4o"), s).rule, "ci");
}

TEST(PolicyEngine, DefaultDecidesWhenNothingMatches) {
    PolicyState s;
    auto deny = eval(*must_load(kTwoRules), user("bob"), chat("gpt-4o"), s);
    EXPECT_EQ(deny.action, PolicyAction::deny);
    EXPECT_EQ(deny.rule, "default");
    EXPECT_EQ(deny.code, "policy_default_deny");
    auto allow = eval(*must_load("default: allow\n"), user("bob"), chat("gpt-4o"), s);
    EXPECT_TRUE(allow.allowed());
    EXPECT_EQ(allow.rule, "default");
}

TEST(PolicyEngine, EveryPrincipalMatcher) {
    auto p = must_load(R"(
default: deny
rules:
  - {name: by-user, match: {users: [alice]}}
  - {name: by-uid, match: {uids: [4242]}}
  - {name: by-cgroup, match: {cgroups: ["/system.slice/docker-*.scope"]}}
  - {name: by-container, match: {containers: ["abc*"]}}
  - {name: by-exe, match: {exes: ["/opt/tools/*"]}}
  - {name: by-oidc-sub, match: {oidc: {subjects: ["user-1*"]}}}
  - {name: by-oidc-group, match: {oidc: {groups: [admins]}}}
  - {name: by-oidc-claim, match: {oidc: {claims: {team: ["data-*"]}}}}
  - {name: and-of-keys, match: {users: [carol], exes: ["/usr/bin/curl"]}}
)");
    PolicyState s;
    auto rule_for = [&](const PolicyIdentity& id) { return eval(*p, id, chat("m"), s).rule; };
    EXPECT_EQ(rule_for(user("alice")), "by-user");
    auto uid = user("nobody");
    uid.uid = 4242;
    EXPECT_EQ(rule_for(uid), "by-uid");
    PolicyIdentity docker;
    docker.cgroup = "/system.slice/docker-0123.scope";
    EXPECT_EQ(rule_for(docker), "by-cgroup");
    PolicyIdentity container;
    container.container_id = "abcdef";
    EXPECT_EQ(rule_for(container), "by-container");
    PolicyIdentity exe;
    exe.exe = "/opt/tools/bin/agent";
    EXPECT_EQ(rule_for(exe), "default");  // a user could have put it there: never `exes`
    exe.exe_trusted = true;
    EXPECT_EQ(rule_for(exe), "by-exe");
    PolicyIdentity oidc;
    oidc.oidc = OidcIdentity{"https://issuer", "user-123", "", {}, {}};
    EXPECT_EQ(rule_for(oidc), "by-oidc-sub");
    oidc.oidc = OidcIdentity{"https://issuer", "x", "", {"admins"}, {}};
    EXPECT_EQ(rule_for(oidc), "by-oidc-group");
    oidc.oidc = OidcIdentity{"https://issuer", "x", "", {}, {{"team", {"ops", "data-eng"}}}};
    EXPECT_EQ(rule_for(oidc), "by-oidc-claim");
    auto carol = user("carol");
    EXPECT_EQ(rule_for(carol), "default");  // exe does not match: AND across keys
    carol.exe = "/usr/bin/curl";
    carol.exe_trusted = true;
    EXPECT_EQ(rule_for(carol), "and-of-keys");
    EXPECT_EQ(rule_for(PolicyIdentity{}), "default");  // empty identity never matches a glob
}

// Containers by what their runtime's records say: runtime, name, image (globs), besides the id.
TEST(PolicyEngine, ContainersByRuntimeNameAndImage) {
    auto p = must_load(R"(
default: deny
rules:
  - {name: ci-images, match: {container_images: ["registry.corp/ci/*"]}}
  - {name: named-agents, match: {container_runtimes: [podman], container_names: ["agent-*"]}}
  - {name: docker-any, match: {container_runtimes: [docker]}}
)");
    PolicyState s;
    auto rule_for = [&](const PolicyIdentity& id) { return eval(*p, id, chat("m"), s).rule; };
    PolicyIdentity ci;
    ci.container_runtime = "containerd";
    ci.container_id = "0123456789abcdef";
    ci.container_image = "registry.corp/ci/builder:7";
    EXPECT_EQ(rule_for(ci), "ci-images");
    PolicyIdentity agent;
    agent.container_runtime = "podman";
    agent.container_id = "0123456789abcdef";
    agent.container_name = "agent-7";
    EXPECT_EQ(rule_for(agent), "named-agents");
    agent.container_runtime = "cri-o";
    EXPECT_EQ(rule_for(agent), "default") << "the runtime must match too";
    PolicyIdentity docker;
    docker.container_runtime = "docker";
    EXPECT_EQ(rule_for(docker), "docker-any");
    EXPECT_EQ(rule_for(PolicyIdentity{}), "default") << "not a container: no name, no image";
    std::string why;
    PrincipalMatch names;
    names.container_names = {"agent-*"};
    EXPECT_FALSE(principal_matches(names, PolicyIdentity{}, &why));
    EXPECT_NE(why.find("container name"), std::string::npos) << why;
}

// A rootless container's names are its user's: they never fill the system's container keys
// (agent/identity/policy_identity.cpp), so only user_containers can match such a container.
TEST(PolicyLoader, ContainerKeysAreSystemKeys) {
    EXPECT_TRUE(load_policy("default: deny\nrules:\n  - {name: a, match: {container_names: [x]}}\n",
                            "t.yaml")
                    .ok());
    EXPECT_FALSE(load_policy("default: deny\nrules:\n  - {name: a, match: {container_name: [x]}}\n",
                             "t.yaml")
                     .ok());
}

TEST(PolicyEngine, ExplicitDenyRuleAndApproval) {
    auto p = must_load(R"(
default: allow
rules:
  - {name: blocked, match: {users: [mallory]}, action: deny}
  - {name: gated, match: {users: [intern]}, require_approval: true}
)");
    PolicyState s;
    auto d = eval(*p, user("mallory"), chat("m"), s);
    EXPECT_EQ(d.code, "rule_denied");
    auto a = eval(*p, user("intern"), chat("m"), s);
    EXPECT_EQ(a.action, PolicyAction::approval_required);
    EXPECT_EQ(a.code, "approval_required");
    EXPECT_EQ(a.http_status, 403);
}

TEST(PolicyEngine, ApprovalConditionsAndTheGrantedApproval) {
    auto p = must_load(R"(
default: allow
rules:
  - name: gated
    match: {users: [intern]}
    models: {allow: [gpt-4o-mini]}
    require_approval: {patterns: ['(?i)production'], min_prompt_tokens: 100}
)");
    PolicyState s;
    auto request = [](std::string text, int64_t tokens, std::string model = "gpt-4o-mini") {
        PolicyRequest r = chat(model);
        r.texts = {std::move(text)};
        r.estimated_prompt_tokens = tokens;
        return r;
    };
    EXPECT_TRUE(eval(*p, user("intern"), request("hello", 10), s).allowed()) << "no condition met";
    auto held = eval(*p, user("intern"), request("push to Production", 10), s);
    EXPECT_EQ(held.code, "approval_required");
    EXPECT_NE(held.reason.find("prompt matches pattern"), std::string::npos) << held.reason;
    auto big = eval(*p, user("intern"), request("hello", 150), s);
    EXPECT_NE(big.reason.find("estimated 150 prompt tokens"), std::string::npos) << big.reason;
    // Controls that refuse outright come first: such a request is never held.
    EXPECT_EQ(eval(*p, user("intern"), request("production", 10, "gpt-4o"), s).code,
              "model_not_allowed");
    PolicyRequest approved = request("production", 10);
    approved.approval_granted = true;
    EXPECT_TRUE(eval(*p, user("intern"), approved, s).allowed());
}

TEST(PolicyEngine, MinApproversTravelsWithTheHoldAndAloneHoldsEveryRequest) {
    auto p = must_load(R"(
default: allow
rules:
  - {name: two-person, match: {users: [intern]}, require_approval: {min_approvers: 2}}
  - {name: one-person, match: {users: [bob]}, require_approval: {patterns: ['drop']}}
)");
    PolicyState s;
    auto held = eval(*p, user("intern"), chat("m"), s);
    EXPECT_EQ(held.code, "approval_required");
    EXPECT_EQ(held.min_approvers, 2);
    EXPECT_NE(held.reason.find("by 2 approvers"), std::string::npos) << held.reason;
    PolicyRequest drop = chat("m");
    drop.texts = {"drop it"};
    auto single = eval(*p, user("bob"), drop, s);
    EXPECT_EQ(single.code, "approval_required");
    EXPECT_EQ(single.min_approvers, 1);
    EXPECT_EQ(single.reason.find("approvers"), std::string::npos) << single.reason;
}

TEST(PolicyEngine, EndpointsAllowAndDenyWithMethod) {
    auto p = must_load(R"(
default: deny
rules:
  - name: r
    match: {}
    endpoints:
      allow: ["POST /v1/chat/*", "GET /v1/models*", "/v1/embeddings"]
      deny: ["POST /v1/chat/completions/*"]
)");
    PolicyState s;
    auto req = [](std::string method, std::string path) {
        PolicyRequest r;
        r.method = std::move(method);
        r.path = std::move(path);
        return r;
    };
    EXPECT_TRUE(eval(*p, user("a"), req("POST", "/v1/chat/completions"), s).allowed());
    EXPECT_TRUE(eval(*p, user("a"), req("GET", "/v1/models?limit=2"), s).allowed());
    EXPECT_TRUE(eval(*p, user("a"), req("DELETE", "/v1/embeddings"), s).allowed());  // any method
    EXPECT_EQ(eval(*p, user("a"), req("GET", "/v1/chat/completions"), s).code,
              "endpoint_not_allowed");
    EXPECT_EQ(eval(*p, user("a"), req("POST", "/v1/chat/completions/abc"), s).code,
              "endpoint_not_allowed");
    EXPECT_EQ(eval(*p, user("a"), req("POST", "/v1/files"), s).code, "endpoint_not_allowed");
}

TEST(PolicyEngine, ModelDenyBeatsAllowAndEmptyModelSkips) {
    auto p = must_load(
        "default: deny\nrules:\n  - {name: r, match: {}, models: {allow: ['gpt-*'], deny: "
        "['gpt-4.5*']}}\n");
    PolicyState s;
    EXPECT_TRUE(eval(*p, user("a"), chat("gpt-4o"), s).allowed());
    EXPECT_EQ(eval(*p, user("a"), chat("gpt-4.5-preview"), s).code, "model_not_allowed");
    EXPECT_EQ(eval(*p, user("a"), chat("o3"), s).code, "model_not_allowed");
    EXPECT_TRUE(eval(*p, user("a"), chat(""), s).allowed());  // GET /v1/models names no model
}

TEST(PolicyEngine, MaxTokensRejectVersusClamp) {
    auto p = must_load(R"(
default: deny
rules:
  - {name: strict, match: {users: [s]}, max_tokens: {limit: 100}}
  - {name: soft, match: {users: [c]}, max_tokens: {limit: 100, mode: clamp}}
)");
    PolicyState s;
    EXPECT_EQ(eval(*p, user("s"), chat("m", 101), s).code, "max_tokens_exceeded");
    auto at_limit = eval(*p, user("s"), chat("m", 100), s);
    EXPECT_TRUE(at_limit.allowed());
    EXPECT_FALSE(at_limit.clamp_max_tokens);
    EXPECT_EQ(eval(*p, user("s"), chat("m"), s).clamp_max_tokens, 100);  // unset: cap written in
    auto clamped = eval(*p, user("c"), chat("m", 5000), s);
    EXPECT_TRUE(clamped.allowed());
    EXPECT_EQ(clamped.clamp_max_tokens, 100);
    EXPECT_FALSE(eval(*p, user("c"), chat("m", 50), s).clamp_max_tokens);
}

const char* kSecrets = R"(
default: allow
pattern_sets:
  secrets:
    - {name: aws, regex: 'AKIA[0-9A-Z]{16}'}
    - {name: openai, regex: 'sk-[A-Za-z0-9]{20,}'}
block_prompts: {sets: [secrets]}
rules:
  - name: no-names
    match: {users: [alice]}
    block_prompts: {patterns: ['(?i)project\s+bluebird']}
  - name: lenient
    match: {users: [bob]}
    block_prompts: {patterns: ['x'], fail_mode: open}
)";

TEST(PolicyEngine, PromptPatternsBlockEverywhereWithoutEchoingText) {
    auto p = must_load(kSecrets);
    PolicyState s;
    auto d = eval(*p, user("zed"), chat("m", {}, {"fine", "my key is AKIAABCDEFGHIJKLMNOP ok"}), s);
    EXPECT_EQ(d.code, "prompt_blocked");
    EXPECT_EQ(d.rule, "block_prompts");
    EXPECT_EQ(d.reason.find("AKIA"), std::string::npos) << d.reason;
    EXPECT_NE(d.reason.find("secrets/aws"), std::string::npos);
    EXPECT_EQ(eval(*p, user("alice"), chat("m", {}, {"About PROJECT  Bluebird"}), s).code,
              "prompt_blocked");
    EXPECT_TRUE(eval(*p, user("alice"), chat("m", {}, {"About bluebirds"}), s).allowed());
}

TEST(PolicyEngine, PromptsBlockedInResponsesToolOutputs) {
    auto p = must_load(kSecrets);
    PolicyState s;
    const ReadBody body(R"({"model":"gpt-4.1","input":[
        {"type":"function_call_output","call_id":"c","output":"env: sk-abcdefghijklmnopqrstuvwxyz"}]})",
                        "/v1/responses");
    PolicyRequest r;
    r.method = "POST";
    r.path = "/v1/responses";
    r.model = "gpt-4.1";
    r.texts = extract_prompt_texts(body.view, r.path);
    EXPECT_EQ(eval(*p, user("zed"), r, s).code, "prompt_blocked");
}

TEST(PolicyEngine, UnreadableBodyFollowsFailMode) {
    auto p = must_load(kSecrets);
    PolicyState s;
    auto r = chat("m");
    r.body_readable = false;
    EXPECT_EQ(eval(*p, user("zed"), r, s).code, "prompt_unscannable");  // global block is closed
    auto open = must_load("default: allow\nblock_prompts: {patterns: ['x'], fail_mode: open}\n");
    auto d = eval(*open, user("zed"), r, s);
    EXPECT_TRUE(d.allowed());
    EXPECT_EQ(d.skipped_controls, std::vector<std::string>{"block_prompts (global)"});
}

const char* kRate = R"(
default: deny
rules:
  - name: r
    match: {}
    rate_limit: {requests_per_minute: 2, tokens_per_minute: 1000}
)";

TEST(PolicyEngine, RequestsPerMinuteWithRetryAfterFromRefill) {
    auto p = must_load(kRate);
    PolicyState s;
    auto r = chat("m", 10);
    EXPECT_TRUE(eval(*p, user("a"), r, s).allowed());
    EXPECT_TRUE(eval(*p, user("a"), r, s, kNoon + 1s).allowed());
    auto limited = eval(*p, user("a"), r, s, kNoon + 10s);
    EXPECT_EQ(limited.action, PolicyAction::rate_limited);
    EXPECT_EQ(limited.http_status, 429);
    EXPECT_EQ(limited.code, "rate_limited");
    EXPECT_EQ(limited.retry_after_s, 20);  // 2/min: one request every 30 s, 10 s elapsed
    EXPECT_TRUE(eval(*p, user("b"), r, s, kNoon + 10s).allowed());  // per principal
    EXPECT_FALSE(eval(*p, user("a"), r, s, kNoon + 29s).allowed());
    EXPECT_TRUE(eval(*p, user("a"), r, s, kNoon + 30s).allowed());
}

TEST(PolicyEngine, TokensPerMinuteRefundedAtSettle) {
    auto p = must_load(kRate);
    PolicyState s;
    auto big = chat("m", 890);  // 10 prompt + 890 output = 900 tokens of 1000
    auto first = eval(*p, user("a"), big, s);
    ASSERT_TRUE(first.allowed());
    EXPECT_NE(first.reservation_id, 0u);
    EXPECT_EQ(eval(*p, user("a"), chat("m", 200), s).action, PolicyAction::rate_limited);
    s.settle(first.reservation_id, TokenUsage{10, 40}, kNoon);  // really used 50: 850 back
    EXPECT_TRUE(eval(*p, user("a"), chat("m", 200), s).allowed());
    auto too_big = eval(*p, user("z"), chat("m", 5000), s);
    EXPECT_EQ(too_big.action, PolicyAction::rate_limited);
    EXPECT_EQ(too_big.retry_after_s, 60);
}

const char* kBudget = R"(
default: deny
timezone: "+02:00"
prices:
  gpt-4o-mini: {input_per_1m: 1, output_per_1m: 2}
rules:
  - name: b
    match: {}
    budget: {tokens_per_day: 1000, per: rule}
  - name: cost
    match: {users: [never]}
    budget: {cost_per_day: 0.01}
)";

TEST(PolicyEngine, BudgetReservesEstimateAndSettlesLowerOrHigher) {
    auto p = must_load(kBudget);
    PolicyState s;
    auto d1 = eval(*p, user("a"), chat("gpt-4o-mini", 390), s);  // holds 400
    ASSERT_TRUE(d1.allowed());
    auto d2 = eval(*p, user("b"), chat("gpt-4o-mini", 390), s);  // holds 800, shared per rule
    ASSERT_TRUE(d2.allowed());
    auto over = eval(*p, user("c"), chat("gpt-4o-mini", 390), s);
    EXPECT_EQ(over.action, PolicyAction::budget_exceeded);
    EXPECT_EQ(over.http_status, 429);
    EXPECT_EQ(over.code, "budget_exceeded");
    // Noon UTC at +02:00 is 14:00; local midnight is 10 h away.
    EXPECT_EQ(over.retry_after_s, 10 * 3600);
    s.settle(d1.reservation_id, TokenUsage{10, 90}, kNoon);  // used 100 of 400: 300 back
    EXPECT_TRUE(eval(*p, user("c"), chat("gpt-4o-mini", 390), s).allowed());  // 100 + 400 + 400
    s.settle(d2.reservation_id, TokenUsage{10, 690}, kNoon);  // used 700 > 400 estimate
    EXPECT_EQ(eval(*p, user("d"), chat("gpt-4o-mini", 0), s).action, PolicyAction::budget_exceeded);
    auto accounts = s.budget_accounts();
    ASSERT_EQ(accounts.size(), 1u);
    EXPECT_EQ(accounts[0].account.used.tokens, 800);
    EXPECT_EQ(accounts[0].account.reserved.tokens, 400);
}

TEST(PolicyEngine, ReleaseReturnsEverythingAndSettleTwiceIsHarmless) {
    auto p = must_load(kBudget);
    PolicyState s;
    auto d = eval(*p, user("a"), chat("gpt-4o-mini", 990), s);  // holds all 1000
    ASSERT_TRUE(d.allowed());
    EXPECT_FALSE(eval(*p, user("a"), chat("gpt-4o-mini", 0), s).allowed());
    s.release(d.reservation_id, kNoon);
    s.settle(d.reservation_id, TokenUsage{1000, 1000}, kNoon);  // already gone: ignored
    EXPECT_EQ(s.outstanding_reservations(), 0u);
    EXPECT_TRUE(eval(*p, user("a"), chat("gpt-4o-mini", 990), s).allowed());
}

TEST(PolicyEngine, SettleWithoutUsageChargesTheEstimate) {
    auto p = must_load(kBudget);
    PolicyState s;
    auto d = eval(*p, user("a"), chat("gpt-4o-mini", 490), s);
    s.settle(d.reservation_id, std::nullopt, kNoon);
    EXPECT_EQ(s.budget_accounts()[0].account.used.tokens, 500);
}

TEST(PolicyEngine, ConcurrentBurstNeverOvershootsBudget) {
    auto p = must_load(kBudget);
    PolicyState s;
    std::atomic<int> admitted{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 16; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 50; ++i)
                if (eval(*p, user("u" + std::to_string(i)), chat("gpt-4o-mini", 40), s).allowed())
                    ++admitted;
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(admitted.load(), 20);  // 1000 / (10 + 40)
    auto accounts = s.budget_accounts();
    EXPECT_LE(accounts[0].account.reserved.tokens + accounts[0].account.used.tokens, 1000);
}

TEST(PolicyEngine, BudgetRollsOverAtLocalMidnightInOffsetZone) {
    auto p = must_load(kBudget);
    PolicyState s;
    // 21:59:59 UTC is 23:59:59 at +02:00.
    auto before =
        PolicyTimePoint{std::chrono::sys_days{std::chrono::year{2024} / 3 / 1} + 21h + 59min + 59s};
    auto d = eval(*p, user("a"), chat("gpt-4o-mini", 990), s, before);
    ASSERT_TRUE(d.allowed());
    s.settle(d.reservation_id, TokenUsage{10, 990}, before);
    auto still = eval(*p, user("a"), chat("gpt-4o-mini", 0), s, before);
    EXPECT_EQ(still.action, PolicyAction::budget_exceeded);
    EXPECT_EQ(still.retry_after_s, 1);
    EXPECT_TRUE(eval(*p, user("a"), chat("gpt-4o-mini", 0), s, before + 1s).allowed());
}

TEST(PolicyEngine, ReservationsHeldAcrossMidnightStayCounted) {
    auto p = must_load(kBudget);
    PolicyState s;
    auto before =
        PolicyTimePoint{std::chrono::sys_days{std::chrono::year{2024} / 3 / 1} + 21h + 59min};
    auto held =
        eval(*p, user("a"), chat("gpt-4o-mini", 590), s, before);  // in flight over midnight
    ASSERT_TRUE(held.allowed());
    EXPECT_FALSE(eval(*p, user("a"), chat("gpt-4o-mini", 490), s, before + 2min).allowed());
    EXPECT_TRUE(eval(*p, user("a"), chat("gpt-4o-mini", 390), s, before + 2min).allowed());
}

TEST(PolicyEngine, CostBudgetUsesPriceTableAndFailsClosedOnUnknownPrice) {
    auto p = must_load(R"(
default: deny
prices:
  cheap: {input_per_1m: 1000, output_per_1m: 1000}
rules:
  - {name: c, match: {users: [a]}, budget: {cost_per_day: 1.00}}
  - {name: o, match: {users: [b]}, budget: {cost_per_day: 1.00, fail_mode: open}}
)");
    PolicyState s;
    // $1000 per 1M tokens = $0.001 per token; $1 buys 1000 tokens.
    auto d = eval(*p, user("a"), chat("cheap", 490), s);  // 500 tokens = $0.50
    ASSERT_TRUE(d.allowed());
    EXPECT_TRUE(eval(*p, user("a"), chat("cheap", 490), s).allowed());
    EXPECT_EQ(eval(*p, user("a"), chat("cheap", 0), s).action, PolicyAction::budget_exceeded);
    EXPECT_EQ(eval(*p, user("a"), chat("unknown-model", 0), s).code, "price_unknown");
    auto open = eval(*p, user("b"), chat("unknown-model", 0), s);
    EXPECT_TRUE(open.allowed());
    EXPECT_EQ(open.skipped_controls, std::vector<std::string>{"budget.cost_per_day"});
}

// Issue 24: eight parallel `n: 10` streams were admitted at ~110 tokens each and settled at
// ~1,000 each. Every output may run to the cap, so the reservation is prompt + cap × outputs and
// a burst settled at the worst the provider may bill stays within the budget.
TEST(PolicyEngine, BurstsWithManyOutputsStayWithinTheBudget) {
    auto p = must_load(R"(
default: deny
rules:
  - {name: b, match: {}, budget: {tokens_per_day: 2000, per: rule}}
)");
    for (int64_t outputs : {1, 2, 3, 7, 10, 64}) {
        for (int64_t cap : {1, 10, 100, 333, 1999}) {
            PolicyState s;
            auto r = chat("gpt-4o", cap);
            r.outputs = outputs;
            std::vector<uint64_t> admitted;
            for (int i = 0; i < 8; ++i) {
                auto d = eval(*p, user("u"), r, s);
                if (d.allowed()) admitted.push_back(d.reservation_id);
            }
            // Upstream bills the prompt (within its estimate) and every output to the cap.
            for (auto id : admitted)
                s.settle(id, TokenUsage{r.estimated_prompt_tokens, cap * outputs}, kNoon);
            EXPECT_LE(s.budget_accounts()[0].account.used.tokens, 2000)
                << "outputs " << outputs << " cap " << cap;
            EXPECT_EQ(admitted.size(),
                      std::min<size_t>(8, 2000 / (r.estimated_prompt_tokens + cap * outputs)))
                << "outputs " << outputs << " cap " << cap;
        }
    }
}

TEST(PolicyEngine, TokensPerMinuteCountsEveryOutput) {
    auto p = must_load(kRate);  // 1000 tokens per minute
    PolicyState s;
    auto r = chat("m", 100);
    r.outputs = 10;  // 10 + 1000: can never fit
    auto d = eval(*p, user("a"), r, s);
    EXPECT_EQ(d.action, PolicyAction::rate_limited);
    EXPECT_EQ(d.retry_after_s, 60);
    r.outputs = 9;  // 10 + 900
    EXPECT_TRUE(eval(*p, user("a"), r, s).allowed());
    r.outputs = 1;  // 910 of 1000 taken
    EXPECT_EQ(eval(*p, user("a"), r, s).action, PolicyAction::rate_limited);
}

TEST(PolicyEngine, BudgetWritesItsAssumedOutputAsTheCap) {
    auto p = must_load(R"(
default: deny
rules:
  - {name: b, match: {}, budget: {tokens_per_day: 2000, per: rule, assumed_output_tokens: 150}}
)");
    PolicyState s;
    auto r = chat("gpt-4o");
    r.output_cap_writable = true;
    r.outputs = 4;
    auto d = eval(*p, user("u"), r, s);
    ASSERT_TRUE(d.allowed());
    EXPECT_EQ(d.clamp_max_tokens, 150);  // the assumption becomes a bound upstream honours
    EXPECT_EQ(s.budget_accounts()[0].account.reserved.tokens, 10 + 150 * 4);
    // An endpoint without a cap field: the assumption is reserved but cannot be written.
    auto images = chat("gpt-image-1");
    images.path = "/v1/images/generations";
    EXPECT_FALSE(eval(*p, user("u"), images, s).clamp_max_tokens);
}

// tokens_per_minute without a budget: an uncapped request reserves (and gets written in) the
// rate limit's assumed output per output, and an unbounded one follows its fail mode.
TEST(PolicyEngine, TokensPerMinuteBoundsUncappedOutputWithoutABudget) {
    auto p = must_load(R"(
default: deny
rules:
  - {name: t, match: {users: [a]}, rate_limit: {tokens_per_minute: 5000, per: user, assumed_output_tokens: 1000}}
  - {name: o, match: {users: [b]}, rate_limit: {tokens_per_minute: 5000, per: user, fail_mode: open}}
)");
    PolicyState s;
    auto r = chat("gpt-4o");
    r.output_cap_writable = true;
    auto d = eval(*p, user("a"), r, s);
    ASSERT_TRUE(d.allowed());
    EXPECT_EQ(d.clamp_max_tokens, 1000);
    // Four outputs of up to 1000 each no longer fit what is left of the minute.
    r.outputs = 4;
    const auto second = eval(*p, user("a"), r, s);
    EXPECT_EQ(second.action, PolicyAction::rate_limited);
    r.outputs = 1;
    r.output_unbounded = "n is not a whole number";
    EXPECT_EQ(eval(*p, user("a"), r, s).code, "output_unbounded");
    const auto open = eval(*p, user("b"), r, s);
    ASSERT_TRUE(open.allowed());
    EXPECT_NE(std::find(open.skipped_controls.begin(), open.skipped_controls.end(),
                        "rate_limit.output_bound"),
              open.skipped_controls.end());
}

TEST(PolicyEngine, UnboundedOutputFollowsTheBudgetFailMode) {
    auto p = must_load(R"(
default: deny
rules:
  - {name: c, match: {users: [a]}, budget: {tokens_per_day: 100000}}
  - {name: o, match: {users: [b]}, budget: {tokens_per_day: 100000, fail_mode: open}}
  - {name: m, match: {users: [m]}, max_tokens: {limit: 100}}
  - {name: free, match: {users: [f]}}
)");
    PolicyState s;
    auto r = chat("gpt-4o", 100);
    r.output_unbounded = "n is not a whole number";
    auto closed = eval(*p, user("a"), r, s);
    EXPECT_EQ(closed.code, "output_unbounded");
    EXPECT_EQ(closed.http_status, 400);
    EXPECT_NE(closed.reason.find("n is not a whole number"), std::string::npos);
    auto open = eval(*p, user("b"), r, s);
    EXPECT_TRUE(open.allowed());
    EXPECT_EQ(open.skipped_controls, std::vector<std::string>{"budget.output_bound"});
    EXPECT_EQ(eval(*p, user("m"), r, s).code, "max_tokens_unknown");
    EXPECT_TRUE(eval(*p, user("f"), r, s).allowed());  // nothing needs a bound
}

// Issue 24: a body without a string model passed models.allow and was not costed.
TEST(PolicyEngine, UnnamedModelIsRefusedByModelRulesAndCostBudgets) {
    auto p = must_load(R"(
default: deny
prices:
  gpt-4o: {input_per_1m: 1, output_per_1m: 1}
rules:
  - {name: allow, match: {users: [a]}, models: {allow: [gpt-4o-mini]}}
  - {name: deny, match: {users: [d]}, models: {deny: [gpt-4o]}}
  - {name: open, match: {users: [o]}, models: {allow: [gpt-4o-mini], fail_mode: open}}
  - {name: cost, match: {users: [c]}, budget: {cost_per_day: 1.00}}
  - {name: tokens, match: {users: [t]}, budget: {tokens_per_day: 100000}}
)");
    PolicyState s;
    auto r = chat("", 10);
    r.model_unnamed = true;
    for (const char* who : {"a", "d", "c"}) {
        auto d = eval(*p, user(who), r, s);
        EXPECT_EQ(d.code, "model_unknown") << who;
        EXPECT_EQ(d.http_status, 400) << who;
    }
    auto open = eval(*p, user("o"), r, s);
    EXPECT_TRUE(open.allowed());
    EXPECT_EQ(open.skipped_controls, std::vector<std::string>{"models"});
    EXPECT_TRUE(eval(*p, user("t"), r, s).allowed());  // tokens need no model
    // No body at all (GET /v1/models) names no model and bills nothing: unchanged.
    auto get = chat("", std::nullopt, {});
    get.method = "GET";
    get.path = "/v1/models";
    EXPECT_TRUE(eval(*p, user("a"), get, s).allowed());
    EXPECT_TRUE(eval(*p, user("c"), get, s).allowed());
}

TEST(PolicyEngine, StateRoundTripsAndCountsHeldReservations) {
    auto p = must_load(kBudget);
    PolicyState s;
    auto settled = eval(*p, user("a"), chat("gpt-4o-mini", 190), s);
    s.settle(settled.reservation_id, TokenUsage{50, 50}, kNoon);
    ASSERT_TRUE(eval(*p, user("a"), chat("gpt-4o-mini", 290), s).allowed());  // still held
    auto json = s.to_json();
    PolicyState restored;
    ASSERT_FALSE(restored.restore(nlohmann::json::parse(json.dump())));
    auto accounts = restored.budget_accounts();
    ASSERT_EQ(accounts.size(), 1u);
    EXPECT_EQ(accounts[0].account.used.tokens, 400);  // 100 settled + 300 held at save time
    EXPECT_EQ(accounts[0].key, "budget|b");
    EXPECT_FALSE(eval(*p, user("a"), chat("gpt-4o-mini", 600), restored).allowed());
    EXPECT_TRUE(eval(*p, user("a"), chat("gpt-4o-mini", 590), restored).allowed());
    EXPECT_TRUE(
        restored.restore(nlohmann::json{{"version", 1}, {"budgets", {{"k", {{"day", "x"}}}}}})
            .has_value());
    EXPECT_TRUE(restored.restore(nlohmann::json::array()).has_value());
}

TEST(PolicyEngine, ExplainNamesMatchedRuleAndWhyEarlierOnesDidNot) {
    auto p = must_load(kTwoRules);
    auto text = explain(*p, user("alice", {"ml"}), chat("gpt-4o"));
    EXPECT_NE(text.find("decision: allow"), std::string::npos) << text;
    EXPECT_NE(text.find("rule: ml"), std::string::npos) << text;
    EXPECT_NE(text.find("rules[0] ci (line 4): no match — unit 'session-1.scope' matches none of "
                        "[ci-*.service]"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("rules[1] ml (line 7): MATCHED"), std::string::npos) << text;
    auto denied = explain(*p, unit("ci-a.service"), chat("gpt-4o"));
    EXPECT_NE(denied.find("decision: deny (403 model_not_allowed)"), std::string::npos) << denied;
}

TEST(PolicyEngine, ExplainSaysWhatTheDecidingRuleRecords) {
    auto p = must_load(
        "default: deny\nrules:\n  - {name: rec, match: {users: [alice]}, record: full}\n");
    EXPECT_NE(explain(*p, user("alice"), chat("gpt-4o")).find("record: full\n"), std::string::npos);
    EXPECT_NE(explain(*p, user("bob"), chat("gpt-4o")).find("record: none\n"), std::string::npos);
    // A rule that says nothing records metadata; `default: allow` (no rule) records nothing.
    auto q = must_load("default: allow\nrules:\n  - {name: quiet, match: {users: [alice]}}\n");
    EXPECT_NE(explain(*q, user("alice"), chat("gpt-4o")).find("record: metadata\n"),
              std::string::npos);
    EXPECT_NE(explain(*q, user("bob"), chat("gpt-4o")).find("record: none\n"), std::string::npos);
}

TEST(PolicyEngine, ExplainDoesNotChargeState) {
    auto p = must_load(kRate);
    std::string text;
    for (int i = 0; i < 5; ++i) text = explain(*p, user("a"), chat("m", 10));
    EXPECT_NE(text.find("decision: allow"), std::string::npos) << text;
    EXPECT_NE(text.find("not charged"), std::string::npos) << text;
}

TEST(PolicyEngine, PackagedExampleBehavesAsDocumented) {
    std::ifstream file(std::string(SLUICE_SOURCE_DIR) + "/packaging/policy.example.yaml");
    std::stringstream yaml;
    yaml << file.rdbuf();
    auto p = must_load(yaml.str());
    ASSERT_TRUE(p);
    PolicyState s;
    EXPECT_TRUE(eval(*p, unit("ci-build.service"), chat("gpt-4o-mini", 100), s).allowed());
    EXPECT_TRUE(eval(*p, unit("ci-build.service"), chat("gpt-4.1-mini", 100), s).allowed());
    EXPECT_EQ(eval(*p, unit("ci-build.service"), chat("gpt-4o", 100), s).code, "model_not_allowed");
    EXPECT_EQ(eval(*p, unit("ci-build.service"), chat("gpt-4o-mini", 9000), s).clamp_max_tokens,
              4096);
    EXPECT_TRUE(eval(*p, user("alice", {"ml"}), chat("o3"), s).allowed());
    EXPECT_EQ(eval(*p, user("bob"), chat("gpt-4o-mini"), s).code, "policy_default_deny");
    const char* secrets[] = {"AKIAIOSFODNN7EXAMPLE", "sk-proj-abcdefghijklmnopqrstuvwxyz012345",
                             "-----BEGIN OPENSSH PRIVATE KEY-----",
                             "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB",
                             "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"};
    for (const char* secret : secrets) {
        auto d = eval(*p, user("alice", {"ml"}),
                      chat("gpt-4o", {}, {std::string("look: ") + secret}), s);
        EXPECT_EQ(d.code, "prompt_blocked") << secret;
        // Glued to letters or `_` (the example's old `\b` patterns missed these).
        for (const char* glue : {"key", "token_", "x9"}) {
            auto glued = eval(*p, user("alice", {"ml"}),
                              chat("gpt-4o", {}, {std::string(glue) + secret + "tail"}), s);
            EXPECT_EQ(glued.code, "prompt_blocked") << glue << secret;
        }
    }
    // Hyphenated prose is no key.
    EXPECT_TRUE(eval(*p, user("alice", {"ml"}),
                     chat("gpt-4o", {}, {"a risk-assessment-of-the-quarterly-review-cycle"}), s)
                    .allowed());
}

}  // namespace
}  // namespace sluice
