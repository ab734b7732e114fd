#include "policy/sse_parser.h"

#include <gtest/gtest.h>

#include <random>
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

// The parser as it was first written, a byte at a time: the reading every faster one must keep.
class ByteAtATimeParser {
public:
    explicit ByteAtATimeParser(std::size_t max_event_bytes) : max_event_bytes_(max_event_bytes) {}

    bool feed(std::string_view bytes, std::vector<std::string>& out) {
        if (failed_) return false;
        for (char c : bytes) {
            if (c == '\n' && last_was_cr_) {
                last_was_cr_ = false;
                continue;
            }
            last_was_cr_ = (c == '\r');
            if (c == '\r' || c == '\n') {
                line(out);
                line_.clear();
                continue;
            }
            line_.push_back(c);
            if (line_.size() + data_.size() > max_event_bytes_) {
                failed_ = true;
                return false;
            }
        }
        return true;
    }

private:
    void line(std::vector<std::string>& out) {
        if (line_.empty()) {
            if (has_data_ || !event_.empty()) out.push_back(event_ + "|" + data_ + "|" + id_);
            event_.clear();
            data_.clear();
            id_.clear();
            has_data_ = false;
            return;
        }
        if (line_.front() == ':') {
            out.push_back("comment:" + line_.substr(1));
            return;
        }
        std::string field = line_, value;
        if (auto colon = line_.find(':'); colon != std::string::npos) {
            field = line_.substr(0, colon);
            value = line_.substr(colon + 1);
            if (!value.empty() && value.front() == ' ') value.erase(0, 1);
        }
        if (field == "data") {
            if (has_data_) data_.push_back('\n');
            data_ += value;
            has_data_ = true;
        } else if (field == "event") {
            event_ = value;
        } else if (field == "id") {
            id_ = value;
        }
    }

    std::size_t max_event_bytes_;
    std::string line_, event_, data_, id_;
    bool has_data_ = false, last_was_cr_ = false, failed_ = false;
};

// Streams built from SSE's pieces (every line ending, comments, empty and unknown fields, long
// lines), cut into random pieces, with and without a size limit: events, comments, the point
// of failure and what follows it all match the byte-at-a-time reading.
TEST(SseParser, ReadsEveryGeneratedStreamAsTheByteAtATimeParser) {
    std::mt19937 random(20261208);
    const std::vector<std::string> parts = {"data", "data:",      "data: ", "event: ",
                                            "id: ", "retry: 5",   ":",      ": ping",
                                            "x",    "{\"a\":1}",  "\n",     "\r",
                                            "\r\n", "\n\n",       "\r\r",   "\r\n\r\n",
                                            " ",    "data:  two", "[DONE]", std::string(40, 'y')};
    for (int round = 0; round < 5000; ++round) {
        std::string stream;
        const int count = 1 + static_cast<int>(random() % 40);
        for (int i = 0; i < count; ++i) stream += parts[random() % parts.size()];
        const std::size_t limit = random() % 3 == 0 ? 1 + random() % 60 : 8 * 1024 * 1024;
        SseParser parser(limit);
        ByteAtATimeParser reference(limit);
        std::vector<std::string> got, want;
        const auto sink = [&](const SseEvent& e) {
            got.push_back(e.event + "|" + e.data + "|" + e.id);
        };
        const auto comments = [&](std::string_view c) {
            got.push_back("comment:" + std::string(c));
        };
        for (std::size_t at = 0; at < stream.size();) {
            const std::size_t size = std::min(stream.size() - at, 1 + random() % 12);
            const std::string_view piece = std::string_view(stream).substr(at, size);
            ASSERT_EQ(parser.feed(piece, sink, comments), reference.feed(piece, want))
                << "round " << round << " at " << at;
            at += size;
        }
        ASSERT_EQ(got, want) << "round " << round;
    }
}

}  // namespace
}  // namespace sluice
