// The approval_hold stage among the body stages, table by table: which requests are held,
// which pass on a grant, which are refused as before, and that a held request has nothing
// reserved or masked yet (both happen at release).
#include <gtest/gtest.h>

#include <boost/beast/http.hpp>

#include "agent/approvals/approval_registry.h"
#include "agent/gate/policy_store.h"
#include "agent/gate/request_gate.h"
#include "agent/proxy/proxy_context.h"
#include "agent/proxy/request_stages.h"
#include "tests/unit/gate/gate_test_support.h"

namespace sluice {
namespace {

namespace http = boost::beast::http;
using namespace std::chrono_literals;

const char* kPolicy = R"(version: 1
default: allow
rules:
  - name: always
    match: {users: [alice]}
    require_approval: true
    models: {allow: [gpt-4o-mini]}
    budget: {tokens_per_day: 100000, per: user}
    masking:
      - entities: [email]
        action: redact
  - name: risky-prompts
    match: {users: [bob]}
    require_approval: {patterns: ['(?i)production'], min_prompt_tokens: 2000}
  - name: two-person
    match: {users: [dana]}
    require_approval: {min_approvers: 2}
)";

std::string chat_body(const std::string& prompt, const std::string& model = "gpt-4o-mini") {
    return nlohmann::json{{"model", model}, {"messages", {{{"role", "user"}, {"content", prompt}}}}}
        .dump();
}

PolicyIdentity user(const std::string& name, uint32_t uid) {
    PolicyIdentity who;
    who.user = name;
    who.uid = uid;
    return who;
}

RequestHeader post_header() {
    RequestHeader header;
    header.method(http::verb::post);
    header.target("/v1/chat/completions");
    header.version(11);
    return header;
}

enum class Outcome { passes, held, refused };

struct Case {
    const char* what;
    const char* user;
    std::string body;
    bool with_registry;
    Outcome expected;
    const char* code;  // the refusal's code when refused
};

class ApprovalHoldStage : public ::testing::Test {
protected:
    void SetUp() override {
        store_ = std::make_unique<PolicyStore>(dir_.write("policy.yaml", kPolicy));
        store_->load_initial();
        gate_ = std::make_unique<RequestGate>(*store_, state_);
    }

    struct Run {
        StageResult refusal;
        bool held = false;
        bool granted = false;
        bool masked = false;  // request masking ran
        bool reserved = false;
        std::string body_hash;
        int min_approvers = 0;
    };

    Run run(const PolicyIdentity& who, std::string body, bool with_registry) {
        RequestHeader header = post_header();
        AuditRecord record;
        record.id = "req-1";
        RequestFacts facts(header, record);
        facts.head.body = BodyReading::whole;
        facts.body = std::move(body);
        const StageEnvironment env{"api.openai.com", 443,
                                   1 << 20,          who,
                                   nullptr,          false,
                                   *gate_,           secret_,
                                   counters_,        with_registry ? &registry_ : nullptr};
        facts.identity = &who;
        Run out;
        out.refusal = run_stages(body_stages(), facts, env);
        out.held = facts.hold.has_value();
        if (facts.hold) {
            out.body_hash = facts.hold->body_hash;
            out.min_approvers = facts.hold->min_approvers;
        }
        out.granted = facts.approval_granted;
        out.masked = facts.masking != nullptr;
        out.reserved = facts.gate.reservation.held();
        return out;
    }

    testing::ScratchDir dir_;
    std::unique_ptr<PolicyStore> store_;
    PolicyState state_;
    std::unique_ptr<RequestGate> gate_;
    std::string secret_ = "k";
    ProxyCounters counters_;
    ApprovalRegistry::Clock::time_point now_{};
    ApprovalRegistry registry_{ApprovalSettings{}, [this] { return now_; }};
};

TEST_F(ApprovalHoldStage, HoldsWhatTheRuleSaysAndNothingElse) {
    const std::string long_prompt(9000, 'x');  // ~2250 estimated tokens
    const Case cases[] = {
        {"unconditional, no registry: refused as before", "alice", chat_body("hi"), false,
         Outcome::refused, "approval_required"},
        {"unconditional: held", "alice", chat_body("hi"), true, Outcome::held, ""},
        {"a refusal by another control is never held", "alice", chat_body("hi", "gpt-4o"), true,
         Outcome::refused, "model_not_allowed"},
        {"a matching prompt is held", "bob", chat_body("deploy to PRODUCTION"), true, Outcome::held,
         ""},
        {"a prompt over the token threshold is held", "bob", chat_body(long_prompt), true,
         Outcome::held, ""},
        {"a prompt meeting no condition passes", "bob", chat_body("hello"), true, Outcome::passes,
         ""},
        {"a user no rule holds passes", "carol", chat_body("production"), true, Outcome::passes,
         ""},
    };
    for (const Case& c : cases) {
        const PolicyIdentity who = user(c.user, 1000);
        const Run r = run(who, c.body, c.with_registry);
        const Outcome got = r.refusal ? Outcome::refused : r.held ? Outcome::held : Outcome::passes;
        EXPECT_EQ(got, c.expected) << c.what;
        if (r.refusal) {
            EXPECT_EQ(r.refusal->code, c.code) << c.what;
        }
        if (r.held) {
            EXPECT_FALSE(r.masked) << c.what << ": masking waits for the release";
            EXPECT_FALSE(r.reserved) << c.what << ": the budget is reserved at release";
            EXPECT_EQ(r.body_hash.size(), 64u) << c.what;
        }
    }
}

TEST_F(ApprovalHoldStage, TheHoldCarriesTheRulesMinApprovers) {
    EXPECT_EQ(run(user("dana", 1000), chat_body("hi"), true).min_approvers, 2);
    EXPECT_EQ(run(user("alice", 1000), chat_body("hi"), true).min_approvers, 1);
}

TEST_F(ApprovalHoldStage, ReleasedWithTheApprovalTheBudgetIsReservedAndTheBodyMasked) {
    const PolicyIdentity alice = user("alice", 1000);
    RequestHeader header = post_header();
    AuditRecord record;
    RequestFacts facts(header, record);
    facts.head.body = BodyReading::whole;
    facts.body = chat_body("mail me at jane@example.com");
    facts.identity = &alice;
    const StageEnvironment env{"api.openai.com", 443,     1 << 20,   alice,     nullptr, false,
                               *gate_,           secret_, counters_, &registry_};
    ASSERT_FALSE(run_stages(body_stages(), facts, env));
    ASSERT_TRUE(facts.hold);
    // What the session does once a person approves.
    facts.hold.reset();
    facts.approval_granted = true;
    ASSERT_FALSE(run_stages(body_stages(), facts, env));
    EXPECT_FALSE(facts.hold);
    EXPECT_TRUE(facts.gate.decision.allowed());
    EXPECT_TRUE(facts.gate.reservation.held());
    ASSERT_TRUE(facts.masking);
    EXPECT_EQ(facts.body->find("jane@example.com"), std::string::npos) << *facts.body;
}

TEST_F(ApprovalHoldStage, AGrantLetsTheRequestOnWithoutAHold) {
    const PolicyIdentity alice = user("alice", 1000);
    const std::string body = chat_body("hi");
    const Run first = run(alice, body, true);
    ASSERT_TRUE(first.held);
    // A timed-out hold approved later: the identical request passes once.
    HeldRequest held;
    held.requester.uid = 1000;
    held.requester.key = approval_identity_key(1000u, "", "");
    held.rule = "always";
    held.body_hash = first.body_hash;
    const std::string id = registry_.hold(held, nullptr).id;
    registry_.expire(id);
    ASSERT_TRUE(registry_.decide(id, Approver{0, {}, "root"}, true, "", 0s).ok);
    const Run retry = run(alice, body, true);
    EXPECT_FALSE(retry.refusal);
    EXPECT_FALSE(retry.held);
    EXPECT_TRUE(retry.granted);
    EXPECT_TRUE(retry.reserved);
    EXPECT_TRUE(run(alice, body, true).held) << "once";
    EXPECT_TRUE(run(alice, chat_body("other"), true).held) << "only the identical body";
}

}  // namespace
}  // namespace sluice
