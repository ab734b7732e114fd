// Tests of the fake upstream's pure core: what end-to-end tests and benchmarks rely on.
//
// fake-openai is an executable, not a library, and unit_<concern> binaries link only
// sluice_agent; so this one translation unit compiles the fake's pure sources itself.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/fake_openai/limits.h"
#include "tests/fake_openai/multipart_counter.h"
#include "tests/fake_openai/openai_replies.h"
#include "tests/fake_openai/request_recorder.h"

namespace sluice::fake_openai {
namespace {

using json = nlohmann::ordered_json;  // the same alias openai_replies.cpp declares

ApiReply post(std::string_view path, const std::string& body, const ReplyBehavior& behavior = {}) {
    return answer_request({"POST", path, "Bearer sk-test", body, std::nullopt}, behavior);
}

// The JSON payloads of an SSE stream, in order ("[DONE]" kept as a string).
std::vector<json> sse_payloads(const ApiReply& reply) {
    std::vector<json> payloads;
    for (const auto& event : reply.sse_events) {
        const auto at = event.find("data: ");
        const std::string data = event.substr(at + 6, event.size() - at - 8);
        payloads.push_back(data == "[DONE]" ? json("[DONE]") : json::parse(data));
    }
    return payloads;
}

TEST(FakeOpenAiChat, EchoesLastUserMessageWithUsage) {
    const ApiReply reply = post("/v1/chat/completions",
                                R"({"model":"gpt-4o-mini","messages":[
        {"role":"system","content":"be brief"},{"role":"user","content":"first"},
        {"role":"assistant","content":"ok"},
        {"role":"user","content":[{"type":"text","text":"card 4111 1111"}]}]})");
    ASSERT_EQ(reply.status, 200u);
    const json body = json::parse(reply.json_body);
    EXPECT_EQ(body["object"], "chat.completion");
    EXPECT_EQ(body["choices"][0]["message"]["content"], "echo: card 4111 1111");
    EXPECT_EQ(body["usage"]["prompt_tokens"], count_tokens(8 + 5 + 2 + 14));
    EXPECT_EQ(body["usage"]["completion_tokens"], count_tokens(20));
    EXPECT_EQ(body["usage"]["total_tokens"], count_tokens(29) + count_tokens(20));
}

TEST(FakeOpenAiChat, StreamsWordDeltasThenUsageThenDone) {
    const ApiReply reply = post("/v1/chat/completions", R"({"model":"m","stream":true,
        "stream_options":{"include_usage":true},"messages":[{"role":"user","content":"a bb ccc"}]})");
    ASSERT_TRUE(reply.streaming);
    const auto payloads = sse_payloads(reply);
    std::string text;
    for (const auto& p : payloads) {
        if (p.is_object() && !p["choices"].empty() &&
            p["choices"][0]["delta"].contains("content")) {
            text += p["choices"][0]["delta"]["content"].get<std::string>();
        }
    }
    EXPECT_EQ(text, "echo: a bb ccc");
    EXPECT_EQ(payloads.back(), "[DONE]");
    const json& usage_chunk = payloads[payloads.size() - 2];
    EXPECT_TRUE(usage_chunk["choices"].empty());
    EXPECT_EQ(usage_chunk["usage"]["completion_tokens"], count_tokens(14));
}

TEST(FakeOpenAiChat, AnswersNChoicesAndBillsEach) {
    const std::string ask =
        R"("model":"m","n":3,"messages":[{"role":"user","content":"a bb ccc"}])";
    const json body = json::parse(post("/v1/chat/completions", "{" + ask + "}").json_body);
    ASSERT_EQ(body["choices"].size(), 3u);
    EXPECT_EQ(body["choices"][2]["index"], 2);
    EXPECT_EQ(body["usage"]["completion_tokens"], 3 * count_tokens(14));
    // Capped: a choice is at most the larger cap; with --bill-to-cap, exactly it.
    const std::string capped = "{" + ask + R"(,"max_tokens":2,"max_completion_tokens":1})";
    EXPECT_EQ(
        json::parse(post("/v1/chat/completions", capped).json_body)["usage"]["completion_tokens"],
        6);
    const std::string big = "{" + ask + R"(,"max_tokens":100,"stream":true,
        "stream_options":{"include_usage":true}})";
    ReplyBehavior bill;
    bill.bill_to_cap = true;
    const auto payloads = sse_payloads(post("/v1/chat/completions", big, bill));
    int finished = 0;
    for (const auto& p : payloads)
        if (p.is_object() && !p["choices"].empty() && !p["choices"][0]["finish_reason"].is_null())
            ++finished;
    EXPECT_EQ(finished, 3);
    EXPECT_EQ(payloads[payloads.size() - 2]["usage"]["completion_tokens"], 300);
}

TEST(FakeOpenAiChat, AnswerSuffixEndsEveryAssistantText) {
    // The proxy bench relies on it: answer masking must find the suffix's values in plain
    // answers, streamed chat deltas and Responses alike.
    ReplyBehavior behavior;
    behavior.answer_suffix = " mail bob@example.org";
    const std::string chat = R"({"model":"m","messages":[{"role":"user","content":"hi"}]})";
    const json plain = json::parse(post("/v1/chat/completions", chat, behavior).json_body);
    EXPECT_EQ(plain["choices"][0]["message"]["content"], "echo: hi mail bob@example.org");

    std::string streamed;
    for (const auto& p : sse_payloads(post("/v1/chat/completions",
                                           R"({"model":"m","stream":true,"messages":[
        {"role":"user","content":"hi"}]})",
                                           behavior))) {
        if (p.is_object() && !p["choices"].empty() && p["choices"][0]["delta"].contains("content"))
            streamed += p["choices"][0]["delta"]["content"].get<std::string>();
    }
    EXPECT_EQ(streamed, "echo: hi mail bob@example.org");

    const json responses =
        json::parse(post("/v1/responses", R"({"model":"m","input":"hi"})", behavior).json_body);
    EXPECT_EQ(responses["output"][0]["content"][0]["text"], "echo: hi mail bob@example.org");
}

TEST(FakeOpenAiChat, CallsFirstToolWithSchemaShapedArgumentsUntilToolResultArrives) {
    const std::string tools = R"("tools":[{"type":"function","function":{"name":"get_weather",
        "parameters":{"type":"object","properties":{"city":{"type":"string"},
        "days":{"type":"integer"},"unit":{"enum":["c","f"]}}}}}])";
    const ApiReply call =
        post("/v1/chat/completions",
             R"({"model":"m","messages":[{"role":"user","content":"Paris"}],)" + tools + "}");
    const json choice = json::parse(call.json_body)["choices"][0];
    EXPECT_EQ(choice["finish_reason"], "tool_calls");
    const json function = choice["message"]["tool_calls"][0]["function"];
    EXPECT_EQ(function["name"], "get_weather");
    EXPECT_EQ(json::parse(function["arguments"].get<std::string>()),
              json({{"city", "Paris"}, {"days", 5}, {"unit", "c"}}));

    const ApiReply answer = post("/v1/chat/completions", R"({"model":"m","messages":[
        {"role":"user","content":"Paris"},
        {"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function",
         "function":{"name":"get_weather","arguments":"{}"}}]},
        {"role":"tool","tool_call_id":"c","content":"sunny"}],)" +
                                                             tools + "}");
    const json text_choice = json::parse(answer.json_body)["choices"][0];
    EXPECT_EQ(text_choice["finish_reason"], "stop");
    EXPECT_EQ(text_choice["message"]["content"], "echo: Paris | tool: sunny");
}

TEST(FakeOpenAiResponses, StreamsTheRealEventSequence) {
    const ApiReply reply = post("/v1/responses", R"({"model":"m","stream":true,"input":"hi you"})");
    ASSERT_TRUE(reply.streaming);
    std::vector<std::string> types;
    std::string text;
    std::uint64_t sequence = 0;
    for (const auto& event : reply.sse_events) {
        ASSERT_TRUE(event.starts_with("event: "));
        const json payload = json::parse(event.substr(event.find("data: ") + 6));
        EXPECT_EQ(payload["sequence_number"], sequence++);
        EXPECT_EQ(event.substr(7, event.find('\n') - 7), payload["type"]);
        if (payload["type"] == "response.output_text.delta") text += payload["delta"];
        if (types.empty() || types.back() != payload["type"]) types.push_back(payload["type"]);
    }
    EXPECT_EQ(text, "echo: hi you");
    EXPECT_EQ(types, (std::vector<std::string>{
                         "response.created", "response.in_progress", "response.output_item.added",
                         "response.content_part.added", "response.output_text.delta",
                         "response.output_text.done", "response.content_part.done",
                         "response.output_item.done", "response.completed"}));
    const json completed = json::parse(
        reply.sse_events.back().substr(reply.sse_events.back().find("data: ") + 6))["response"];
    EXPECT_EQ(completed["status"], "completed");
    EXPECT_EQ(completed["usage"]["total_tokens"], count_tokens(6) + count_tokens(12));
}

TEST(FakeOpenAiResponses, FunctionCallThenAnswerWithFunctionOutput) {
    const std::string tools =
        R"("tools":[{"type":"function","name":"lookup","parameters":{"type":"object",
        "properties":{"q":{"type":"string"}},"required":["q"]}}])";
    const json call = json::parse(
        post("/v1/responses", R"({"model":"m","input":"find x",)" + tools + "}").json_body);
    EXPECT_EQ(call["output"][0]["type"], "function_call");
    EXPECT_EQ(call["output"][0]["name"], "lookup");
    EXPECT_EQ(call["output"][0]["arguments"], R"({"q":"find x"})");

    const json answer = json::parse(post("/v1/responses", R"({"model":"m","input":[
        {"role":"user","content":"find x"},
        {"type":"function_call","call_id":"c1","name":"lookup","arguments":"{}"},
        {"type":"function_call_output","call_id":"c1","output":"found"}],)" +
                                                              tools + "}")
                                        .json_body);
    EXPECT_EQ(answer["output"][0]["content"][0]["text"], "echo: find x | tool: found");
}

TEST(FakeOpenAiEmbeddings, Base64AndFloatEncodingsAgree) {
    const json floats =
        json::parse(post("/v1/embeddings", R"({"model":"e","input":["same"]})").json_body);
    const json packed = json::parse(
        post("/v1/embeddings", R"({"model":"e","input":"same","encoding_format":"base64"})")
            .json_body);
    const auto vector = floats["data"][0]["embedding"].get<std::vector<float>>();
    ASSERT_EQ(vector.size(), 8u);
    EXPECT_EQ(packed["data"][0]["embedding"],
              base64_encode({reinterpret_cast<const char*>(vector.data()), 32}));
}

TEST(FakeOpenAiRouting, AuthFailureAndUnknownPathsUseOpenAiErrorShape) {
    const ApiReply unauthorized = answer_request(
        {"GET", "/v1/models", "Bearer wrong", "", std::nullopt}, {"sk-real", 0, false, ""});
    EXPECT_EQ(unauthorized.status, 401u);
    EXPECT_EQ(json::parse(unauthorized.json_body)["error"]["code"], "invalid_api_key");

    const ApiReply missing = answer_request({"GET", "/v1/nope", "", "", std::nullopt}, {});
    EXPECT_EQ(missing.status, 404u);
    const json error = json::parse(missing.json_body)["error"];
    for (const char* key : {"message", "type", "param", "code"}) EXPECT_TRUE(error.contains(key));

    EXPECT_EQ(post("/v1/chat/completions", "{not json").status, 400u);
    EXPECT_EQ(post("/v1/chat/completions", "{}", {"", 503, false, ""}).status, 503u);
}

TEST(FakeOpenAiDeltas, SplitsOnWordsAndNeverInsideUtf8) {
    EXPECT_EQ(split_into_deltas("echo: hi  there"),
              (std::vector<std::string>{"echo: ", "hi  ", "there"}));
    for (const auto& piece : split_into_deltas("ééééééééé")) {  // 18 bytes, no space
        EXPECT_LE(piece.size(), kMaxDeltaBytes);
        EXPECT_NE(static_cast<unsigned char>(piece.front()) & 0xC0, 0x80);
    }
}

TEST(MultipartFileCounter, CountsFilePartAtEverySplitPosition) {
    const std::string file(1000, 'x');
    const std::string body =
        "--B0undary\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n"
        "--B0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"in.jsonl\"\r\n"
        "Content-Type: application/octet-stream\r\n\r\n" +
        file + "\r\n--B0undary--\r\n";
    ASSERT_EQ(multipart_boundary("multipart/form-data; boundary=B0undary"), "B0undary");
    for (std::size_t split = 0; split <= body.size(); ++split) {
        MultipartFileCounter counter("B0undary");
        counter.consume(std::string_view(body).substr(0, split));
        counter.consume(std::string_view(body).substr(split));
        const UploadSummary summary = counter.finish();
        ASSERT_FALSE(summary.malformed) << "split at " << split;
        EXPECT_TRUE(summary.found_file);
        EXPECT_EQ(summary.file_bytes, file.size()) << "split at " << split;
        EXPECT_EQ(summary.filename, "in.jsonl");
        EXPECT_EQ(summary.purpose, "batch");
    }
}

TEST(MultipartFileCounter, TruncatedBodyIsMalformed) {
    MultipartFileCounter counter("b");
    counter.consume("--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc");
    EXPECT_TRUE(counter.finish().malformed);
}

TEST(RequestRecorder, LineKeepsHeadersAsReceivedAndTruncationFlag) {
    const json line =
        json::parse(format_record_line({"POST",
                                        "/v1/files?x=1",
                                        {{"Authorization", "Bearer k"}, {"X-A", "1"}, {"x-a", "2"}},
                                        "abc",
                                        10},
                                       5));
    EXPECT_EQ(line["path"], "/v1/files?x=1");
    EXPECT_EQ(line["headers"]["authorization"], "Bearer k");
    EXPECT_EQ(line["headers"]["x-a"], "1, 2");
    EXPECT_EQ(line["header_list"][1], json::array({"X-A", "1"}));
    EXPECT_EQ(line["body_bytes"], 10);
    EXPECT_TRUE(line["body_truncated"]);
}

}  // namespace
}  // namespace sluice::fake_openai
