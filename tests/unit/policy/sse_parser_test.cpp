#include "policy/sse_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sluice {
namespace {

std::vector<SseEvent> parse_in_pieces(const std::string& stream, std::size_t split) {
    SseParser parser;
    std::vector<SseEvent> events;
    auto sink = [&](const SseEvent& e) { events.push_back(e); };
    parser.feed(std::string_view(stream).substr(0, split), sink);
    parser.feed(std::string_view(stream).substr(split), sink);
    return events;
}

const std::string kResponsesStream =
    "event: response.created\ndata: {\"type\":\"response.created\"}\n\n"
    "event: response.output_text.delta\r\ndata: {\"delta\":\"Hel\"}\r\n\r\n"
    ": keep-alive comment\n\n"
    "event: response.completed\rdata: {\"a\":1}\rdata: {\"b\":2}\r\r"
    "data: [DONE]\n\n";

TEST(SseParser, ParsesEventsWithAnyLineEndingSplitAtEveryByte) {
    for (std::size_t split = 0; split <= kResponsesStream.size(); ++split) {
        auto events = parse_in_pieces(kResponsesStream, split);
        ASSERT_EQ(events.size(), 4u) << "split at " << split;
        EXPECT_EQ(events[0].event, "response.created");
        EXPECT_EQ(events[1].data, "{\"delta\":\"Hel\"}");
        EXPECT_EQ(events[2].event, "response.completed");
        EXPECT_EQ(events[2].data, "{\"a\":1}\n{\"b\":2}") << "split at " << split;
        EXPECT_EQ(events[3].data, "[DONE]");
    }
}

TEST(SseParser, FieldWithoutSpaceAfterColonAndUnknownFields) {
    SseParser parser;
    std::vector<SseEvent> events;
    parser.feed("data:x\nretry: 10\nid: 7\n\n", [&](const SseEvent& e) { events.push_back(e); });
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].data, "x");
    EXPECT_EQ(events[0].id, "7");
}

TEST(SseParser, IncompleteEventIsNotDispatched) {
    SseParser parser;
    int count = 0;
    parser.feed("data: partial\n", [&](const SseEvent&) { ++count; });
    EXPECT_EQ(count, 0);
}

TEST(SseParser, FailsOnceAnEventExceedsTheLimit) {
    SseParser parser(16);
    int count = 0;
    EXPECT_FALSE(parser.feed("data: 0123456789abcdef0123\n\n", [&](const SseEvent&) { ++count; }));
    EXPECT_TRUE(parser.failed());
    EXPECT_FALSE(parser.feed("data: x\n\n", [&](const SseEvent&) { ++count; }));
    EXPECT_EQ(count, 0);
}

}  // namespace
}  // namespace sluice
