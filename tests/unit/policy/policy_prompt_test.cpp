#include <gtest/gtest.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "policy/prompt_patterns.h"
#include "policy/prompt_text.h"
#include "tests/unit/policy/read_body.h"

namespace sluice {
namespace {

using nlohmann::json;
using Texts = std::vector<std::string>;

// The facts as the gate reads them: from the strict reading's view of the body's text.
Texts texts_of(const json& body, std::string_view path) {
    const ReadBody read(body.dump(), path);
    return extract_prompt_texts(read.view, path);
}

int64_t attachments_of(const json& body, std::string_view path) {
    const ReadBody read(body.dump(), path);
    return estimate_attachment_tokens(read.view, path);
}

bool has(const Texts& texts, const std::string& s) {
    return std::find(texts.begin(), texts.end(), s) != texts.end();
}

TEST(PromptText, ChatMessagesPartsAndToolTraffic) {
    auto body = json::parse(R"({
      "model": "gpt-4o",
      "messages": [
        {"role": "system", "content": "be terse"},
        {"role": "user", "content": [{"type": "text", "text": "part one"},
                                      {"type": "image_url", "image_url": {"url": "https://x"}}]},
        {"role": "assistant", "content": null,
         "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"q\":\"args\"}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "tool result"}
      ]})");
    auto texts = texts_of(body, "/v1/chat/completions");
    EXPECT_EQ(texts, (Texts{"be terse", "part one", "{\"q\":\"args\"}", "tool result"}));
}

TEST(PromptText, ResponsesInstructionsInputItemsAndFunctionOutputs) {
    auto body = json::parse(R"({
      "model": "gpt-4.1", "instructions": "sys",
      "input": [
        {"role": "user", "content": [{"type": "input_text", "text": "hello"}]},
        {"type": "function_call", "call_id": "x", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "x", "output": "the output"},
        {"role": "assistant", "content": "plain"}
      ]})");
    auto texts = texts_of(body, "/v1/responses?stream=true");
    EXPECT_TRUE(has(texts, "sys"));
    EXPECT_TRUE(has(texts, "hello"));
    EXPECT_TRUE(has(texts, "the output"));
    EXPECT_TRUE(has(texts, "plain"));
    EXPECT_EQ(texts_of(json::parse(R"({"input":"just text"})"), "/v1/responses"),
              Texts{"just text"});
}

TEST(PromptText, EmbeddingsStringsButNotTokenArrays) {
    EXPECT_EQ(texts_of(json::parse(R"({"input":["a","b"]})"), "/v1/embeddings"), (Texts{"a", "b"}));
    EXPECT_EQ(texts_of(json::parse(R"({"input":"one"})"), "/v1/embeddings"), Texts{"one"});
    EXPECT_TRUE(texts_of(json::parse(R"({"input":[1,2,3]})"), "/v1/embeddings").empty());
}

TEST(PromptText, UnknownEndpointScansAllStringsButModel) {
    auto texts =
        texts_of(json::parse(R"({"model":"m","x":{"y":["s1"]},"z":"s2"})"), "/v1/new/thing");
    EXPECT_EQ(texts, (Texts{"s1", "s2"}));
    EXPECT_TRUE(texts_of(json::parse("[1]"), "/v1/chat/completions").empty());
}

TEST(PromptText, EstimateIsConservative) {
    EXPECT_EQ(estimate_prompt_tokens({}), 0);
    EXPECT_EQ(estimate_prompt_tokens({"abcdef"}), 2 + 4);
    EXPECT_EQ(estimate_prompt_tokens({"abcdefg"}), 3 + 4);
}

// Issue 24: tool schemas and images are prompt tokens the provider charges; a reservation that
// ignored them let a burst of image or tool-heavy requests overshoot a budget.
TEST(PromptText, AttachmentsAreEstimatedForChatAndResponses) {
    const json tools =
        json::array({{{"type", "function"},
                      {"function",
                       {{"name", "lookup"},
                        {"description", std::string(300, 'd')},
                        {"parameters", {{"type", "object"}, {"properties", json::object()}}}}}}});
    const int64_t tool_tokens = static_cast<int64_t>((tools.dump().size() + 2) / 3);
    auto chat_image = [](const char* detail) {
        return json{{"type", "image_url"},
                    {"image_url", {{"url", "https://x/i.png"}, {"detail", detail}}}};
    };
    const json chat = {
        {"model", "gpt-4o"},
        {"tools", tools},
        {"messages",
         json::array({{{"role", "user"},
                       {"content", json::array({chat_image("low"), chat_image("auto")})}}})}};
    EXPECT_EQ(attachments_of(chat, "/v1/chat/completions"), tool_tokens + 85 + 1536);
    json mini = chat;
    mini["model"] = "gpt-4o-mini-2024-07-18";
    EXPECT_EQ(attachments_of(mini, "/v1/chat/completions"), tool_tokens + 33 * (85 + 1536));

    const json format = {{"type", "json_schema"}, {"name", "x"}, {"schema", {{"type", "object"}}}};
    const json responses = {
        {"model", "gpt-4.1"},
        {"text", {{"format", format}}},
        {"input",
         json::array({{{"role", "user"},
                       {"content", json::array({{{"type", "input_image"},
                                                 {"image_url", "data:image/png;base64,AA=="}},
                                                {{"type", "input_text"}, {"text", "hi"}}})}}})}};
    EXPECT_EQ(attachments_of(responses, "/v1/responses"),
              static_cast<int64_t>((format.dump().size() + 2) / 3) + 1536);
    EXPECT_EQ(attachments_of(chat, "/v1/embeddings"), 0);
    EXPECT_EQ(attachments_of(json::array(), "/v1/chat/completions"), 0);
}

TEST(PromptPatterns, ReportsFirstDeclaredPatternFound) {
    std::string error;
    auto set = PromptPatternSet::compile(
        {{"s/aws", "AKIA[0-9A-Z]{16}"}, {"s/pk", "-----BEGIN [A-Z ]*PRIVATE KEY-----"}}, error);
    ASSERT_TRUE(set) << error;
    EXPECT_FALSE(set->first_match({"nothing here"}));
    EXPECT_EQ(set->first_match({"x", "key AKIAABCDEFGHIJKLMNOP"}), "s/aws");
    EXPECT_EQ(set->first_match({"-----BEGIN RSA PRIVATE KEY----- AKIAABCDEFGHIJKLMNOP"}), "s/aws");
    EXPECT_EQ(set->first_match({"-----BEGIN OPENSSH PRIVATE KEY-----"}), "s/pk");
}

TEST(PromptPatterns, BadRegexIsNamed) {
    std::string error;
    EXPECT_FALSE(PromptPatternSet::compile({{"s/bad", "(unclosed"}}, error));
    EXPECT_NE(error.find("s/bad"), std::string::npos);
    EXPECT_TRUE(regex_error("a{2,1}"));
    EXPECT_FALSE(regex_error("a{1,2}"));
}

}  // namespace
}  // namespace sluice
