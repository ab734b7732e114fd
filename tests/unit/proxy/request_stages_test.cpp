// Each admission stage, table by table, without sockets: a request's facts go in, and either the
// request goes on (with what the stage learned) or the stage's refusal comes out.
#include "agent/proxy/request_stages.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "agent/proxy/proxy_context.h"
#include "tests/unit/gate/gate_test_support.h"

namespace sluice {
namespace {

namespace http = boost::beast::http;

const char* kPolicy = R"(version: 1
default: deny
rules:
  - name: mask-mail
    match: {users: [alice]}
    models: {allow: [gpt-4o-mini]}
    record: full
    masking:
      - entities: [email]
        action: redact
)";

struct Fixture {
    testing::ScratchDir dir;
    PolicyStore policies{dir.write("policy.yaml", kPolicy)};
    PolicyState state;
    RequestGate gate{policies, state};
    std::string host_secret = "0123456789abcdef0123456789abcdef";
    ProxyCounters counters;
    PolicyIdentity alice;
    std::unique_ptr<UpstreamHost> upstream;

    Fixture() {
        policies.load_initial();
        alice.user = "alice";
        alice.uid = 1000;
        const std::string key = dir.write("openai.key", "sk-real\n");
        ::chmod(key.c_str(), 0600);
        upstream = std::make_unique<UpstreamHost>("api.openai.com", UpstreamConfig{"", "", key});
        upstream->api_keys.reload();
    }
    StageEnvironment env() {
        return StageEnvironment{"api.openai.com", 443,   1 << 20, alice,
                                upstream.get(),   false, gate,    host_secret,
                                counters};
    }
};

RequestHeader post(std::string target, std::string host = "api.openai.com") {
    RequestHeader header;
    header.method(http::verb::post);
    header.target(target);
    header.version(11);
    header.set(http::field::host, host);
    header.set(http::field::content_type, "application/json");
    header.set(http::field::content_length, "2");
    return header;
}

struct HeadCase {
    std::string name;
    std::function<RequestHeader()> header;
    std::function<void(StageEnvironment&, RequestFacts&)> adjust;
    unsigned status;  // 0: the request goes on
    std::string code;
};

TEST(RequestStages, HeadStagesTable) {
    const auto none = [](StageEnvironment&, RequestFacts&) {};
    OidcIdentity token_person;
    token_person.issuer = "https://idp.example";
    token_person.subject = "alice@corp";
    const std::vector<HeadCase> cases = {
        {"canonical request goes on", [] { return post("/v1/chat/completions"); }, none, 0, ""},
        {"absolute form naming the host goes on",
         [] { return post("https://api.openai.com/v1/chat/completions"); }, none, 0, ""},
        {"another authority", [] { return post("https://evil.example/v1/chat/completions"); }, none,
         421, "misdirected_request"},
        {"dot segment", [] { return post("/v1/../v1/embeddings"); }, none, 400,
         "non_canonical_target"},
        {"Host names another server", [] { return post("/v1/chat/completions", "evil.example"); },
         none, 421, "misdirected_request"},
        {"body over the limit", [] { return post("/v1/chat/completions"); },
         [](StageEnvironment&, RequestFacts& f) { f.content_length = (1 << 20) + 1; }, 413,
         "request_too_large"},
        {"invalid OIDC token", [] { return post("/v1/chat/completions"); },
         [](StageEnvironment&, RequestFacts& f) {
             f.oidc.outcome = OidcOutcome::invalid;
             f.oidc.reason = "bad signature";
         },
         401, "invalid_token"},
        {"OIDC keys unavailable", [] { return post("/v1/chat/completions"); },
         [](StageEnvironment&, RequestFacts& f) { f.oidc.outcome = OidcOutcome::unavailable; }, 503,
         "oidc_keys_unavailable"},
        {"host without an upstream", [] { return post("/v1/chat/completions"); },
         [](StageEnvironment& e, RequestFacts&) { e.upstream = nullptr; }, 503,
         "upstream_not_configured"},
        {"audit failing with failure_mode closed", [] { return post("/v1/chat/completions"); },
         [](StageEnvironment& e, RequestFacts&) { e.audit_failing_closed = true; }, 503,
         "audit_unavailable"},
        {"the first refusal wins: a bad target before a missing upstream",
         [] { return post("/v1//embeddings"); },
         [](StageEnvironment& e, RequestFacts&) { e.upstream = nullptr; }, 400,
         "non_canonical_target"},
    };
    for (const HeadCase& c : cases) {
        Fixture fixture;
        StageEnvironment env = fixture.env();
        RequestHeader header = c.header();
        AuditRecord record;
        RequestFacts facts(header, record);
        facts.body_pending = true;
        c.adjust(env, facts);
        const StageResult result = run_stages(head_stages(), facts, env);
        if (c.status == 0) {
            EXPECT_FALSE(result) << c.name << ": " << result->code;
            EXPECT_EQ(record.path, "/v1/chat/completions") << c.name;
            EXPECT_EQ(header[http::field::host], "api.openai.com") << c.name;
            ASSERT_NE(facts.real_key, nullptr) << c.name;
            EXPECT_EQ(*facts.real_key, "sk-real") << c.name;
            EXPECT_EQ(facts.identity, &fixture.alice) << c.name;
        } else {
            ASSERT_TRUE(result) << c.name;
            EXPECT_EQ(result->status, c.status) << c.name;
            EXPECT_EQ(result->code, c.code) << c.name;
        }
    }
}

TEST(RequestStages, AVerifiedTokenAddsThePersonToTheKernelIdentity) {
    Fixture fixture;
    const StageEnvironment env = fixture.env();
    RequestHeader header = post("/v1/chat/completions");
    AuditRecord record;
    RequestFacts facts(header, record);
    facts.oidc.outcome = OidcOutcome::ok;
    facts.oidc.identity = OidcIdentity{};
    facts.oidc.identity->subject = "alice@corp";
    ASSERT_FALSE(credential(facts, env));
    ASSERT_NE(facts.identity, nullptr);
    EXPECT_NE(facts.identity, &fixture.alice);
    EXPECT_EQ(facts.identity->user, "alice");
    ASSERT_TRUE(facts.identity->oidc);
    EXPECT_EQ(facts.identity->oidc->subject, "alice@corp");
    ASSERT_TRUE(record.oidc);
    EXPECT_EQ((*record.oidc)["subject"], "alice@corp");
}

struct BodyCase {
    std::string name;
    std::string body;
    bool encoded;
    unsigned status;  // 0: goes on
    std::string code;
    std::string forwarded_must_not_contain;
};

TEST(RequestStages, BodyStagesTable) {
    const std::vector<BodyCase> cases = {
        {"allowed model, email masked",
         R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"a@b.example"}]})", false,
         0, "", "a@b.example"},
        {"model the rule does not allow",
         R"({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]})", false, 403,
         "model_not_allowed", ""},
        {"duplicate members are refused",
         R"({"model":"gpt-4o-mini","model":"gpt-4o","messages":[]})", false, 400, "", ""},
        {"a compressed body cannot be masked", R"({"model":"gpt-4o-mini","messages":[]})", true, 0,
         "", ""},
    };
    for (const BodyCase& c : cases) {
        Fixture fixture;
        const StageEnvironment env = fixture.env();
        RequestHeader header = post("/v1/chat/completions");
        AuditRecord record;
        RequestFacts facts(header, record);
        facts.body_pending = true;
        ASSERT_FALSE(run_stages(head_stages(), facts, env)) << c.name;
        ASSERT_EQ(facts.head.body, BodyReading::whole) << c.name;
        facts.head.body_encoded = c.encoded;
        facts.body = c.body;
        const StageResult result = run_stages(body_stages(), facts, env);
        if (c.encoded) {
            // The gate cannot read it either: its controls refuse first (415), never forward it.
            ASSERT_TRUE(result) << c.name;
            EXPECT_EQ(result->status, 415u) << c.name;
            continue;
        }
        if (c.status == 0) {
            ASSERT_FALSE(result) << c.name << ": " << result->code;
            EXPECT_EQ(record.rule, "mask-mail") << c.name;
            EXPECT_EQ(facts.body->find(c.forwarded_must_not_contain), std::string::npos)
                << *facts.body;
            ASSERT_NE(facts.masking, nullptr) << c.name;  // kept for the answer
        } else {
            ASSERT_TRUE(result) << c.name;
            EXPECT_EQ(result->status, c.status) << c.name;
            if (!c.code.empty()) {
                EXPECT_EQ(result->code, c.code) << c.name;
            }
            EXPECT_EQ(fixture.counters.policy_refusals.load(), 1u) << c.name;
        }
    }
}

TEST(RequestStages, WithAStoreThatAnswersLaterTheRunPausesAfterPolicyAndGoesOnFromThere) {
    testing::ScratchDir dir;
    PolicyStore policies{dir.write("policy.yaml", R"(version: 1
default: deny
rules:
  - name: budgeted
    match: {users: [alice]}
    budget: {tokens_per_day: 1000000, per: user, fail_mode: open}
    masking:
      - entities: [email]
        action: redact
)")};
    policies.load_initial();
    PolicyState state;
    testing::AnswersLater later(state);
    Fixture fixture;
    RequestGate gate{policies, later};
    StageEnvironment env{"api.openai.com",       443,   1 << 20, fixture.alice,
                         fixture.upstream.get(), false, gate,    fixture.host_secret,
                         fixture.counters};
    RequestHeader header = post("/v1/chat/completions");
    AuditRecord record;
    RequestFacts facts(header, record);
    facts.body_pending = true;
    ASSERT_FALSE(run_stages(head_stages(), facts, env));
    facts.body = R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"a@b.example"}]})";
    ASSERT_FALSE(run_stages(body_stages(), facts, env));
    ASSERT_TRUE(facts.gate.awaiting_accounting());
    EXPECT_EQ(facts.resume_at, 1u);
    EXPECT_EQ(facts.masking, nullptr) << "nothing after policy has run";
    EXPECT_NE(facts.body->find("a@b.example"), std::string::npos);

    // The store falls back to this host (fail_mode open): the audit names it.
    AdmissionResult admitted;
    gate.admit_later(facts.gate, [&](AdmissionResult r) { admitted = std::move(r); });
    later.answer_all();
    ASSERT_EQ(admitted.outcome, AdmissionResult::Outcome::admitted);
    admitted.degraded = "budget (redis redis://r unreachable; accounted on this host)";
    ASSERT_FALSE(accounting_answered(facts, env, admitted));
    EXPECT_EQ(record.rule, "budgeted");
    EXPECT_EQ(record.action, "allow");
    ASSERT_EQ(record.skipped_controls.size(), 1u);
    EXPECT_NE(record.skipped_controls[0].find("accounted on this host"), std::string::npos);
    ASSERT_FALSE(run_stages(body_stages().subspan(facts.resume_at), facts, env));
    ASSERT_NE(facts.masking, nullptr);
    EXPECT_EQ(facts.body->find("a@b.example"), std::string::npos) << *facts.body;
    EXPECT_TRUE(facts.gate.reservation.held());
}

TEST(RequestStages, ARuleWithoutRateLimitsOrBudgetsNeverWaitsForTheSharedStore) {
    Fixture fixture;
    testing::AnswersLater later(fixture.state);
    RequestGate gate{fixture.policies, later};
    const StageEnvironment env = fixture.env();
    const StageEnvironment shared{
        env.host, env.port, env.max_body_bytes, env.kernel_identity, env.upstream,
        false,    gate,     env.host_secret,    env.counters};
    RequestHeader header = post("/v1/chat/completions");
    AuditRecord record;
    RequestFacts facts(header, record);
    facts.body_pending = true;
    ASSERT_FALSE(run_stages(head_stages(), facts, shared));
    facts.body = R"({"model":"gpt-4o-mini","messages":[]})";
    ASSERT_FALSE(run_stages(body_stages(), facts, shared));
    EXPECT_FALSE(facts.gate.awaiting_accounting());
    EXPECT_EQ(later.asked(), 0u);
    EXPECT_EQ(record.rule, "mask-mail");
}

TEST(RequestStages, ASharedStoreThatCannotAnswerRefusesWith503PolicyUnavailable) {
    testing::ScratchDir dir;
    PolicyStore policies{dir.write("policy.yaml", R"(version: 1
default: deny
rules:
  - name: budgeted
    match: {users: [alice]}
    budget: {tokens_per_day: 1000, per: user}
)")};
    policies.load_initial();
    PolicyState state;
    testing::AnswersLater later(state);
    Fixture fixture;
    RequestGate gate{policies, later};
    StageEnvironment env{"api.openai.com",       443,   1 << 20, fixture.alice,
                         fixture.upstream.get(), false, gate,    fixture.host_secret,
                         fixture.counters};
    RequestHeader header = post("/v1/chat/completions");
    AuditRecord record;
    RequestFacts facts(header, record);
    facts.body_pending = true;
    ASSERT_FALSE(run_stages(head_stages(), facts, env));
    facts.body = R"({"model":"gpt-4o-mini","messages":[]})";
    ASSERT_FALSE(run_stages(body_stages(), facts, env));
    ASSERT_TRUE(facts.gate.awaiting_accounting());
    AdmissionResult unavailable;
    unavailable.outcome = AdmissionResult::Outcome::unavailable;
    unavailable.reason = "shared rate limits and budgets cannot be checked: redis r unreachable";
    const StageResult refused = accounting_answered(facts, env, unavailable);
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 503u);
    EXPECT_EQ(refused->code, "policy_unavailable");
    EXPECT_EQ(record.code, "policy_unavailable");
    EXPECT_EQ(fixture.counters.policy_refusals.load(), 1u);
    EXPECT_FALSE(facts.gate.reservation.held());
}

TEST(RequestStages, RecordingChoiceTable) {
    struct Case {
        std::string name;
        std::string body;
        bool recorder;
        RecordMode expected;
    };
    const std::vector<Case> cases = {
        {"allowed by a rule that records, recorder on",
         R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"a@b.example"}]})", true,
         RecordMode::full},
        {"no recorder: nothing recorded", R"({"model":"gpt-4o-mini","messages":[]})", false,
         RecordMode::none},
        {"refused: the audit line alone", R"({"model":"gpt-4o","messages":[]})", true,
         RecordMode::none},
    };
    for (const Case& c : cases) {
        Fixture fixture;
        StageEnvironment env = fixture.env();
        env.recording = c.recorder;
        RequestHeader header = post("/v1/chat/completions");
        AuditRecord record;
        RequestFacts facts(header, record);
        facts.body_pending = true;
        ASSERT_FALSE(run_stages(head_stages(), facts, env)) << c.name;
        facts.body = c.body;
        (void)run_stages(body_stages(), facts, env);
        EXPECT_EQ(facts.record_mode, c.expected) << c.name;
        // What is recorded is the body after masking: the address never reaches the recorder.
        if (facts.record_mode == RecordMode::full) {
            EXPECT_EQ(facts.body->find("a@b.example"), std::string::npos) << *facts.body;
        }
    }
}

}  // namespace
}  // namespace sluice
