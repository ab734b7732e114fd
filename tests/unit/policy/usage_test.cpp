#include "policy/usage.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "policy/request_summary.h"

namespace sluice {
namespace {

TEST(Usage, ReadsUsageFromAJsonBody) {
    auto usage = usage_from_body(
        R"({"id":"x","usage": {"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}})");
    ASSERT_TRUE(usage);
    EXPECT_EQ(usage->parsed()["total_tokens"], 7);
}

TEST(Usage, NoUsageInNullOrMissingOrInvalidBody) {
    EXPECT_FALSE(usage_from_body(R"({"usage":null})"));
    EXPECT_FALSE(usage_from_body(R"({"object":"list"})"));
    EXPECT_FALSE(usage_from_body(R"({"usage": {"total_tokens": 1)"));
}

// The usage reader scans instead of parsing; it must read what nlohmann::json would.
TEST(Usage, ReadsTheBodyAsAParseWould) {
    // A repeated member: the last one counts.
    auto last = usage_from_body(R"({"usage":{"total_tokens":1},"usage":{"total_tokens":2}})");
    ASSERT_TRUE(last);
    EXPECT_EQ(last->parsed()["total_tokens"], 2);
    EXPECT_FALSE(usage_from_body(R"({"usage":{"total_tokens":1},"usage":null})"));
    // Only the top-level member.
    EXPECT_FALSE(usage_from_body(R"({"choices":[{"usage":{"total_tokens":1}}]})"));
    // An escaped key names the member too.
    auto escaped = usage_from_body(R"({"usag\u0065":{"total_tokens":4},"x":{"usage":{}}})");
    ASSERT_TRUE(escaped);
    EXPECT_EQ(escaped->parsed()["total_tokens"], 4);
    // Nested details come along whole.
    auto details = usage_from_body(
        R"({"usage":{"prompt_tokens":9,"prompt_tokens_details":{"cached_tokens":3}},"id":"x"})");
    ASSERT_TRUE(details);
    EXPECT_EQ(details->parsed()["prompt_tokens_details"]["cached_tokens"], 3);
    // Nesting past the scan's limit is refused, not followed.
    std::string deep = R"({"usage":{"total_tokens":1},"x":)";
    for (int i = 0; i < 5000; ++i) deep += "[";
    for (int i = 0; i < 5000; ++i) deep += "]";
    EXPECT_FALSE(usage_from_body(deep + "}"));
}

// The look for a usage object runs from the end of the body: members that merely mention
// "usage" after the object (as a string, a null, in a nested object) must not hide it.
TEST(Usage, FoundBehindLaterMentionsOfTheWord) {
    auto usage = usage_from_body(
        R"({"usage":{"total_tokens":5},"note":"usage","x":{"usage":null},"y":["usage"],"usage_hint" : "usage"})");
    ASSERT_TRUE(usage);
    EXPECT_EQ(usage->json, R"({"total_tokens":5})");
    EXPECT_FALSE(usage_from_body(R"({"a":"usage","b":{"usage":null},"usage" : null})"));
    EXPECT_FALSE(usage_from_body(R"("usage")"));
    EXPECT_FALSE(usage_from_body(R"(")"));
}

// The usage text goes into a JSON-lines audit file as it is: one line, strings untouched.
TEST(Usage, TextIsTheUpstreamsObjectOnOneLine) {
    auto usage = usage_from_body(
        "{\n  \"usage\": {\n    \"prompt_tokens\": 3,\r\n\t\"note\": \"a \\\" b\\\\\",\n"
        "    \"total_tokens\" : 7\n  }\n}\n");
    ASSERT_TRUE(usage);
    EXPECT_EQ(usage->json, R"({"prompt_tokens":3,"note":"a \" b\\","total_tokens":7})");
    EXPECT_EQ(usage->parsed()["note"], "a \" b\\");
}

// Compaction copies runs between the bytes it must look at, 16 at a time: strings of every
// length around the block edges, with escapes, spaces and non-ASCII text, in bodies printed
// with and without indentation, all come out as the compact form of the same object.
TEST(Usage, CompactsWhateverTheWhitespaceAndStringsAround16ByteBlocks) {
    std::mt19937 random(7);
    const std::vector<std::string> pieces = {"a", " ",   "\"", "\\", "\n", "\t", "é",
                                             "€", "x y", "{",  "}",  ":",  ","};
    for (int round = 0; round < 400; ++round) {
        nlohmann::ordered_json usage = {{"prompt_tokens", round}, {"total_tokens", round * 3}};
        auto text = [&] {
            std::string text;
            const std::size_t length = random() % 40;
            while (text.size() < length) text += pieces[random() % pieces.size()];
            return text;
        };
        for (int field = 0; field < 3; ++field) {
            usage["note_" + std::to_string(field)] = text();
            usage["details_" + std::to_string(field)] = {{"cached_tokens", field},
                                                         {"label", text()}};
        }
        const nlohmann::ordered_json body = {{"id", "chatcmpl-1"}, {"usage", usage}};
        for (int indent : {-1, 1, 2, 4}) {
            const auto read = usage_from_body(body.dump(indent));
            ASSERT_TRUE(read) << body.dump(indent);
            EXPECT_EQ(read->json, usage.dump()) << "indent " << indent << ": " << body.dump(indent);
        }
    }
}

TEST(Usage, ResponsesEventsWithOddMembersAreReadSafely) {
    StreamUsageTracker tracker;
    // "type" that is not a string: not an end, and no exception.
    tracker.on_event({"", R"({"type":5,"response":{"usage":{"total_tokens":3}}})", ""});
    ASSERT_TRUE(tracker.usage());
    EXPECT_EQ(tracker.usage()->parsed()["total_tokens"], 3);
    EXPECT_FALSE(tracker.saw_done());
    // An escaped type value still names response.completed.
    tracker.on_event(
        {"", R"({"type":"response.complet\u0065d","response":{"usage":{"total_tokens":6}}})", ""});
    EXPECT_EQ(tracker.usage()->parsed()["total_tokens"], 6);
    EXPECT_TRUE(tracker.saw_done());
}

TEST(Usage, TakesTheFinalChunkOfAChatStream) {
    StreamUsageTracker tracker;
    tracker.on_event({"", R"({"choices":[{"delta":{"content":"hi"}}],"usage":null})", ""});
    EXPECT_FALSE(tracker.usage());
    tracker.on_event(
        {"", R"({"choices":[],"usage":{"prompt_tokens":2,"completion_tokens":5,"total_tokens":7}})",
         ""});
    tracker.on_event({"", "[DONE]", ""});
    ASSERT_TRUE(tracker.usage());
    EXPECT_EQ(tracker.usage()->parsed()["completion_tokens"], 5);
    EXPECT_TRUE(tracker.saw_done());
}

TEST(Usage, TakesResponseCompletedOfAResponsesStream) {
    StreamUsageTracker tracker;
    tracker.on_event({"response.output_text.delta",
                      R"({"type":"response.output_text.delta","delta":"usage"})", ""});
    EXPECT_FALSE(tracker.usage());
    tracker.on_event(
        {"response.completed",
         R"({"type":"response.completed","response":{"usage":{"input_tokens":1,"output_tokens":2,"total_tokens":3}}})",
         ""});
    ASSERT_TRUE(tracker.usage());
    EXPECT_EQ(tracker.usage()->parsed()["output_tokens"], 2);
    EXPECT_TRUE(tracker.saw_done());
}

TEST(RequestSummary, ReadsModelStreamAndOutputCap) {
    auto summary =
        summarize_request_body(R"({"model":"gpt-4o","stream":true,"max_completion_tokens":50})");
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
