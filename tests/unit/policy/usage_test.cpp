#include "policy/usage.h"

#include <gtest/gtest.h>

#include "policy/request_summary.h"

namespace sluice {
namespace {

TEST(Usage, ReadsUsageFromAJsonBody) {
    auto usage = usage_from_body(R"({"id":"x","usage": {"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}})");
    ASSERT_TRUE(usage);
    EXPECT_EQ((*usage)["total_tokens"], 7);
}

TEST(Usage, NoUsageInNullOrMissingOrInvalidBody) {
    EXPECT_FALSE(usage_from_body(R"({"usage":null})"));
    EXPECT_FALSE(usage_from_body(R"({"object":"list"})"));
    EXPECT_FALSE(usage_from_body(R"({"usage": {"total_tokens": 1)"));
}

TEST(Usage, TakesTheFinalChunkOfAChatStream) {
    StreamUsageTracker tracker;
    tracker.on_event({"", R"({"choices":[{"delta":{"content":"hi"}}],"usage":null})", ""});
    EXPECT_FALSE(tracker.usage());
    tracker.on_event({"", R"({"choices":[],"usage":{"prompt_tokens":2,"completion_tokens":5,"total_tokens":7}})", ""});
    tracker.on_event({"", "[DONE]", ""});
    ASSERT_TRUE(tracker.usage());
    EXPECT_EQ((*tracker.usage())["completion_tokens"], 5);
    EXPECT_TRUE(tracker.saw_done());
}

TEST(Usage, TakesResponseCompletedOfAResponsesStream) {
    StreamUsageTracker tracker;
    tracker.on_event({"response.output_text.delta", R"({"type":"response.output_text.delta","delta":"usage"})", ""});
    EXPECT_FALSE(tracker.usage());
    tracker.on_event({"response.completed",
                      R"({"type":"response.completed","response":{"usage":{"input_tokens":1,"output_tokens":2,"total_tokens":3}}})",
                      ""});
    ASSERT_TRUE(tracker.usage());
    EXPECT_EQ((*tracker.usage())["output_tokens"], 2);
    EXPECT_TRUE(tracker.saw_done());
}

TEST(RequestSummary, ReadsModelStreamAndOutputCap) {
    auto summary = summarize_request_body(R"({"model":"gpt-4o","stream":true,"max_completion_tokens":50})");
    EXPECT_TRUE(summary.json_ok);
    EXPECT_EQ(summary.model, "gpt-4o");
    EXPECT_TRUE(summary.stream);
    EXPECT_EQ(summary.max_output_tokens, 50);
}

TEST(RequestSummary, ToleratesNonJsonAndWrongTypes) {
    EXPECT_FALSE(summarize_request_body("not json").json_ok);
    auto summary = summarize_request_body(R"({"model":5,"stream":"yes"})");
    EXPECT_TRUE(summary.json_ok);
    EXPECT_EQ(summary.model, "");
    EXPECT_FALSE(summary.stream);
}

}  // namespace
}  // namespace sluice
