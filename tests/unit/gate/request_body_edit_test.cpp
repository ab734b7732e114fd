#include "agent/gate/request_body_edit.h"

#include <gtest/gtest.h>

#include <random>

#include "policy/request_reading.h"
#include "tests/unit/gate/tree_reference.h"
#include "tests/unit/policy/read_body.h"

namespace sluice {
namespace {

using nlohmann::json;

// The edits planned on the body's view and written into its text, which `body` becomes.
bool set_max_output_tokens(json& body, std::string_view target, int64_t limit) {
    ReadBody read(body.dump(), target);
    std::vector<MemberEdit> edits;
    plan_output_cap(read.view, target, limit, edits);
    EXPECT_TRUE(write_member_edits(read.text, read.view, edits));
    body = json::parse(read.text);
    return !edits.empty();
}

bool request_stream_usage(json& body, std::string_view target) {
    ReadBody read(body.dump(), target);
    std::vector<MemberEdit> edits;
    plan_stream_usage(read.view, target, edits);
    EXPECT_TRUE(write_member_edits(read.text, read.view, edits));
    body = json::parse(read.text);
    return !edits.empty();
}

struct ClampCase {
    const char* target;
    const char* body;
    const char* expected;  // "" = unchanged
};

TEST(RequestBodyEdit, ClampWritesTheFieldEachEndpointReads) {
    const ClampCase cases[] = {
        {"/v1/chat/completions", R"({"max_tokens":500})", R"({"max_tokens":100})"},
        {"/v1/chat/completions", R"({"max_completion_tokens":500})",
         R"({"max_completion_tokens":100})"},
        {"/v1/chat/completions", R"({"max_tokens":50})", ""},
        {"/v1/chat/completions", R"({"model":"m"})",
         R"({"model":"m","max_completion_tokens":100})"},
        {"/v1/chat/completions?x=1", R"({"max_tokens":500})", R"({"max_tokens":100})"},
        {"/v1/chat/completions", R"({"max_tokens":"lots"})", R"({"max_tokens":100})"},
        {"/v1/chat/completions", R"({"max_tokens":500,"max_completion_tokens":700})",
         R"({"max_tokens":100,"max_completion_tokens":100})"},
        {"/v1/responses", R"({"max_output_tokens":500})", R"({"max_output_tokens":100})"},
        {"/v1/responses", R"({})", R"({"max_output_tokens":100})"},
        {"/v1/completions", R"({"max_tokens":101})", R"({"max_tokens":100})"},
        {"/v1/embeddings", R"({"input":"x"})", ""},
        {"/v1/models", R"({})", ""},
    };
    for (const auto& c : cases) {
        json body = json::parse(c.body);
        const bool changed = set_max_output_tokens(body, c.target, 100);
        const json expected = json::parse(*c.expected ? c.expected : c.body);
        EXPECT_EQ(changed, *c.expected != '\0') << c.target << " " << c.body;
        EXPECT_EQ(body, expected) << c.target << " " << c.body;
    }
}

TEST(RequestBodyEdit, MeteredChatStreamAsksForUsageOnce) {
    json body = json::parse(R"({"stream":true,"messages":[]})");
    EXPECT_TRUE(request_stream_usage(body, "/v1/chat/completions"));
    EXPECT_EQ(body["stream_options"]["include_usage"], true);
    EXPECT_FALSE(request_stream_usage(body, "/v1/chat/completions"));

    json keeps_other_options =
        json::parse(R"({"stream":true,"stream_options":{"x":1,"include_usage":false}})");
    EXPECT_TRUE(request_stream_usage(keeps_other_options, "/v1/chat/completions"));
    EXPECT_EQ(keeps_other_options["stream_options"]["x"], 1);

    json not_streamed = json::parse(R"({"stream":false})");
    EXPECT_FALSE(request_stream_usage(not_streamed, "/v1/chat/completions"));
    json responses_report_usage_anyway = json::parse(R"({"stream":true})");
    EXPECT_FALSE(request_stream_usage(responses_report_usage_anyway, "/v1/responses"));
}

const char* const kTargets[] = {"/v1/chat/completions", "/v1/responses", "/v1/completions",
                                "/V1/Chat/Completions/?x=1", "/v1/embeddings"};
const char* const kMembers[] = {"max_tokens",       "max_completion_tokens", "max_output_tokens",
                                "stream",           "stream_options",        "messages",
                                "max\\u005ftokens", "stre\\u0061m_options",  "model"};
const char* const kValues[] = {"500",
                               "100",
                               "99",
                               "100.0",
                               "1e3",
                               "-1",
                               "18446744073709551615",
                               "\"lots\"",
                               "null",
                               "true",
                               "false",
                               "{}",
                               "{ }",
                               "{\"include_usage\":false}",
                               "{\"include_usage\":true}",
                               "{\"x\":1,\"include_usage\":\"yes\"}",
                               "{\"x\":{\"include_usage\":false}}",
                               "[]",
                               "[{\"role\":\"user\",\"content\":\"hi\"}]"};

// Generated bodies (every member the edits touch, with every kind of value, escaped names,
// spacing) get the same edits planned on their view as on a parsed tree (the reference the gate
// used before, tree_reference.h), and written as text they are what the tree edits make: the
// body upstream receives parses to what the decision made of it, reads strictly again, and is
// otherwise the client's bytes.
TEST(RequestBodyEdit, SplicedEditsReadAsTheTreeEdits) {
    std::mt19937 rng(15);
    auto pick = [&](std::size_t n) {
        return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng);
    };
    for (int round = 0; round < 20000; ++round) {
        std::string text = pick(2) ? "{" : " {\n ";
        std::vector<std::string> names;
        const std::size_t members = pick(6);
        for (std::size_t i = 0; i < members; ++i) {
            std::string name = kMembers[pick(std::size(kMembers))];
            const std::string decoded = json::parse("\"" + name + "\"").get<std::string>();
            if (std::find(names.begin(), names.end(), decoded) != names.end()) continue;
            names.push_back(decoded);
            if (names.size() > 1) text += pick(2) ? "," : " , ";
            text +=
                "\"" + name + "\"" + (pick(2) ? ":" : " : ") + kValues[pick(std::size(kValues))];
        }
        text += pick(2) ? "}" : " }\n";
        const char* target = kTargets[pick(std::size(kTargets))];
        SCOPED_TRACE(std::string(target) + " " + text);
        json tree = json::parse(text);
        ReadBody read(text, target);
        ASSERT_TRUE(read.reading.readable()) << read.reading.problem;
        std::vector<MemberEdit> edits, expected;
        const int64_t limit = pick(4) ? 100 : -1;
        if (pick(4)) {
            plan_output_cap(read.view, target, limit, edits);
            tree_reference::plan_output_cap(tree, target, limit, expected);
        }
        if (pick(2)) {
            plan_stream_usage(read.view, target, edits);
            tree_reference::plan_stream_usage(tree, target, expected);
        }
        ASSERT_EQ(edits.size(), expected.size());
        for (std::size_t i = 0; i < edits.size(); ++i) {
            EXPECT_EQ(edits[i].member, expected[i].member);
            EXPECT_EQ(edits[i].inner, expected[i].inner);
            EXPECT_EQ(edits[i].value, expected[i].value);
        }
        ASSERT_TRUE(write_member_edits(read.text, read.view, edits));
        const std::string& spliced = read.text;
        tree_reference::apply_member_edits(tree, expected);
        EXPECT_EQ(json::parse(spliced), tree) << spliced;
        EXPECT_TRUE(read_request_body(spliced, target, false).readable()) << spliced;
        if (edits.empty()) {
            EXPECT_EQ(spliced, text);
        }
    }
}

TEST(RequestBodyEdit, SplicesLeaveEveryOtherByteAsSent) {
    ReadBody text(R"({ "model" : "m",  "max_tokens" : 5000, "n":1.50 })");
    ASSERT_TRUE(write_member_edits(text.text, text.view, {{"max_tokens", "", 100}}));
    EXPECT_EQ(text.text, R"({ "model" : "m",  "max_tokens" : 100, "n":1.50 })");
    ReadBody empty("{}");
    ASSERT_TRUE(write_member_edits(
        empty.text, empty.view,
        {{"max_completion_tokens", "", 100}, {"stream_options", "", {{"include_usage", true}}}}));
    EXPECT_EQ(
        json::parse(empty.text),
        json::parse(R"({"max_completion_tokens":100,"stream_options":{"include_usage":true}})"));
    ReadBody not_object("[1]");
    EXPECT_FALSE(write_member_edits(not_object.text, not_object.view, {{"max_tokens", "", 100}}));
    EXPECT_EQ(not_object.text, "[1]");
    // A view of another text (a copy) is not written into.
    ReadBody original(R"({"max_tokens":5000})");
    std::string copy = original.text;
    EXPECT_FALSE(write_member_edits(copy, original.view, {{"max_tokens", "", 100}}));
}

}  // namespace
}  // namespace sluice
