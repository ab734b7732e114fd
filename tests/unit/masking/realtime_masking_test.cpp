// Realtime API events: a value split across the text deltas of two (or any number of) frames
// never reaches the client whole or in pieces; the channel's tail is released before its
// .done; audio is untouched; client text events are masked before they go upstream, and the
// audio they append is not inspected.
#include <gtest/gtest.h>

#include "masking_test_support.h"
#include "policy/masking/realtime_event_masker.h"

namespace sluice::masking {
namespace {

using namespace testing;
using nlohmann::json;

json delta_event(const std::string& type, const std::string& delta, int content_index = 0) {
    return {{"type", type},        {"event_id", "event_1"}, {"response_id", "resp_1"},
            {"item_id", "item_1"}, {"output_index", 0},     {"content_index", content_index},
            {"delta", delta}};
}

json done_event(const std::string& type, const std::string& member, const std::string& text) {
    json event = delta_event(type, "");
    event.erase("delta");
    event[member] = text;
    return event;
}

// What the client reads of one streamed text: its deltas joined, and the .done's full text.
struct Received {
    std::string deltas;
    std::string done;
    std::string everything;  // every byte sent, for leak checks
};

Received relay(RealtimeEventMasker& masker, const std::string& kind, const std::string& member,
               const std::vector<std::string>& pieces, const std::string& whole) {
    Received received;
    std::vector<std::string> out;
    for (const auto& piece : pieces)
        EXPECT_TRUE(masker.mask_server_event(delta_event(kind + ".delta", piece).dump(), out));
    EXPECT_TRUE(masker.mask_server_event(done_event(kind + ".done", member, whole).dump(), out));
    for (const auto& message : out) {
        received.everything += message;
        const json event = json::parse(message);
        if (event["type"] == kind + ".delta") received.deltas += event["delta"].get<std::string>();
        if (event["type"] == kind + ".done") received.done = event[member];
    }
    return received;
}

struct Channel {
    const char* kind;
    const char* member;
};
constexpr Channel kChannels[] = {
    {"response.text", "text"},
    {"response.output_text", "text"},
    {"response.audio_transcript", "transcript"},
    {"response.output_audio_transcript", "transcript"},
};

TEST(RealtimeMasking, EmailSplitAtEveryByteAcrossTwoFramesNeverReachesClient) {
    const std::string value = "jane.roe@example.com";
    const std::string text = "Write to " + value + " today.";
    for (const Channel& channel : kChannels) {
        for (std::size_t cut = 1; cut < text.size(); ++cut) {
            MaskingSession session(redact_all(), "key");
            auto masker = session.make_realtime_masker();
            const Received got = relay(*masker, channel.kind, channel.member,
                                       {text.substr(0, cut), text.substr(cut)}, text);
            SCOPED_TRACE(std::string(channel.kind) + " cut " + std::to_string(cut));
            EXPECT_EQ(got.everything.find("roe@example"), std::string::npos);
            EXPECT_EQ(got.everything.find("example.com"), std::string::npos);
            EXPECT_EQ(got.deltas, got.done) << "deltas and .done agree";
            EXPECT_NE(got.deltas.find("Write to "), std::string::npos);
            EXPECT_NE(got.deltas.find(" today."), std::string::npos);
        }
    }
}

TEST(RealtimeMasking, OneByteFramesNeverLeakAndKeepTheRest) {
    const std::string text = "Card 4111 1111 1111 1111 ok";
    std::vector<std::string> pieces;
    for (char c : text) pieces.emplace_back(1, c);
    MaskingSession session(redact_all(), "key");
    auto masker = session.make_realtime_masker();
    const Received got = relay(*masker, "response.output_text", "text", pieces, text);
    EXPECT_EQ(got.everything.find("4111 1111"), std::string::npos);
    EXPECT_TRUE(got.deltas.starts_with("Card "));
    EXPECT_TRUE(got.deltas.ends_with(" ok"));
}

TEST(RealtimeMasking, AudioDeltasPassUntouched) {
    MaskingSession session(redact_all(), "key");
    auto masker = session.make_realtime_masker();
    const std::string audio =
        delta_event("response.audio.delta", "am9obkBleGFtcGxlLmNvbQ==").dump();
    std::vector<std::string> out;
    ASSERT_TRUE(masker->mask_server_event(audio, out));
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0], audio);
}

TEST(RealtimeMasking, OtherServerEventsHaveTheirTextMasked) {
    MaskingSession session(redact_all(), "key");
    auto masker = session.make_realtime_masker();
    const json done = {
        {"type", "response.done"},
        {"event_id", "event_9"},
        {"response",
         {{"id", "resp_1"},
          {"output",
           json::array({{{"id", "item_1"},
                         {"content", json::array({{{"type", "text"},
                                                   {"text", "mail jane.roe@example.com"}}})}}})}}}};
    std::vector<std::string> out;
    ASSERT_TRUE(masker->mask_server_event(done.dump(), out));
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].find("jane.roe@example.com"), std::string::npos);
    EXPECT_NE(out[0].find("resp_1"), std::string::npos) << "identifiers are left alone";
}

TEST(RealtimeMasking, UnreadableServerEventFailsClosed) {
    MaskingSession session(redact_all(), "key");
    auto masker = session.make_realtime_masker();
    std::vector<std::string> out;
    EXPECT_FALSE(masker->mask_server_event("{not json", out));
    EXPECT_TRUE(out.empty());
    EXPECT_FALSE(masker->mask_server_event(delta_event("response.text.delta", "x").dump(), out));
    EXPECT_FALSE(masker->failure().empty());
}

TEST(RealtimeMasking, ClientTextIsMaskedAudioAppendIsNot) {
    MaskingSession session(redact_all(), "key");
    auto masker = session.make_realtime_masker();
    std::string item =
        json{{"type", "conversation.item.create"},
             {"item",
              {{"type", "message"},
               {"role", "user"},
               {"content",
                json::array({{{"type", "input_text"}, {"text", "I am jane.roe@example.com"}}})}}}}
            .dump();
    EXPECT_EQ(masker->mask_client_event(item), BodyStatus::masked);
    EXPECT_EQ(item.find("jane.roe@example.com"), std::string::npos);
    std::string audio =
        json{{"type", "input_audio_buffer.append"}, {"audio", "jane.roe@example.com"}}.dump();
    const std::string before = audio;
    EXPECT_EQ(masker->mask_client_event(audio), BodyStatus::unchanged);
    EXPECT_EQ(audio, before);
}

TEST(RealtimeMasking, PlaceholderSplitAcrossFramesIsRestored) {
    MaskingSession session(token_all(), "key");
    auto masker = session.make_realtime_masker();
    std::string item =
        json{{"type", "conversation.item.create"},
             {"item",
              {{"type", "message"},
               {"content",
                json::array({{{"type", "input_text"}, {"text", "me: jane.roe@example.com"}}})}}}}
            .dump();
    ASSERT_EQ(masker->mask_client_event(item), BodyStatus::masked);
    const std::string text = json::parse(item)["item"]["content"][0]["text"];
    const auto at = text.find('<');
    ASSERT_NE(at, std::string::npos) << text;
    const std::string placeholder = text.substr(at);
    const std::string answer = "Hello " + placeholder + "!";
    const Received got = relay(*masker, "response.output_text", "text",
                               {answer.substr(0, 9), answer.substr(9)}, answer);
    EXPECT_EQ(got.deltas, "Hello jane.roe@example.com!");
}

}  // namespace
}  // namespace sluice::masking
