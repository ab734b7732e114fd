// Request and non-streamed response bodies: only content-bearing strings change, the JSON
// stays valid, and the actions render as documented.
#include <gtest/gtest.h>

#include <random>

#include "masking_test_support.h"

namespace sluice::masking {
namespace {

using namespace testing;
using nlohmann::json;

TEST(JsonMasking, ChatRequestMasksContentPartsAndToolTraffic) {
    MaskingSession session(redact_all(), "k");
    json body = {
        {"model", "gpt-4o-mini"},
        {"user", "jane.roe@example.com"},  // not content, but it leaves the host: masked too
        {"messages",
         json::array(
             {{{"role", "system"}, {"content", "Card 4111 1111 1111 1111."}},
              {{"role", "user"},
               {"content",
                json::array(
                    {{{"type", "text"}, {"text", "mail jane.roe@example.com, please"}},
                     {{"type", "image_url"}, {"image_url", {{"url", "https://x/a@b.com"}}}}})}},
              {{"role", "assistant"},
               {"content", nullptr},
               {"tool_calls",
                json::array(
                    {{{"id", "call_1"},
                      {"type", "function"},
                      {"function", {{"name", "f"}, {"arguments", R"({"ssn":"123-45-6789"})"}}}}})}},
              {{"role", "tool"}, {"tool_call_id", "call_1"}, {"content", "ip 10.1.2.3"}}})}};
    std::string raw = body.dump();
    ASSERT_EQ(session.mask_request(raw, "/v1/chat/completions"), BodyStatus::masked);
    json out = json::parse(raw);
    EXPECT_EQ(out["model"], "gpt-4o-mini");
    EXPECT_EQ(out["user"], "[EMAIL]");
    EXPECT_EQ(out["messages"][0]["content"], "Card [CREDIT_CARD].");
    EXPECT_EQ(out["messages"][1]["content"][0]["text"], "mail [EMAIL], please");
    EXPECT_EQ(out["messages"][1]["content"][1]["image_url"]["url"], "https://x/[EMAIL]");
    EXPECT_EQ(out["messages"][2]["tool_calls"][0]["function"]["arguments"],
              R"({"ssn":"[US_SSN]"})");
    EXPECT_EQ(out["messages"][3]["content"], "ip [IPV4]");
    EXPECT_EQ(session.summary(),
              json::parse(R"({"request":{"credit_card":1,"email":3,"ipv4":1,"us_ssn":1}})"));
}

TEST(JsonMasking, ResponsesAndEmbeddingsRequests) {
    MaskingSession session(redact_all(), "k");
    std::string raw =
        json{{"model", "gpt-4.1"},
             {"instructions", "never reveal sk-abcdefghijklmnopqrstuvwxyz12."},
             {"input", json::array({{{"role", "user"},
                                     {"content", json::array({{{"type", "input_text"},
                                                               {"text", "call +14155552671"}}})}},
                                    {{"type", "function_call_output"},
                                     {"call_id", "c"},
                                     {"output", "AKIAIOSFODNN7EXAMPLE"}},
                                    {{"type", "function_call"},
                                     {"call_id", "c"},
                                     {"name", "f"},
                                     {"arguments", "{\"e\":\"x@y.io\"}"}}})}}
            .dump();
    ASSERT_EQ(session.mask_request(raw, "/v1/responses"), BodyStatus::masked);
    json out = json::parse(raw);
    EXPECT_EQ(out["instructions"], "never reveal [OPENAI_KEY].");
    EXPECT_EQ(out["input"][0]["content"][0]["text"], "call [PHONE]");
    EXPECT_EQ(out["input"][1]["output"], "[AWS_ACCESS_KEY]");
    EXPECT_EQ(out["input"][2]["arguments"], "{\"e\":\"[EMAIL]\"}");

    std::string embed = R"({"model":"text-embedding-3-small","input":["a@b.com is","clean"]})";
    ASSERT_EQ(session.mask_request(embed, "/v1/embeddings"), BodyStatus::masked);
    EXPECT_EQ(json::parse(embed)["input"], json::array({"[EMAIL] is", "clean"}));
}

TEST(JsonMasking, CleanBodyIsLeftByteForByte) {
    MaskingSession session(redact_all(), "k");
    std::string raw =
        "{\"model\" : \"gpt-4o\", \"messages\":[{\"role\":\"user\",\"content\":\"hi there\"}]}";
    const std::string before = raw;
    EXPECT_EQ(session.mask_request(raw, "/v1/chat/completions"), BodyStatus::unchanged);
    EXPECT_EQ(raw, before);
}

TEST(JsonMasking, NotJsonAndTooDeepAreReportedNotMasked) {
    MaskingSession session(redact_all(), "k");
    std::string raw = "--boundary\r\nfile a@b.com";
    EXPECT_EQ(session.mask_request(raw, "/v1/files"), BodyStatus::not_json);
    std::string deep = std::string(200, '[') + std::string(200, ']');
    EXPECT_EQ(session.mask_request(deep, "/v1/chat/completions"), BodyStatus::not_json);
    EXPECT_EQ(session.summary()["skipped"][0], "request: not strict JSON");
}

TEST(JsonMasking, ActionsRenderAsDocumented) {
    auto control = control_from_yaml(R"([
        {entities: [email], action: hash},
        {entities: [credit_card], action: partial},
        {entities: [us_ssn], action: token},
        {entities: [phone], direction: response, action: redact}])");
    MaskingSession a(control, "host-key");
    MaskingSession b(control, "host-key");
    MaskingSession other_key(control, "another");
    auto mask = [](MaskingSession& s, const std::string& text) {
        std::string raw = json{{"input", text}}.dump();
        EXPECT_NE(s.mask_request(raw, "/v1/embeddings"), BodyStatus::failed);
        return json::parse(raw)["input"].get<std::string>();
    };
    const std::string hashed = mask(a, "x@example.com");
    EXPECT_EQ(hashed.size(), std::string("[EMAIL:12345678]").size());
    EXPECT_EQ(hashed.rfind("[EMAIL:", 0), 0u);
    EXPECT_EQ(mask(b, "x@example.com"), hashed) << "stable across sessions with one key";
    EXPECT_NE(mask(other_key, "x@example.com"), hashed);
    EXPECT_NE(mask(a, "y@example.com"), hashed);
    EXPECT_EQ(mask(a, "card 4111111111111111"), "card ****1111");
    EXPECT_EQ(mask(a, "123-45-6789 and 123-45-6789 and 078-05-1120"),
              "<US_SSN_1> and <US_SSN_1> and <US_SSN_2>");
    EXPECT_EQ(mask(a, "call 415-555-2671"), "call 415-555-2671") << "phone is response-only";
}

TEST(JsonMasking, ResponseBodyMaskedAndTokensRestored) {
    auto control = control_from_yaml(R"([
        {entities: [email], action: token},
        {entities: [phone, secrets], direction: response}])");
    MaskingSession session(control, "k");
    std::string request = R"({"messages":[{"role":"user","content":"write to a@example.com"}]})";
    ASSERT_EQ(session.mask_request(request, "/v1/chat/completions"), BodyStatus::masked);
    EXPECT_EQ(json::parse(request)["messages"][0]["content"], "write to <EMAIL_1>");
    std::string response =
        json{
            {"choices",
             json::array(
                 {{{"index", 0},
                   {"message",
                    {{"role", "assistant"},
                     {"content", "Sent to <EMAIL_1>; call 415-555-2671; unknown <EMAIL_9>"},
                     {"tool_calls",
                      json::array(
                          {{{"function",
                             {{"arguments",
                               "{\"to\":\"<EMAIL_1>\",\"k\":\"AKIAIOSFODNN7EXAMPLE\"}"}}}}})}}}}})}}
            .dump();
    ASSERT_EQ(session.mask_response(response, "/v1/chat/completions"), BodyStatus::masked);
    json out = json::parse(response);
    EXPECT_EQ(out["choices"][0]["message"]["content"],
              "Sent to a@example.com; call [PHONE]; unknown <EMAIL_9>");
    EXPECT_EQ(out["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"],
              "{\"to\":\"a@example.com\",\"k\":\"[AWS_ACCESS_KEY]\"}");
    EXPECT_EQ(
        session.summary(),
        json::parse(
            R"({"request":{"email":1},"response":{"aws_access_key":1,"phone":1},"restored":2})"));
}

TEST(JsonMasking, ResponsesOutputItems) {
    MaskingSession session(redact_all(), "k");
    std::string response =
        json{{"id", "resp_1"},
             {"output",
              json::array(
                  {{{"type", "message"},
                    {"content", json::array({{{"type", "output_text"}, {"text", "ip 10.0.0.1"}}})}},
                   {{"type", "function_call"},
                    {"arguments", "{\"iban\":\"GB82WEST12345698765432\"}"}}})}}
            .dump();
    ASSERT_EQ(session.mask_response(response, "/v1/responses"), BodyStatus::masked);
    json out = json::parse(response);
    EXPECT_EQ(out["output"][0]["content"][0]["text"], "ip [IPV4]");
    EXPECT_EQ(out["output"][1]["arguments"], "{\"iban\":\"[IBAN]\"}");
}

TEST(JsonMasking, Utf8AroundValuesSurvives) {
    MaskingSession session(redact_all(), "k");
    std::string raw = json{{"input", "Grüße, 日本 jane@example.com — ok 🚀"}}.dump();
    ASSERT_EQ(session.mask_request(raw, "/v1/embeddings"), BodyStatus::masked);
    EXPECT_EQ(json::parse(raw)["input"], "Grüße, 日本 [EMAIL] — ok 🚀");
}

// Requests are masked by splicing the content strings found by a scan; a body with an escaped
// member name takes the parse-and-edit path. Both must mask exactly the same values: random
// bodies of every endpoint's shape, with PII in content and non-content places, masked both
// ways (an extra escaped member forces the tree).
json random_request(std::mt19937& rng, ApiShape shape) {
    static const char* kTexts[] = {"plain words",
                                   "mail jane.roe@example.com now",
                                   "card 4111 1111 1111 1111",
                                   "ssn 123-45-6789",
                                   "caf\u00e9 \"quoted\" \\\\ ip 10.1.2.3",
                                   "sk-abcdefghijklmnopqrstuvwxyz12"};
    auto text = [&] { return std::string(kTexts[rng() % std::size(kTexts)]); };
    auto content = [&]() -> json {
        if (rng() % 3 == 0) return text();
        json parts = json::array();
        for (int i = 0, n = 1 + static_cast<int>(rng() % 3); i < n; ++i) {
            switch (rng() % 4) {
                case 0:
                    parts.push_back(text());
                    break;
                case 1:
                    parts.push_back({{"type", "text"}, {"text", text()}});
                    break;
                case 2:
                    parts.push_back({{"type", "refusal"}, {"refusal", text()}});
                    break;
                default:
                    parts.push_back({{"type", "image_url"}, {"image_url", {{"url", text()}}}});
            }
        }
        return parts;
    };
    json body = {{"model", text()}, {"user", text()}, {"metadata", {{"note", text()}}}};
    switch (shape) {
        case ApiShape::chat: {
            json messages = json::array();
            for (int i = 0, n = 1 + static_cast<int>(rng() % 4); i < n; ++i) {
                json message = {{"role", "user"}, {"name", text()}, {"content", content()}};
                if (rng() % 2) message["refusal"] = text();
                if (rng() % 3 == 0)
                    message["tool_calls"] =
                        json::array({{{"id", text()},
                                      {"function", {{"name", text()}, {"arguments", text()}}}}});
                if (rng() % 4 == 0)
                    message["function_call"] = {{"name", text()}, {"arguments", text()}};
                messages.push_back(message);
            }
            body["messages"] = messages;
            break;
        }
        case ApiShape::responses: {
            body["instructions"] = text();
            if (rng() % 4 == 0) {
                body["input"] = text();
                break;
            }
            json input = json::array();
            for (int i = 0, n = 1 + static_cast<int>(rng() % 4); i < n; ++i) {
                switch (rng() % 4) {
                    case 0:
                        input.push_back(text());
                        break;
                    case 1:
                        input.push_back({{"role", "user"}, {"content", content()}});
                        break;
                    case 2:
                        input.push_back({{"type", "reasoning"}, {"summary", content()}});
                        break;
                    default:
                        input.push_back({{"type", "function_call"},
                                         {"call_id", text()},
                                         {"arguments", text()},
                                         {"input", text()},
                                         {"output", content()}});
                }
            }
            body["input"] = input;
            break;
        }
        case ApiShape::embeddings:
        case ApiShape::moderations:
        case ApiShape::completions: {
            const char* key = shape == ApiShape::completions ? "prompt" : "input";
            if (rng() % 2) {
                body[key] = text();
            } else {
                json items = json::array();
                for (int i = 0, n = 1 + static_cast<int>(rng() % 3); i < n; ++i)
                    items.push_back(rng() % 2 ? json(text())
                                              : json{{"type", "text"}, {"text", text()}});
                body[key] = items;
            }
            break;
        }
        case ApiShape::other:
            body["id"] = text();
            body["nested"] = {
                {"list", json::array({text(), {{"type", text()}, {"deep", text()}}})}};
            break;
    }
    return body;
}

TEST(JsonMasking, SplicedRequestsMaskWhatTheParsedPathMasks) {
    const std::pair<ApiShape, const char*> endpoints[] = {
        {ApiShape::chat, "/v1/chat/completions"},   {ApiShape::responses, "/v1/responses"},
        {ApiShape::embeddings, "/v1/embeddings"},   {ApiShape::moderations, "/v1/moderations"},
        {ApiShape::completions, "/v1/completions"}, {ApiShape::other, "/v1/batches"}};
    std::mt19937 rng(5);
    int masked = 0;
    for (int round = 0; round < 400; ++round) {
        const auto& [shape, path] = endpoints[round % std::size(endpoints)];
        const json body = random_request(rng, shape);
        std::string spliced = body.dump();
        std::string parsed = spliced;
        parsed.insert(1, R"("\u0078":"",)");  // an escaped member name: the parse-and-edit path
        MaskingSession a(redact_all(), "k"), b(redact_all(), "k");
        const auto status = a.mask_request(spliced, path);
        ASSERT_EQ(status, b.mask_request(parsed, path)) << body.dump();
        json expected = json::parse(parsed);
        expected.erase("x");
        ASSERT_EQ(json::parse(spliced), expected) << path << " " << body.dump();
        EXPECT_EQ(a.summary(), b.summary());
        masked += status == BodyStatus::masked;
    }
    EXPECT_GT(masked, 300);
}

TEST(JsonMasking, SplicedRequestKeepsUntouchedBytes) {
    MaskingSession session(redact_all(), "k");
    std::string raw =
        R"({ "model" : "gpt-4o", "temperature": 1.50, "messages": [ {"role":"user",)"
        R"( "content": "write to a@example.com \u00e9"} ], "zeta": "a@example.com" })";
    ASSERT_EQ(session.mask_request(raw, "/v1/chat/completions"), BodyStatus::masked);
    EXPECT_EQ(raw, R"({ "model" : "gpt-4o", "temperature": 1.50, "messages": [ {"role":"user",)"
                   R"( "content": "write to [EMAIL] é"} ], "zeta": "[EMAIL]" })");
}

}  // namespace
}  // namespace sluice::masking
