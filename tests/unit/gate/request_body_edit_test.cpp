#include "agent/gate/request_body_edit.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

using nlohmann::json;

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

}  // namespace
}  // namespace sluice
