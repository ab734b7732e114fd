// The Realtime API's events as the policy reads them: what each client event sends to the
// model, the model and tools a session.update changes, a response's output cap, what
// response.done reports; and the decisions made on them (a model refused at open, a blocked
// prompt in an item, responses counted by rate limits, a budget's cap written into
// response.create).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "policy/policy_engine.h"
#include "policy/policy_loader.h"
#include "policy/policy_state.h"
#include "policy/realtime/realtime_event.h"

namespace sluice::realtime {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
const PolicyTimePoint kNoon{std::chrono::sys_days{std::chrono::year{2024} / 3 / 1} + 12h};

std::shared_ptr<const Policy> must_load(const std::string& yaml) {
    auto result = load_policy(yaml, "test.yaml");
    EXPECT_TRUE(result.ok()) << result.error;
    return result.policy;
}

PolicyIdentity someone() {
    PolicyIdentity id;
    id.user = "alice";
    id.uid = 1000;
    return id;
}

TEST(RealtimeEvent, ItemCreateSendsItsTextParts) {
    const ClientEvent event = read_client_event(R"({"type":"conversation.item.create","item":{
        "type":"message","role":"user","content":[{"type":"input_text","text":"hello"},
        {"type":"input_audio","audio":"AAAA","transcript":"spoken"}]}})");
    EXPECT_EQ(event.kind, ClientEventKind::item_create);
    EXPECT_EQ(event.texts, (std::vector<std::string>{"hello", "spoken"}));
    const ClientEvent output = read_client_event(
        R"({"type":"conversation.item.create","item":{"type":"function_call_output","output":"42"}})");
    EXPECT_EQ(output.texts, std::vector<std::string>{"42"});
}

TEST(RealtimeEvent, SessionUpdateNamesModelToolsAndInstructions) {
    const ClientEvent event = read_client_event(R"({"type":"session.update","session":{
        "model":"gpt-realtime-mini","instructions":"be kind",
        "tools":[{"type":"function","name":"f"}]}})");
    EXPECT_EQ(event.kind, ClientEventKind::session_update);
    EXPECT_EQ(event.model, "gpt-realtime-mini");
    EXPECT_TRUE(event.names_tools);
    EXPECT_EQ(event.texts, std::vector<std::string>{"be kind"});
    EXPECT_FALSE(
        read_client_event(R"({"type":"session.update","session":{"voice":"alloy"}})").names_tools);
}

TEST(RealtimeEvent, ResponseCreateInstructionsInputAndCap) {
    const ClientEvent event = read_client_event(R"({"type":"response.create","response":{
        "instructions":"answer briefly","max_output_tokens":300,
        "input":[{"type":"message","content":[{"type":"input_text","text":"inline"}]}]}})");
    EXPECT_EQ(event.kind, ClientEventKind::response_create);
    EXPECT_EQ(event.texts, (std::vector<std::string>{"answer briefly", "inline"}));
    EXPECT_EQ(event.max_output_tokens, 300);
    EXPECT_FALSE(
        read_client_event(R"({"type":"response.create","response":{"max_output_tokens":"inf"}})")
            .max_output_tokens);
    EXPECT_TRUE(
        read_client_event(R"({"type":"response.create","response":{"max_output_tokens":2.5}})")
            .output_cap_unreadable);
}

TEST(RealtimeEvent, UnreadableAndAudio) {
    for (const char* text : {"", "{", "[1]", "{\"type\":3}", "{\"no\":\"type\"}"})
        EXPECT_EQ(read_client_event(text).kind, ClientEventKind::unreadable) << text;
    EXPECT_EQ(read_client_event(R"({"type":"input_audio_buffer.append","audio":"AAAA"})").kind,
              ClientEventKind::audio_append);
    EXPECT_EQ(read_client_event(R"({"type":"input_audio_buffer.commit"})").kind,
              ClientEventKind::other);
}

TEST(RealtimeEvent, ResponseDoneUsage) {
    const ServerEvent event = read_server_event(R"({"type":"response.done","response":{
        "id":"resp_1","status":"completed","usage":{"total_tokens":12,"input_tokens":5,"output_tokens":7}}})");
    EXPECT_EQ(event.type, "response.done");
    EXPECT_EQ(event.response_id, "resp_1");
    EXPECT_EQ(event.status, "completed");
    ASSERT_TRUE(event.usage);
    EXPECT_EQ(event.usage->parsed()["output_tokens"], 7);
    EXPECT_FALSE(read_server_event(R"({"type":"response.created","response":{"id":"r"}})").usage);
}

TEST(RealtimeEvent, ModelFromTarget) {
    EXPECT_EQ(model_from_target("/v1/realtime?model=gpt-realtime"), "gpt-realtime");
    EXPECT_EQ(model_from_target("/v1/realtime?intent=x&model=gpt%2Drealtime%2Dmini"),
              "gpt-realtime-mini");
    EXPECT_EQ(model_from_target("/v1/realtime"), "");
    EXPECT_EQ(model_from_target("/v1/realtime?models=x"), "");
}

TEST(RealtimeEvent, OutputCapIsWrittenIntoResponseCreate) {
    std::string event = R"({"type":"response.create"})";
    ASSERT_TRUE(write_response_output_cap(event, 512));
    EXPECT_EQ(json::parse(event)["response"]["max_output_tokens"], 512);
    std::string inf =
        R"({"type":"response.create","response":{"max_output_tokens":"inf","voice":"x"}})";
    ASSERT_TRUE(write_response_output_cap(inf, 64));
    EXPECT_EQ(json::parse(inf)["response"]["max_output_tokens"], 64);
    EXPECT_EQ(json::parse(inf)["response"]["voice"], "x");
    std::string bad = "not json";
    EXPECT_FALSE(write_response_output_cap(bad, 1));
}

const char* kRealtimePolicy = R"(
default: deny
rules:
  - name: voice
    match: {users: [alice]}
    models: {allow: [gpt-realtime]}
    block_prompts: {patterns: ['(?i)project\s+bluebird']}
    rate_limit: {requests_per_minute: 3}
)";

TEST(RealtimePolicy, ModelInTheUrlIsDecidedAtOpen) {
    auto policy = must_load(kRealtimePolicy);
    PolicyState state;
    const auto allowed = evaluate(
        *policy, someone(), realtime_policy_request("/v1/realtime", "gpt-realtime", nullptr, false),
        state, kNoon);
    EXPECT_TRUE(allowed.allowed()) << allowed.reason;
    const auto refused = evaluate(
        *policy, someone(),
        realtime_policy_request("/v1/realtime", "gpt-4o-realtime", nullptr, false), state, kNoon);
    EXPECT_EQ(refused.code, "model_not_allowed");
    EXPECT_EQ(refused.http_status, 403);
}

TEST(RealtimePolicy, BlockedPromptInAnItemIsRefused) {
    auto policy = must_load(kRealtimePolicy);
    PolicyState state;
    const ClientEvent item = read_client_event(R"({"type":"conversation.item.create","item":{
        "type":"message","content":[{"type":"input_text","text":"about Project  Bluebird"}]}})");
    const auto decision = evaluate(
        *policy, someone(), realtime_policy_request("/v1/realtime", "gpt-realtime", &item, false),
        state, kNoon);
    EXPECT_EQ(decision.code, "prompt_blocked");
    EXPECT_EQ(decision.reason.find("Bluebird"), std::string::npos) << "never echoes the prompt";
}

TEST(RealtimePolicy, ResponsesCountAgainstTheRateLimit) {
    auto policy = must_load(kRealtimePolicy);
    PolicyState state;
    const ClientEvent create = read_client_event(R"({"type":"response.create"})");
    for (int i = 0; i < 3; ++i)
        EXPECT_TRUE(evaluate(*policy, someone(),
                             realtime_policy_request("/v1/realtime", "gpt-realtime", &create, true),
                             state, kNoon)
                        .allowed());
    const auto fourth = evaluate(
        *policy, someone(), realtime_policy_request("/v1/realtime", "gpt-realtime", &create, true),
        state, kNoon);
    EXPECT_EQ(fourth.action, PolicyAction::rate_limited);
}

TEST(RealtimePolicy, BudgetWritesItsAssumedCapIntoAnUncappedResponse) {
    auto policy = must_load(R"(
default: deny
rules:
  - name: b
    match: {}
    budget: {tokens_per_day: 100000, assumed_output_tokens: 700}
)");
    PolicyState state;
    const ClientEvent create = read_client_event(R"({"type":"response.create"})");
    const auto decision = evaluate(
        *policy, someone(), realtime_policy_request("/v1/realtime", "gpt-realtime", &create, true),
        state, kNoon);
    ASSERT_TRUE(decision.allowed()) << decision.reason;
    EXPECT_EQ(decision.clamp_max_tokens, 700);
    EXPECT_NE(decision.reservation_id, 0u);
}

}  // namespace
}  // namespace sluice::realtime

namespace sluice::realtime {
namespace {

// Where a client event can carry text to the model, with the text in `value`.
std::vector<json> events_carrying(const std::string& value) {
    const json part = {{"type", "input_text"}, {"text", value}};
    return {
        {{"type", "conversation.item.create"},
         {"item", {{"type", "message"}, {"role", "user"}, {"content", {part}}}}},
        {{"type", "conversation.item.create"},
         {"item",
          {{"type", "message"}, {"content", {{{"type", "input_audio"}, {"transcript", value}}}}}}},
        {{"type", "conversation.item.create"},
         {"item", {{"type", "function_call_output"}, {"call_id", "c1"}, {"output", value}}}},
        {{"type", "conversation.item.create"},
         {"item",
          {{"type", "function_call"},
           {"name", "lookup"},
           {"arguments", json{{"q", value}}.dump()}}}},
        {{"type", "conversation.item.create"},
         {"item", {{"type", "message"}, {"name", value}, {"content", json::array()}}}},
        {{"type", "session.update"}, {"session", {{"instructions", value}}}},
        {{"type", "session.update"},
         {"session", {{"tools", {{{"type", "function"}, {"name", "f"}, {"description", value}}}}}}},
        {{"type", "response.create"}, {"response", {{"instructions", value}}}},
        {{"type", "response.create"},
         {"response", {{"input", {{{"type", "message"}, {"role", "user"}, {"content", {part}}}}}}}},
        {{"type", "response.create"}, {"response", {{"metadata", {{"note", value}}}}}},
        {{"type", "conversation.item.create"},
         {"item",
          {{"type", "message"},
           {"content",
            {{{"type", "input_text"}, {"text", "data:text/plain,Project%20Bluebird"}}}}}}},
    };
}

// One client event for each place text reaches the model, with the blocked phrase spelled as
// a user could spell it to slip past a literal match (zero-width and soft-hyphen insertions,
// fullwidth letters, a no-break space), in both JSON encodings of the text: every one is
// refused, like the same prompt over HTTP.
TEST(RealtimePolicy, ABlockedPromptIsRefusedWhereverAndHoweverAnEventCarriesIt) {
    auto policy = must_load(kRealtimePolicy);
    const std::vector<std::string> spellings = {
        "Project Bluebird",
        "Project Blue\u200bbird",
        "Pro\u00adject Bluebird",
        "\uff30\uff52\uff4f\uff4a\uff45\uff43\uff54 "
        "\uff22\uff4c\uff55\uff45\uff42\uff49\uff52\uff44",
        "Project\u00a0Bluebird",
    };
    int checked = 0;
    for (const std::string& spelling : spellings) {
        for (const json& event : events_carrying("about " + spelling + " today")) {
            for (const bool ascii : {false, true}) {
                const std::string text = event.dump(-1, ' ', ascii);
                PolicyState state;
                const ClientEvent read = read_client_event(text);
                ASSERT_NE(read.kind, ClientEventKind::unreadable) << text;
                const auto decision =
                    evaluate(*policy, someone(),
                             realtime_policy_request("/v1/realtime", "gpt-realtime", &read,
                                                     read.kind == ClientEventKind::response_create),
                             state, kNoon);
                EXPECT_EQ(decision.code, "prompt_blocked") << text;
                ++checked;
            }
        }
    }
    EXPECT_EQ(checked, 5 * 11 * 2);
}

// A phrase split across two parts of one item is one text to the model, and to the policy.
TEST(RealtimePolicy, ABlockedPromptSplitAcrossPartsIsRefused) {
    auto policy = must_load(kRealtimePolicy);
    PolicyState state;
    const ClientEvent read = read_client_event(R"({"type":"conversation.item.create","item":{
        "type":"message","content":[{"type":"input_text","text":"about Proj"},
        {"type":"input_text","text":"ect Bluebird"}]}})");
    const auto decision = evaluate(
        *policy, someone(), realtime_policy_request("/v1/realtime", "gpt-realtime", &read, false),
        state, kNoon);
    EXPECT_EQ(decision.code, "prompt_blocked");
}

// Which copy of a member named twice the provider reads is its parser's choice, so such an
// event is not read at all (the relay closes the session with 1008), wherever the repeat is.
TEST(RealtimeEvent, AnEventNamingAMemberTwiceIsUnreadable) {
    const std::vector<std::string> events = {
        R"({"type":"conversation.item.create","type":"session.update","session":{}})",
        R"({"type":"conversation.item.create","item":{"type":"message","content":[{"type":"input_text","text":"Project Bluebird"}]},"item":{"type":"message","content":[]}})",
        R"({"type":"conversation.item.create","item":{"type":"message","content":[{"type":"input_text","text":"Project Bluebird","text":"hello"}]}})",
        R"({"type":"session.update","session":{"instructions":"Project Bluebird","instructions":"hi"}})",
        R"({"type":"response.create","response":{"instructions":"x"},"response":{}})",
        R"({"type":"input_audio_buffer.append","audio":"AAAA","type":"conversation.item.create"})",
        R"({"type":"conversation.item.create","\u0069tem":{},"item":{}})",
    };
    for (const std::string& event : events)
        EXPECT_EQ(read_client_event(event).kind, ClientEventKind::unreadable) << event;
    EXPECT_EQ(read_client_event(R"({"type":"input_audio_buffer.append","audio":"AAAA"})").kind,
              ClientEventKind::audio_append);
    EXPECT_EQ(
        read_client_event("{\"type\":\"session.update\",\"session\":{\"instructions\":\"\xff\"}}")
            .kind,
        ClientEventKind::unreadable)
        << "not UTF-8";
}

}  // namespace
}  // namespace sluice::realtime
