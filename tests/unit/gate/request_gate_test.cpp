#include "agent/gate/request_gate.h"

#include <gtest/gtest.h>

#include "tests/unit/gate/gate_test_support.h"

namespace sluice {
namespace {

const char* kPolicy = R"(version: 1
default: deny
rules:
  - name: ci
    match: {units: ["ci-*.service"]}
    models: {allow: [gpt-4o-mini]}
    max_tokens: {limit: 100, mode: clamp}
    budget: {tokens_per_day: 100000, per: rule}
  - name: limited
    match: {users: [carol]}
    rate_limit: {requests_per_minute: 1}
  - name: humans
    match: {users: [alice]}
)";

class RequestGateTest : public ::testing::Test {
protected:
    void SetUp() override {
        store_ = std::make_unique<PolicyStore>(dir_.write("policy.yaml", kPolicy));
        store_->load_initial();
        gate_ = std::make_unique<RequestGate>(*store_, state_);
    }
    GateResult admit(const PolicyIdentity& who, std::string& body,
                     std::string target = "/v1/chat/completions") {
        target_ = std::move(target);
        GateRequest request{"POST", target_, &body, true};
        return gate_->admit(who, request);
    }
    static PolicyIdentity user(std::string name) {
        PolicyIdentity id;
        id.user = std::move(name);
        id.uid = 1000;
        return id;
    }
    static PolicyIdentity unit(std::string name) {
        PolicyIdentity id = user("ci");
        id.unit = std::move(name);
        return id;
    }

    testing::ScratchDir dir_;
    std::unique_ptr<PolicyStore> store_;
    PolicyState state_;
    std::unique_ptr<RequestGate> gate_;
    std::string target_;
};

TEST_F(RequestGateTest, WithoutAPolicyEverythingIsAllowedAndSaysWhy) {
    PolicyStore none(dir_.file("absent.yaml"));
    none.load_initial();
    RequestGate gate(none, state_);
    std::string body = R"({"model":"gpt-4o"})";
    GateRequest request{"POST", "/v1/chat/completions", &body, true};
    GateResult result = gate.admit(user("anyone"), request);
    EXPECT_TRUE(result.decision.allowed());
    EXPECT_FALSE(result.refusal);
    EXPECT_EQ(result.decision.reason, "no policy in force");
}

TEST_F(RequestGateTest, DeniedModelBecomesA403InOpenAIShape) {
    std::string body = R"({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]})";
    GateResult result = admit(unit("ci-build.service"), body);
    ASSERT_TRUE(result.refusal);
    EXPECT_EQ(result.refusal->status, 403u);
    EXPECT_EQ(result.refusal->type, "policy_violation");
    EXPECT_EQ(result.refusal->code, "model_not_allowed");
    EXPECT_EQ(result.decision.rule, "ci");
    EXPECT_NE(result.refusal->message.find("gpt-4o"), std::string::npos);
}

TEST_F(RequestGateTest, UnmatchedIdentityGetsTheDefault) {
    std::string body = R"({"model":"gpt-4o"})";
    GateResult result = admit(user("mallory"), body);
    ASSERT_TRUE(result.refusal);
    EXPECT_EQ(result.decision.rule, "default");
}

TEST_F(RequestGateTest, ClampWritesTheCapIntoTheBody) {
    std::string body = R"({"model":"gpt-4o-mini","max_tokens":5000,"messages":[]})";
    GateResult result = admit(unit("ci-build.service"), body);
    ASSERT_FALSE(result.refusal) << result.decision.reason;
    EXPECT_TRUE(result.body_rewritten);
    EXPECT_EQ(nlohmann::json::parse(body)["max_tokens"], 100);
}

TEST_F(RequestGateTest, MeteredChatStreamsAskForUsage) {
    std::string body =
        R"({"model":"gpt-4o-mini","stream":true,"max_completion_tokens":10,"messages":[]})";
    GateResult result = admit(unit("ci-build.service"), body);
    ASSERT_FALSE(result.refusal);
    EXPECT_TRUE(result.reservation.held());
    EXPECT_EQ(nlohmann::json::parse(body)["stream_options"]["include_usage"], true);
}

TEST_F(RequestGateTest, UnreadableJsonFailsClosedForModelControls) {
    std::string body = "{not json";
    GateResult result = admit(unit("ci-build.service"), body);
    ASSERT_TRUE(result.refusal);
    EXPECT_EQ(result.refusal->code, "model_unknown");
}

// Issue 24: a body that does not read strictly is refused with its problem named, whichever
// control would have read it; only a control with fail_mode open lets it through, audited.
TEST_F(RequestGateTest, BodiesThatDoNotReadStrictlyAreRefusedNamingTheProblem) {
    const std::pair<std::string, std::string> cases[] = {
        {"\xEF\xBB\xBF{\"model\":\"gpt-4o-mini\"}", "byte order mark"},
        {R"({"model":"gpt-4o-mini","temperature":NaN})", "not JSON"},
        {R"({"model":"gpt-4o-mini","temperature":1e400})", "out of range"},
        {R"({"model":"gpt-4o-mini","user":"\ud800"})", "unpaired surrogate"},
        {"{\"model\":\"gpt-4o-mini\",\"user\":\"\xff\"}", "UTF-8"},
        {R"({"model":"gpt-4o-mini","messages":[],"messages":[{"role":"user","content":"x"}]})",
         "member twice"},
    };
    for (const auto& [text, problem] : cases) {
        // A rule with a body control (ci: models, closed) and one without any (humans).
        for (const PolicyIdentity& who : {unit("ci-build.service"), user("alice")}) {
            std::string body = text;
            GateResult result = admit(who, body);
            ASSERT_TRUE(result.refusal) << text;
            EXPECT_EQ(result.refusal->status, 400u) << text;
            EXPECT_NE(result.refusal->message.find(problem), std::string::npos)
                << text << ": " << result.refusal->message;
            EXPECT_NE(result.decision.reason.find(problem), std::string::npos)
                << result.decision.reason;
        }
    }
}

TEST_F(RequestGateTest, AnOpenControlLetsAnUnreadableBodyThroughAndSaysSo) {
    PolicyStore open(dir_.write("open.yaml", R"(version: 1
default: deny
rules:
  - name: lax
    match: {}
    models: {allow: [gpt-4o-mini], fail_mode: open}
)"));
    open.load_initial();
    RequestGate gate(open, state_);
    std::string body = R"({"model":"gpt-4o-mini","model":"gpt-4o"})";
    GateRequest request{"POST", "/v1/chat/completions", &body, true};
    GateResult result = gate.admit(user("alice"), request);
    EXPECT_FALSE(result.refusal);
    ASSERT_EQ(result.decision.skipped_controls.size(), 2u);
    EXPECT_EQ(result.decision.skipped_controls[0], "models");
    EXPECT_NE(result.decision.skipped_controls[1].find("member twice"), std::string::npos);
}

TEST_F(RequestGateTest, RateLimitIs429WithRetryAfter) {
    std::string body = R"({"model":"gpt-4o"})";
    GateResult first = admit(user("carol"), body);
    ASSERT_FALSE(first.refusal);
    GateResult second = admit(user("carol"), body);
    ASSERT_TRUE(second.refusal);
    EXPECT_EQ(second.refusal->status, 429u);
    EXPECT_GE(second.refusal->retry_after_s, 1u);
    EXPECT_LE(second.refusal->retry_after_s, 60u);
}

TEST_F(RequestGateTest, ReservationIsReturnedWhenTheRequestNeverFinishes) {
    std::string body = R"({"model":"gpt-4o-mini","max_tokens":50,"messages":[]})";
    {
        GateResult result = admit(unit("ci-build.service"), body);
        ASSERT_TRUE(result.reservation.held());
        EXPECT_EQ(state_.outstanding_reservations(), 1u);
    }
    EXPECT_EQ(state_.outstanding_reservations(), 0u);
    ASSERT_EQ(state_.budget_accounts().size(), 1u);
    EXPECT_EQ(state_.budget_accounts()[0].account.used.tokens, 0);
}

TEST_F(RequestGateTest, SettleChargesTheRealUsage) {
    std::string body = R"({"model":"gpt-4o-mini","max_tokens":50,"messages":[]})";
    GateResult result = admit(unit("ci-build.service"), body);
    result.reservation.finish(200, UsageObject{R"({"prompt_tokens":7,"completion_tokens":3})"});
    EXPECT_EQ(state_.outstanding_reservations(), 0u);
    EXPECT_EQ(state_.budget_accounts()[0].account.used.tokens, 10);
}

TEST_F(RequestGateTest, UpstreamErrorsAreNotCharged) {
    std::string body = R"({"model":"gpt-4o-mini","max_tokens":50,"messages":[]})";
    GateResult result = admit(unit("ci-build.service"), body);
    result.reservation.finish(500, std::nullopt);
    EXPECT_EQ(state_.budget_accounts()[0].account.used.tokens, 0);
}

TEST_F(RequestGateTest, StreamCutBeforeUsageChargesTheEstimate) {
    std::string body = R"({"model":"gpt-4o-mini","max_tokens":50,"messages":[]})";
    GateResult result = admit(unit("ci-build.service"), body);
    result.reservation.finish(200, std::nullopt);
    EXPECT_GE(state_.budget_accounts()[0].account.used.tokens, 50);
}

// Issue 24: a body naming no model as a string passed models.allow. Generated variants of the
// member's value and of where it sits.
TEST_F(RequestGateTest, BodiesWithoutAStringModelAreRefusedByModelRules) {
    const std::vector<std::string> values = {
        R"(["gpt-4o-mini"])", "null", R"({"id":"gpt-4o-mini"})", "5", "true", R"("")"};
    std::vector<std::string> bodies = {R"({"messages":[]})",
                                       R"({"prompt":{"id":"pmpt_1"},"input":"hi"})"};
    for (const auto& v : values) {
        bodies.push_back(R"({"model":)" + v + R"(,"messages":[]})");
        bodies.push_back(R"({"messages":[],"model":)" + v + "}");
        bodies.push_back(R"({"\u006dodel":)" + v + R"(,"messages":[]})");
    }
    for (const auto& target : {"/v1/chat/completions", "/v1/responses", "/v1/embeddings"}) {
        for (const auto& original : bodies) {
            std::string body = original;
            GateResult result = admit(unit("ci-build.service"), body, target);
            ASSERT_TRUE(result.refusal) << target << " " << original;
            EXPECT_EQ(result.refusal->status, 400u) << original;
            EXPECT_EQ(result.refusal->code, "model_unknown") << original;
            EXPECT_EQ(state_.outstanding_reservations(), 0u);
        }
    }
    std::string named = R"({"\u006dodel":"gpt-4o-mini","messages":[]})";
    EXPECT_FALSE(admit(unit("ci-build.service"), named).refusal);
}

// Issue 24: `max_completion_tokens: 10` with `max_tokens: 5000` was checked against 10 while
// both went upstream. The larger is checked and both are clamped.
TEST_F(RequestGateTest, ConflictingCapsAreCheckedAtTheLargestAndBothClamped) {
    std::string body =
        R"({"model":"gpt-4o-mini","max_completion_tokens":10,"max_tokens":5000,"messages":[]})";
    GateResult result = admit(unit("ci-build.service"), body);
    ASSERT_FALSE(result.refusal) << result.decision.reason;
    EXPECT_EQ(result.decision.clamp_max_tokens, 100);
    const auto sent = nlohmann::json::parse(body);
    EXPECT_EQ(sent["max_tokens"], 100);
    EXPECT_EQ(sent["max_completion_tokens"], 10);
    std::string huge = R"({"model":"gpt-4o-mini","max_tokens":18446744073709551615,"messages":[]})";
    ASSERT_FALSE(admit(unit("ci-build.service"), huge).refusal);
    EXPECT_EQ(nlohmann::json::parse(huge)["max_tokens"], 100);
    std::string upper = R"({"model":"gpt-4o-mini","max_tokens":5000,"messages":[]})";
    ASSERT_FALSE(admit(unit("ci-build.service"), upper, "/V1/Chat/Completions").refusal);
    EXPECT_EQ(nlohmann::json::parse(upper)["max_tokens"], 100);
}

// Issue 24: the reservation counts every output; the ci rule's 100,000 tokens a day hold 99
// requests of n=10 at the clamp of 100, not 990.
TEST_F(RequestGateTest, ReservationCountsEveryOutput) {
    std::string body =
        R"({"model":"gpt-4o-mini","n":10,"stream":true,"max_tokens":5000,"messages":[]})";
    GateResult result = admit(unit("ci-build.service"), body);
    ASSERT_FALSE(result.refusal) << result.decision.reason;
    EXPECT_GE(state_.budget_accounts()[0].account.reserved.tokens, 1000);
    std::string text_n = R"({"model":"gpt-4o-mini","n":"10","messages":[]})";
    GateResult refused = admit(unit("ci-build.service"), text_n);
    ASSERT_TRUE(refused.refusal);
    EXPECT_EQ(refused.refusal->status, 400u);
}

// Issue 24: images and tool definitions are charged as prompt tokens; the reservation holds
// them, so a burst of image-heavy requests cannot overshoot the budget on a text-only estimate.
TEST_F(RequestGateTest, ReservationCountsImagesAndToolDefinitions) {
    auto reserved_for = [&](const std::string& extra_parts, const std::string& tools) {
        std::string body = R"({"model":"gpt-4o-mini","max_tokens":10,)" + tools +
                           R"("messages":[{"role":"user","content":[{"type":"text","text":"hi"})" +
                           extra_parts + "]}]}";
        GateResult result = admit(unit("ci-build.service"), body);
        EXPECT_FALSE(result.refusal) << result.decision.reason;
        const int64_t reserved = state_.budget_accounts()[0].account.reserved.tokens;
        result.reservation.finish(500, std::nullopt);  // released: the next one starts at zero
        return reserved;
    };
    const int64_t text_only = reserved_for("", "");
    const std::string image = R"(,{"type":"image_url","image_url":{"url":"https://x/a.png"}})";
    EXPECT_EQ(reserved_for(image, "") - text_only, 33 * 1536);
    const std::string low =
        R"(,{"type":"image_url","image_url":{"url":"https://x/b.png","detail":"low"}})";
    EXPECT_EQ(reserved_for(low + low, "") - text_only, 2 * 33 * 85);
    const std::string tools =
        R"("tools":[{"type":"function","function":{"name":"f","description":")" +
        std::string(3000, 'x') + R"("}}],)";
    EXPECT_GT(reserved_for("", tools) - text_only, 1000);
}

TEST_F(RequestGateTest, WithAStoreThatAnswersLaterNothingIsAppliedUntilItHasAnswered) {
    testing::AnswersLater later(state_);
    RequestGate gate(*store_, later);
    std::string body = R"({"model":"gpt-4o-mini","stream":true,"max_tokens":5000,"messages":[]})";
    const std::string original = body;
    GateRequest request{"POST", "/v1/chat/completions", &body, true};
    GateResult result = gate.admit(unit("ci-build.service"), request);
    ASSERT_TRUE(result.awaiting_accounting());
    EXPECT_FALSE(result.refusal);
    EXPECT_FALSE(result.reservation.held());
    EXPECT_EQ(body, original) << "the body is edited only once the store has admitted it";
    std::optional<AdmissionResult> admitted;
    gate.admit_later(result, [&](AdmissionResult r) { admitted = std::move(r); });
    EXPECT_EQ(later.asked(), 1u);
    later.answer_all();
    ASSERT_TRUE(admitted);
    gate.complete(result, request, *admitted);
    EXPECT_FALSE(result.awaiting_accounting());
    ASSERT_FALSE(result.refusal) << result.decision.reason;
    EXPECT_TRUE(result.reservation.held());
    EXPECT_EQ(nlohmann::json::parse(body)["max_tokens"], 100);
    EXPECT_EQ(nlohmann::json::parse(body)["stream_options"]["include_usage"], true);
    result.reservation.finish(200, UsageObject{R"({"prompt_tokens":7,"completion_tokens":3})"});
    EXPECT_EQ(state_.budget_accounts()[0].account.used.tokens, 10);
}

TEST_F(RequestGateTest, AStoreThatAnswersLaterRefusesAsTheLocalOneWouldOrWith503) {
    testing::AnswersLater later(state_);
    RequestGate gate(*store_, later);
    std::string body = R"({"model":"gpt-4o"})";
    GateRequest request{"POST", "/v1/chat/completions", &body, true};
    auto decide = [&](const AdmissionResult* forced) {
        GateResult result = gate.admit(user("carol"), request);
        EXPECT_TRUE(result.awaiting_accounting());
        std::optional<AdmissionResult> admitted;
        gate.admit_later(result, [&](AdmissionResult r) { admitted = std::move(r); });
        later.answer_all();
        gate.complete(result, request, forced ? *forced : *admitted);
        return result;
    };
    EXPECT_FALSE(decide(nullptr).refusal);
    GateResult limited = decide(nullptr);
    ASSERT_TRUE(limited.refusal);
    EXPECT_EQ(limited.refusal->status, 429u);
    EXPECT_EQ(limited.refusal->code, "rate_limited");
    AdmissionResult unavailable;
    unavailable.outcome = AdmissionResult::Outcome::unavailable;
    unavailable.reason = "shared rate limits and budgets cannot be checked: redis down";
    GateResult refused = decide(&unavailable);
    ASSERT_TRUE(refused.refusal);
    EXPECT_EQ(refused.refusal->status, 503u);
    EXPECT_EQ(refused.refusal->code, "policy_unavailable");
    EXPECT_NE(refused.refusal->message.find("redis down"), std::string::npos);
}

// A Realtime API decision (a session's open, each response.create) charged against a shared
// store waits for it on the caller's loop as an HTTP request does: decide() never asks the store
// synchronously, so a realtime session never blocks a proxy thread on Redis.
TEST_F(RequestGateTest, ARealtimeDecisionWithAStoreThatAnswersLaterWaitsForIt) {
    testing::AnswersLater later(state_);
    RequestGate gate(*store_, later);
    PolicyRequest request;
    request.method = "GET";
    request.path = "/v1/realtime";
    request.model = "gpt-4o-mini";
    for (int i = 0; i < 3; ++i) {
        GateResult result = gate.decide(unit("ci-build.service"), request, true);
        ASSERT_TRUE(result.awaiting_accounting()) << "round " << i;
        EXPECT_FALSE(result.refusal);
        EXPECT_FALSE(result.reservation.held());
        std::optional<AdmissionResult> admitted;
        gate.admit_later(result, [&](AdmissionResult r) { admitted = std::move(r); });
        EXPECT_EQ(later.asked(), 1u);
        later.answer_all();
        ASSERT_TRUE(admitted);
        gate.complete_decided(result, *admitted);
        EXPECT_FALSE(result.awaiting_accounting());
        ASSERT_FALSE(result.refusal) << result.decision.reason;
        EXPECT_TRUE(result.reservation.held());
        result.reservation.settle(UsageObject{R"({"input_tokens":7,"output_tokens":3})"});
    }
    EXPECT_EQ(state_.budget_accounts()[0].account.used.tokens, 30);
}

TEST_F(RequestGateTest, ARealtimeDecisionRefusedByAStoreThatAnswersLaterIsRefused) {
    testing::AnswersLater later(state_);
    RequestGate gate(*store_, later);
    PolicyRequest request;
    request.method = "GET";
    request.path = "/v1/realtime";
    auto decide = [&] {
        GateResult result = gate.decide(user("carol"), request, true);
        EXPECT_TRUE(result.awaiting_accounting());
        std::optional<AdmissionResult> admitted;
        gate.admit_later(result, [&](AdmissionResult r) { admitted = std::move(r); });
        later.answer_all();
        gate.complete_decided(result, *admitted);
        return result;
    };
    EXPECT_FALSE(decide().refusal);
    const GateResult limited = decide();
    ASSERT_TRUE(limited.refusal);
    EXPECT_EQ(limited.refusal->status, 429u);
    EXPECT_EQ(limited.refusal->code, "rate_limited");
    // Deciding without charging (a session.update) never asks the store.
    EXPECT_FALSE(gate.decide(user("carol"), request, false).awaiting_accounting());
    EXPECT_EQ(later.asked(), 0u);
}

TEST_F(RequestGateTest, ARequestRefusedBeforeAccountingNeverAsksTheStore) {
    testing::AnswersLater later(state_);
    RequestGate gate(*store_, later);
    std::string body = R"({"model":"gpt-4o","messages":[]})";
    GateRequest request{"POST", "/v1/chat/completions", &body, true};
    GateResult result = gate.admit(unit("ci-build.service"), request);
    EXPECT_FALSE(result.awaiting_accounting());
    ASSERT_TRUE(result.refusal);
    EXPECT_EQ(result.refusal->code, "model_not_allowed");
}

}  // namespace
}  // namespace sluice
