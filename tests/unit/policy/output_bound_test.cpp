#include "policy/output_bound.h"

#include <gtest/gtest.h>

#include <limits>

#include "tests/unit/policy/read_body.h"

namespace sluice {
namespace {

OutputBound bound(const char* body, std::string_view path = "/v1/chat/completions") {
    const ReadBody read(body, path);
    return read_output_bound(read.view, path);
}

TEST(OutputBound, ConflictingChatCapsCountTheLargest) {
    // Both are forwarded and a provider might honour either: 10 is no bound.
    EXPECT_EQ(bound(R"({"max_completion_tokens":10,"max_tokens":5000})").cap, 5000);
    EXPECT_EQ(bound(R"({"max_tokens":5000,"max_completion_tokens":10})").cap, 5000);
    EXPECT_EQ(bound(R"({"max_tokens":7,"max_completion_tokens":null})").cap, 7);
    EXPECT_FALSE(bound(R"({"max_tokens":null})").cap);
}

TEST(OutputBound, CapsAreReadOnlyWhereTheEndpointTakesThem) {
    // Chat ignores max_output_tokens, so it bounds nothing there.
    EXPECT_FALSE(bound(R"({"max_output_tokens":10})").cap);
    EXPECT_EQ(bound(R"({"max_output_tokens":10,"max_tokens":99})", "/v1/responses").cap, 10);
    EXPECT_EQ(bound(R"({"max_tokens":99})", "/v1/completions").cap, 99);
    EXPECT_EQ(bound(R"({"max_tokens":99})", "/V1/Chat/Completions/?x=1").cap, 99);
    EXPECT_TRUE(bound("{}", "/v1/responses").cap_writable);
    const OutputBound images = bound(R"({"n":4,"max_tokens":9})", "/v1/images/generations");
    EXPECT_FALSE(images.cap_writable);
    EXPECT_FALSE(images.cap);
    EXPECT_EQ(images.outputs, 4);
}

TEST(OutputBound, EveryParameterThatMultipliesOutputCounts) {
    EXPECT_EQ(bound(R"({"n":10})").outputs, 10);
    EXPECT_EQ(bound(R"({"n":null})").outputs, 1);
    EXPECT_EQ(bound(R"({"n":0})").outputs, 1);
    EXPECT_EQ(bound(R"({"n":3.0})").outputs, 3);
    EXPECT_EQ(bound(R"({"n":2,"best_of":5})", "/v1/completions").outputs, 5);
    EXPECT_EQ(bound(R"({"best_of":5})").outputs, 1);  // chat has no best_of
    EXPECT_EQ(bound(R"({"n":3,"modalities":["text","audio"]})").outputs, 6);
    EXPECT_EQ(bound(R"({"audio":{"voice":"alloy","format":"wav"}})").outputs, 2);
    EXPECT_EQ(bound(R"({"n":18446744073709551615})").outputs, std::numeric_limits<int64_t>::max());
}

TEST(OutputBound, UnreadableCapsAndCountsLeaveNoBound) {
    for (const char* body :
         {R"({"n":"10"})", R"({"n":2.5})", R"({"n":[10]})", R"({"n":true})",
          R"({"max_tokens":"5000"})", R"({"max_completion_tokens":{"v":1}})",
          R"({"max_tokens":1.5})", R"({"reasoning_effort":"high","max_tokens":100})"})
        EXPECT_FALSE(bound(body).unbounded.empty()) << body;
    EXPECT_TRUE(
        bound(R"({"reasoning_effort":"high","max_completion_tokens":100})").unbounded.empty());
    EXPECT_TRUE(bound(R"({"reasoning_effort":"high"})").unbounded.empty());
}

TEST(OutputBound, NegativeAndHugeCapsNeitherRefundNorWrap) {
    EXPECT_EQ(bound(R"({"max_tokens":-50})").cap, 0);
    EXPECT_EQ(bound(R"({"max_tokens":1e300})").cap, std::numeric_limits<int64_t>::max());
    EXPECT_EQ(saturating_multiply(std::numeric_limits<int64_t>::max(), 10),
              std::numeric_limits<int64_t>::max());
    EXPECT_EQ(saturating_add(std::numeric_limits<int64_t>::max(), 10),
              std::numeric_limits<int64_t>::max());
    EXPECT_EQ(saturating_multiply(-3, 10), 0);
}

}  // namespace
}  // namespace sluice
