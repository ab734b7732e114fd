// Sessions from recordings: grouping and lookup, the transcript of an agent run with a tool
// call, the replay script's timing, and the JSONL and HAR 1.2 exports.
#include <gtest/gtest.h>

#include <algorithm>

#include "agent/recording/session_export.h"
#include "agent/recording/session_index.h"
#include "agent/recording/session_transcript.h"

namespace sluice {
namespace {

using json = nlohmann::json;

json recording(std::string id, std::string session, std::string ts, json request, json response,
               std::string user = "alice") {
    return {{"id", id},
            {"session", session},
            {"ts", ts},
            {"mode", "full"},
            {"host", "api.openai.com"},
            {"identity", {{"user", user}, {"uid", 1000}, {"exe", "/usr/bin/node"}}},
            {"request", request},
            {"response", response},
            {"decision", {{"action", "allow"}, {"rule", "rec"}}},
            {"usage", {{"input_tokens", 10}, {"output_tokens", 5}, {"total_tokens", 15}}}};
}

// An Agents SDK run over the Responses API: a streamed tool call, then the tool's output
// and the final streamed answer.
std::vector<json> agent_run() {
    json first_request{
        {"method", "POST"},
        {"path", "/v1/responses"},
        {"model", "gpt-4.1-mini"},
        {"stream", true},
        {"bytes", 80},
        {"body",
         R"({"model":"gpt-4.1-mini","instructions":"Answer with the weather.","input":[{"role":"user","content":"Weather in Paris?"}],"stream":true})"}};
    json first_response{
        {"status", 200},
        {"content_type", "text/event-stream"},
        {"ttfb_ms", 5.0},
        {"latency_ms", 40.0},
        {"events",
         {{{"t_ms", 20.0},
           {"data",
            R"({"type":"response.output_item.done","item":{"type":"function_call","name":"get_weather","arguments":"{\"city\":\"Paris\"}","call_id":"call_1"}})"}},
          {{"t_ms", 40.0}, {"data", R"({"type":"response.completed","response":{}})"}}}}};
    json second_request = first_request;
    second_request["body"] =
        R"({"model":"gpt-4.1-mini","input":[{"role":"user","content":"Weather in Paris?"},{"type":"function_call","name":"get_weather","arguments":"{\"city\":\"Paris\"}","call_id":"call_1"},{"type":"function_call_output","call_id":"call_1","output":"sunny-and-21C"}],"stream":true})";
    json second_response = first_response;
    second_response["events"] = {
        {{"t_ms", 100.0}, {"data", R"({"type":"response.output_text.delta","delta":"It is "})"}},
        {{"t_ms", 200.0}, {"data", R"({"type":"response.output_text.delta","delta":"sunny."})"}}};
    second_response["latency_ms"] = 210.0;
    return {
        recording("r2", "conn-a", "2026-12-07T10:00:01.000000Z", second_request, second_response),
        recording("r1", "conn-a", "2026-12-07T10:00:00.000000Z", first_request, first_response),
        recording("r3", "conn-b", "2026-12-07T11:00:00.000000Z",
                  {{"method", "POST"}, {"path", "/v1/embeddings"}, {"model", "emb"}},
                  {{"status", 200}, {"body", "{}"}}, "bob")};
}

TEST(Sessions, GroupsBySessionInTimeOrderAndFindsByIdPrefixOrRequest) {
    const auto sessions = group_sessions(agent_run());
    ASSERT_EQ(sessions.size(), 2u);
    EXPECT_EQ(sessions[0].id, "conn-a");
    EXPECT_EQ(sessions[0].requests[0]["id"], "r1");
    EXPECT_EQ(sessions[0].total_tokens(), 30);
    std::string error;
    EXPECT_EQ(find_session(sessions, "conn-b", error), &sessions[1]);
    EXPECT_EQ(find_session(sessions, "r2", error), &sessions[0]);
    EXPECT_EQ(find_session(sessions, "conn-", error), nullptr);
    EXPECT_NE(error.find("more than one"), std::string::npos);
    EXPECT_EQ(find_session(sessions, "nope", error), nullptr);
    EXPECT_TRUE(session_matches(sessions[1], {"bob", "", ""}));
    EXPECT_FALSE(session_matches(sessions[0], {"bob", "", ""}));
    EXPECT_FALSE(session_matches(sessions[0], {"", "2026-12-07T10:30", ""}));
    EXPECT_TRUE(session_matches(sessions[1], {"", "2026-12-07T10:30", ""}));
    EXPECT_TRUE(session_matches(sessions[0], {"", "", "gpt-4.1-mini"}));
    EXPECT_FALSE(session_matches(sessions[1], {"", "", "gpt-4.1-mini"}));
}

TEST(Sessions, AnAgentTurnOnAnotherConnectionJoinsTheRunThatHandedOutItsToolCall) {
    auto run = agent_run();
    run[0]["session"] = "conn-c";  // the second turn (r2) came over a new connection
    const auto sessions = group_sessions(run);
    ASSERT_EQ(sessions.size(), 2u);
    EXPECT_EQ(sessions[0].id, "conn-a");
    ASSERT_EQ(sessions[0].requests.size(), 2u);
    EXPECT_EQ(sessions[0].requests[1]["id"], "r2");
    std::string error;
    EXPECT_EQ(find_session(sessions, "r2", error), &sessions[0]);
}

TEST(Sessions, TranscriptShowsWhoTheToolCallItsOutputAndTheAnswer) {
    const auto sessions = group_sessions(agent_run());
    const std::string text = session_transcript(sessions[0]);
    EXPECT_NE(text.find("who: alice (/usr/bin/node)"), std::string::npos) << text;
    EXPECT_NE(text.find("> user: Weather in Paris?"), std::string::npos) << text;
    EXPECT_NE(text.find("< assistant: tool call get_weather({\"city\":\"Paris\"}) [call_1]"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("> tool output [call_1]: sunny-and-21C"), std::string::npos) << text;
    EXPECT_NE(text.find("< assistant: It is sunny."), std::string::npos) << text;
    EXPECT_NE(text.find("events: 2, first at 100 ms, last at 200 ms"), std::string::npos) << text;
    EXPECT_NE(text.find("tokens: 10 in, 5 out"), std::string::npos) << text;
}

TEST(Sessions, ReplayScriptKeepsEventOffsetsAndTheGapBetweenRequests) {
    const auto steps = replay_script(group_sessions(agent_run())[0]);
    std::vector<std::pair<double, std::string>> timed;
    for (const auto& s : steps) timed.emplace_back(s.at_ms, s.text);
    // The second request started 1000 ms after the first; its deltas at +100 and +200 ms.
    bool saw_first = false, saw_second = false;
    for (const auto& [at, text] : timed) {
        if (text == "It is ") saw_first = at == 1100.0;
        if (text == "sunny.") saw_second = at == 1200.0;
    }
    EXPECT_TRUE(saw_first && saw_second);
}

TEST(Sessions, ExportsJsonLinesAndHar12) {
    const auto sessions = group_sessions(agent_run());
    const std::string jsonl = session_jsonl(sessions[0]);
    EXPECT_EQ(std::count(jsonl.begin(), jsonl.end(), '\n'), 2);
    const json har = json::parse(session_har(sessions[0]).dump());
    ASSERT_EQ(har["log"]["version"], "1.2");
    EXPECT_EQ(har["log"]["creator"]["name"], "sluice");
    const auto& entries = har["log"]["entries"];
    ASSERT_EQ(entries.size(), 2u);
    for (const auto& e : entries) {
        for (const char* key :
             {"startedDateTime", "time", "request", "response", "cache", "timings"})
            EXPECT_TRUE(e.contains(key)) << key;
        for (const char* key : {"method", "url", "httpVersion", "cookies", "headers", "queryString",
                                "headersSize", "bodySize"})
            EXPECT_TRUE(e["request"].contains(key)) << key;
        for (const char* key : {"status", "statusText", "httpVersion", "cookies", "headers",
                                "content", "redirectURL", "headersSize", "bodySize"})
            EXPECT_TRUE(e["response"].contains(key)) << key;
        EXPECT_TRUE(e["response"]["content"].contains("mimeType"));
        for (const char* key : {"send", "wait", "receive"}) EXPECT_TRUE(e["timings"].contains(key));
    }
    EXPECT_EQ(entries[0]["startedDateTime"], "2026-12-07T10:00:00.000Z");
    EXPECT_EQ(entries[0]["request"]["url"], "https://api.openai.com/v1/responses");
    EXPECT_NE(entries[1]["response"]["content"]["text"].get<std::string>().find(
                  "data: {\"type\":\"response.output_text.delta\",\"delta\":\"It is \"}\n\n"),
              std::string::npos);
}

TEST(Sessions, EventStreamTextSplitsMultiLineData) {
    const json events = {{{"event", "x"}, {"data", "a\nb"}}};
    EXPECT_EQ(event_stream_text(events), "event: x\ndata: a\ndata: b\n\n");
}

}  // namespace
}  // namespace sluice
