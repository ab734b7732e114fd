// The policy's facts and the body edits the gate reads from the strict reading's view
// (policy/json_view.h) are what it read from a parsed tree before (tree_reference.h), on
// generated request bodies of every endpoint shape.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/gate/request_body_edit.h"
#include "policy/json_view.h"
#include "policy/output_bound.h"
#include "policy/prompt_text.h"
#include "policy/request_reading.h"
#include "policy/request_summary.h"
#include "tests/unit/gate/tree_reference.h"

namespace sluice {
namespace {

using nlohmann::json;

const char* const kPaths[] = {"/v1/chat/completions", "/V1/Chat/Completions/?x=1",
                              "/v1/responses",        "/v1/responses?stream=true",
                              "/v1/completions",      "/v1/embeddings",
                              "/v1/moderations",      "/v1/images/generations",
                              "/v1/audio/speech",     "/v1/some/new/endpoint"};

// Number literals where readers part ways: integer or float, signed or unsigned, past 64 bits,
// negative zero, exponents, whole floats.
const char* const kNumbers[] = {"0",
                                "1",
                                "100",
                                "4096",
                                "4096.0",
                                "5000",
                                "-1",
                                "-0",
                                "-0.0",
                                "2.5",
                                "1e3",
                                "1E-5",
                                "0.1",
                                "9223372036854775807",
                                "9223372036854775808",
                                "18446744073709551615",
                                "18446744073709551616",
                                "-9223372036854775808",
                                "-9223372036854775809",
                                "123456789012345678901234567890",
                                "1.7976931348623157e308",
                                "9.2e18",
                                "-9.3e18"};

// String contents, as written in JSON: escapes, raw UTF-8, control characters by escape.
const char* const kStrings[] = {"hi",
                                "be terse",
                                "caf\\u00e9",
                                "caf\xc3\xa9",
                                "\\ud83d\\ude00 smile",
                                "a\\\"b\\\\c",
                                "line\\nbreak\\ttab",
                                "\\u0001\\u001f\\u007f",
                                "\\/slash/",
                                "\xe6\x97\xa5\xe6\x9c\xac",
                                "low",
                                "high",
                                "audio",
                                "text",
                                "image_url",
                                "input_image",
                                "gpt-4o-mini-2024-07-18",
                                "gpt-4o",
                                "{\\\"q\\\":\\\"args\\\"}",
                                "data:text/plain;base64,aGVsbG8=",
                                ""};

class BodyGenerator {
public:
    explicit BodyGenerator(uint32_t seed) : rng_(seed) {}

    std::string body() {
        names_.clear();
        std::string out = space() + "{";
        bool first = true;
        const std::size_t members = pick(10) + 1;
        for (std::size_t i = 0; i < members; ++i) top_member(out, first);
        out += space() + "}" + space();
        return out;
    }

private:
    std::size_t pick(std::size_t n) {
        return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_);
    }
    bool chance(std::size_t one_in) { return pick(one_in) == 0; }
    std::string space() {
        static const char* const kSpaces[] = {"", "", "", " ", "\n  ", "\t"};
        return kSpaces[pick(std::size(kSpaces))];
    }

    // A member name, each character sometimes written as a \u escape (upper or lower hex).
    std::string name(std::string_view decoded) {
        std::string out = "\"";
        const bool escape = chance(5);
        for (const char c : decoded) {
            if (escape && chance(3)) {
                char hex[8];
                std::snprintf(hex, sizeof hex, chance(2) ? "\\u%04x" : "\\u%04X",
                              static_cast<unsigned char>(c));
                out += hex;
            } else {
                out += c;
            }
        }
        return out + "\"";
    }

    std::string string() { return std::string("\"") + kStrings[pick(std::size(kStrings))] + "\""; }
    std::string number() { return kNumbers[pick(std::size(kNumbers))]; }

    void member(std::string& out, bool& first, std::string_view key, const std::string& value) {
        if (!first) out += space() + ",";
        first = false;
        out += space() + name(key) + space() + ":" + space() + value;
    }

    // Any value, nested up to `depth` more levels.
    std::string any(int depth) {
        switch (depth > 0 ? pick(8) : pick(4)) {
            case 0:
                return string();
            case 1:
                return number();
            case 2:
                return chance(2) ? (chance(2) ? "true" : "false") : "null";
            case 3:
                return chance(2) ? "{}" : "[ ]";
            case 4:
            case 5: {
                std::string out = "[";
                const std::size_t n = pick(4);
                for (std::size_t i = 0; i < n; ++i) out += (i ? "," : "") + any(depth - 1);
                return out + "]";
            }
            default: {
                static const char* const kKeys[] = {"type", "text",        "detail",  "image_url",
                                                    "x",    "description", "minimum", "properties"};
                std::string out = "{";
                bool first = true;
                std::vector<std::string> used;
                const std::size_t n = pick(4);
                for (std::size_t i = 0; i < n; ++i) {
                    const std::string key = kKeys[pick(std::size(kKeys))];
                    if (std::find(used.begin(), used.end(), key) != used.end()) continue;
                    used.push_back(key);
                    member(out, first, key, any(depth - 1));
                }
                return out + "}";
            }
        }
    }

    std::string cap() {
        switch (pick(5)) {
            case 0:
                return string();
            case 1:
                return "null";
            case 2:
                return "[10]";
            default:
                return number();
        }
    }

    // A content part: text, refusal, image (chat or Responses shape), or anything.
    std::string part() {
        switch (pick(6)) {
            case 0:
                return string();
            case 1:
                return "{\"type\":\"text\",\"text\":" + string() + "}";
            case 2:
                return "{\"type\":\"refusal\",\"refusal\":" + string() + "}";
            case 3:
                return std::string("{\"type\":\"image_url\",\"image_url\":") +
                       (chance(2) ? "{\"url\":\"https://x/i.png\",\"detail\":" + string() + "}"
                                  : string()) +
                       "}";
            case 4:
                return std::string("{\"type\":\"input_image\",\"image_url\":") + string() +
                       (chance(2) ? ",\"detail\":" + string() : "") + "}";
            default:
                return any(3);
        }
    }

    std::string content() {
        if (chance(3)) return string();
        if (chance(6)) return any(2);
        std::string out = "[";
        const std::size_t n = pick(4);
        for (std::size_t i = 0; i < n; ++i) out += (i ? "," : "") + part();
        return out + "]";
    }

    std::string message() {
        if (chance(8)) return any(2);
        std::string out = "{";
        bool first = true;
        member(out, first, "role", chance(2) ? "\"user\"" : "\"assistant\"");
        if (!chance(5)) member(out, first, "content", content());
        if (chance(4))
            member(out, first, "tool_calls",
                   "[{\"id\":\"c\",\"type\":\"function\",\"function\":{\"name\":\"f\","
                   "\"arguments\":" +
                       string() + "}}," + any(2) + "]");
        if (chance(6)) member(out, first, "function_call", "{\"arguments\":" + string() + "}");
        return out + "}";
    }

    std::string array_of(std::string (BodyGenerator::*element)()) {
        std::string out = "[";
        const std::size_t n = pick(4);
        for (std::size_t i = 0; i < n; ++i) out += (i ? "," : "") + (this->*element)();
        return out + "]";
    }

    std::string input_item() {
        switch (pick(5)) {
            case 0:
                return string();
            case 1:
                return "{\"role\":\"user\",\"content\":" + content() + "}";
            case 2:
                return "{\"type\":\"function_call_output\",\"call_id\":\"c\",\"output\":" +
                       content() + "}";
            case 3:
                return "{\"type\":\"custom_tool_call\",\"input\":" + string() +
                       ",\"arguments\":" + string() + "}";
            default:
                return number();
        }
    }

    std::string string_or_strings() {
        switch (pick(4)) {
            case 0:
                return string();
            case 1:
                return "[" + string() + "," + string() + "," + part() + "]";
            case 2:
                return "[1,2,3]";
            default:
                return any(2);
        }
    }

    std::string deep(int levels) {
        std::string out;
        for (int i = 0; i < levels; ++i) out += chance(2) ? "[" : "{\"x\":";
        std::string tail;
        for (auto it = out.rbegin(); it != out.rend(); ++it)
            if (*it == '[')
                tail += ']';
            else if (*it == '{')
                tail += '}';
        return out + string() + tail;
    }

    void top_member(std::string& out, bool& first) {
        static const char* const kTop[] = {"model",
                                           "stream",
                                           "stream_options",
                                           "max_tokens",
                                           "max_completion_tokens",
                                           "max_output_tokens",
                                           "n",
                                           "best_of",
                                           "modalities",
                                           "audio",
                                           "reasoning_effort",
                                           "messages",
                                           "input",
                                           "instructions",
                                           "prompt",
                                           "suffix",
                                           "tools",
                                           "functions",
                                           "response_format",
                                           "text",
                                           "user",
                                           "metadata",
                                           "deep"};
        std::string key = kTop[pick(std::size(kTop))];
        std::string value;
        if (key == "model") {
            value = chance(4) ? any(1) : string();
        } else if (key == "stream") {
            value = chance(4) ? any(0) : (chance(3) ? "false" : "true");
        } else if (key == "stream_options") {
            static const char* const kOptions[] = {"{}",
                                                   "{\"include_usage\":true}",
                                                   "{\"include_usage\":false}",
                                                   "{\"x\":1,\"include_usage\":\"yes\"}",
                                                   "null",
                                                   "[]",
                                                   "true",
                                                   "{\"include\\u005fusage\":true}"};
            value = kOptions[pick(std::size(kOptions))];
        } else if (key.starts_with("max_") || key == "n" || key == "best_of") {
            value = cap();
        } else if (key == "modalities") {
            static const char* const kModalities[] = {
                "[\"text\",\"audio\"]", "[\"text\"]", "\"audio\"", "[1]", "null",
                "[\"aud\\u0069o\"]"};
            value = kModalities[pick(std::size(kModalities))];
        } else if (key == "audio" || key == "reasoning_effort") {
            value = chance(3) ? "null" : (chance(2) ? string() : "{\"voice\":\"alloy\"}");
        } else if (key == "messages") {
            value = chance(8) ? any(2) : array_of(&BodyGenerator::message);
        } else if (key == "input") {
            value = chance(3) ? string_or_strings() : array_of(&BodyGenerator::input_item);
        } else if (key == "prompt" || key == "suffix" || key == "instructions") {
            value = string_or_strings();
        } else if (key == "text") {
            value = chance(3) ? any(2) : "{\"format\":" + any(3) + "}";
        } else if (key == "deep") {
            key = "metadata";
            value = deep(static_cast<int>(pick(2) ? pick(30) : 122 + pick(16)));
        } else {
            value = any(4);
        }
        // A member named twice (in any spelling) now and then: the strict reading refuses it.
        if (std::find(names_.begin(), names_.end(), key) != names_.end() && !chance(20)) return;
        names_.push_back(key);
        member(out, first, key, value);
    }

    std::mt19937 rng_;
    std::vector<std::string> names_;
};

void expect_same_edits(const std::vector<MemberEdit>& got, const std::vector<MemberEdit>& want) {
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].member, want[i].member);
        EXPECT_EQ(got[i].inner, want[i].inner);
        EXPECT_EQ(got[i].value, want[i].value);
    }
}

void expect_same_summary(const RequestSummary& got, const RequestSummary& want) {
    EXPECT_EQ(got.json_ok, want.json_ok);
    EXPECT_EQ(got.model, want.model);
    EXPECT_EQ(got.stream, want.stream);
    EXPECT_EQ(got.max_output_tokens, want.max_output_tokens);
}

// Every fact the gate reads from `view` (of `text`) is what the tree reference reads from `tree`.
void expect_same_facts(const std::string& text, const JsonView& view, const json& tree,
                       std::string_view path) {
    expect_same_summary(summarize_request(view), tree_reference::summarize_request(tree));
    const OutputBound bound = read_output_bound(view, path);
    const OutputBound want = tree_reference::read_output_bound(tree, path);
    EXPECT_EQ(bound.cap, want.cap);
    EXPECT_EQ(bound.outputs, want.outputs);
    EXPECT_EQ(bound.cap_writable, want.cap_writable);
    EXPECT_EQ(bound.unbounded, want.unbounded);
    EXPECT_EQ(extract_prompt_texts(view, path), tree_reference::extract_prompt_texts(tree, path));
    EXPECT_EQ(estimate_attachment_tokens(view, path),
              tree_reference::estimate_attachment_tokens(tree, path));
    (void)text;
}

TEST(BodyFacts, ViewReadsWhatTheTreeRead) {
    BodyGenerator generate(15);
    std::mt19937 rng(1515);
    int readable = 0, duplicated = 0, too_deep = 0, edited = 0;
    for (int round = 0; round < 30000; ++round) {
        const std::string text = generate.body();
        const std::string_view path = kPaths[rng() % std::size(kPaths)];
        SCOPED_TRACE(std::string(path) + " " + text);
        const json tree = json::parse(text, nullptr, false);
        JsonView view;
        const RequestReading reading = read_request_body(text, path, rng() % 2 == 0, &view);
        // Without a policy the summary is read leniently (a member named twice: the last).
        if (!tree.is_discarded())
            expect_same_summary(summarize_request_body(text),
                                tree_reference::summarize_request(tree));
        if (!reading.readable()) {
            EXPECT_EQ(view.root(), JsonView::none);
            if (reading.problem.find("twice") != std::string::npos) ++duplicated;
            if (reading.problem.find("deeply") != std::string::npos) ++too_deep;
            // What a held request's excerpt reads: a lenient view, as the tree was.
            JsonView lenient;
            if (!tree.is_discarded() && read_json_view(text, lenient)) {
                EXPECT_EQ(extract_prompt_texts(lenient, path),
                          tree_reference::extract_prompt_texts(tree, path));
            }
            continue;
        }
        ++readable;
        ASSERT_FALSE(tree.is_discarded());  // what the strict reading reads, a parse reads
        expect_same_facts(text, view, tree, path);

        for (const int64_t limit : {int64_t{100}, int64_t{4096}, int64_t{0}, int64_t{-1},
                                    std::numeric_limits<int64_t>::max()}) {
            std::vector<MemberEdit> edits, want;
            plan_output_cap(view, path, limit, edits);
            tree_reference::plan_output_cap(tree, path, limit, want);
            if (limit == 100) {
                plan_stream_usage(view, path, edits);
                tree_reference::plan_stream_usage(tree, path, want);
            }
            expect_same_edits(edits, want);
            if (edits.empty()) continue;
            ++edited;
            std::string spliced = text;
            JsonView spliced_view;
            ASSERT_TRUE(read_request_body(spliced, path, false, &spliced_view).readable());
            ASSERT_TRUE(write_member_edits(spliced, spliced_view, edits));
            json edited_tree = tree;
            tree_reference::apply_member_edits(edited_tree, want);
            EXPECT_EQ(json::parse(spliced), edited_tree) << spliced;
            EXPECT_TRUE(read_request_body(spliced, path, false).readable()) << spliced;
        }
    }
    // The generator reaches every kind of body.
    EXPECT_GT(readable, 10000);
    EXPECT_GT(duplicated, 100);
    EXPECT_GT(too_deep, 100);
    EXPECT_GT(edited, 10000);
}

// Without a policy the summary is read by a scan; it must read what a parse read.
TEST(BodyFacts, SummaryWithoutPolicyReadsAsTheTreeDid) {
    for (const std::string& body : std::vector<std::string>{
             R"({"model":"gpt-4o","stream":true,"max_tokens":7})",
             R"({"model":"a","model":"b","stream":false,"stream":true})",
             R"({"max_tokens":1.5,"max_output_tokens":9,"max_completion_tokens":"x"})",
             R"({"max_tokens":3,"max_completion_tokens":4})",
             R"({"m\u006fdel":"escaped","stream":true})",
             R"({"model":"caf\u00e9 \"q\"","max_tokens":-2})",
             R"({"max_tokens":18446744073709551615})",
             R"([{"model":"not an object"}])",
             R"({"messages":[{"role":"user","content":"x"}],"model":null})",
             "\xef\xbb\xbf{\"model\":\"after a BOM\"}",
             "{\"model\":\"deep\",\"x\":" + std::string(200, '[') + std::string(200, ']') + "}",
         }) {
        const auto parsed = json::parse(body, nullptr, false);
        const RequestSummary expected =
            parsed.is_discarded() ? RequestSummary{} : tree_reference::summarize_request(parsed);
        const RequestSummary got = summarize_request_body(body);
        EXPECT_EQ(got.json_ok, expected.json_ok) << body;
        EXPECT_EQ(got.model, expected.model) << body;
        EXPECT_EQ(got.stream, expected.stream) << body;
        EXPECT_EQ(got.max_output_tokens, expected.max_output_tokens) << body;
    }
}

// A member name written with escapes is the member the provider decodes: its cap, stream and
// model are read, and a clamp replaces it instead of adding a second copy.
TEST(BodyFacts, EscapedMemberNamesAreTheMembersTheyDecodeTo) {
    std::string text =
        R"({"m\u006fdel":"gpt-4o","max\u005ftokens":5000,"str\u0065am":true,)"
        R"("stream\u005Foptions":{"include\u005fusage":false},"me\u0073sages":[{"role":"user",)"
        R"("cont\u0065nt":"hi"}]})";
    JsonView view;
    ASSERT_TRUE(read_request_body(text, "/v1/chat/completions", false, &view).readable());
    const RequestSummary summary = summarize_request(view);
    EXPECT_EQ(summary.model, "gpt-4o");
    EXPECT_TRUE(summary.stream);
    EXPECT_EQ(summary.max_output_tokens, 5000);
    EXPECT_EQ(read_output_bound(view, "/v1/chat/completions").cap, 5000);
    EXPECT_EQ(extract_prompt_texts(view, "/v1/chat/completions"), std::vector<std::string>{"hi"});
    std::vector<MemberEdit> edits;
    plan_output_cap(view, "/v1/chat/completions", 100, edits);
    plan_stream_usage(view, "/v1/chat/completions", edits);
    ASSERT_TRUE(write_member_edits(text, view, edits));
    const json upstream = json::parse(text);
    EXPECT_EQ(upstream["max_tokens"], 100);
    EXPECT_FALSE(upstream.contains("max_completion_tokens"));
    EXPECT_EQ(upstream["stream_options"], json({{"include_usage", true}}));
    EXPECT_EQ(upstream.size(), 5u);
}

// The length of nlohmann's dump, which the rendered-JSON token estimate counts, is computed
// without one: escapes, raw UTF-8, number forms.
TEST(BodyFacts, DumpSizeIsTheTreeDumpsLength) {
    for (const char* text : {
             R"({"a":[1,2.50,-0,1e2,1E-5,18446744073709551616,-9223372036854775809,0.1]})",
             R"({"s":"caf\u00e9 \ud83d\ude00 \"q\" \\ \/ \b\f\n\r\t \u0001 \u007f","k\u0065y":{}})",
             "{ \"x\" : [ { } , [ ] , null , true , false , \"\xe6\x97\xa5\" ] }",
         }) {
        JsonView view;
        ASSERT_TRUE(read_json_view(text, view)) << text;
        EXPECT_EQ(view.dump_size(view.root()), json::parse(text).dump().size()) << text;
    }
}

}  // namespace
}  // namespace sluice
