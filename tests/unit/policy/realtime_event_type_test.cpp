#include "policy/realtime/realtime_event_type.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice::realtime {
namespace {

TEST(RealtimeEventType, ReadsTheTopLevelTypeWhereverItSits) {
    EXPECT_EQ(event_type(R"({"type":"response.create"})"), "response.create");
    EXPECT_EQ(event_type(R"(  { "event_id" : "e1" , "type" : "session.update" } )"),
              "session.update");
    EXPECT_EQ(event_type(R"({"item":{"type":"message","content":[{"type":"input_text"}]},)"
                         R"("type":"conversation.item.create"})"),
              "conversation.item.create");
    EXPECT_EQ(event_type(R"({"delta":"a \"type\":\"x\" b","type":"response.text.delta"})"),
              "response.text.delta");
    EXPECT_EQ(event_type(R"({"list":["type","type"],"type":"ok"})"), "ok");
}

TEST(RealtimeEventType, AnythingElseHasNoType) {
    for (const char* text : {"", "[]", R"(["type","x"])", R"({"type":1})", R"({"type":"a\"b"})",
                             R"({"a":{"type":"x"}})", R"({"type":"unterminated)",
                             R"({"types":"x"})", R"({"x":"type","y":1})", "{", "}"})
        EXPECT_EQ(event_type(text), "") << text;
}

// Cut anywhere, an event reads as no type or as its whole type, never a part of it.
TEST(RealtimeEventType, APrefixOfAnEventNeverReadsAsAnotherType) {
    const std::string event = R"({"event_id":"e{[,","audio":"AAAA","type":"response.audio.delta"})";
    for (std::size_t cut = 0; cut < event.size(); ++cut) {
        const std::string_view type = event_type(std::string_view(event).substr(0, cut));
        EXPECT_TRUE(type.empty() || type == "response.audio.delta") << cut << ": " << type;
        EXPECT_EQ(type.empty(), cut < event.size() - 1) << cut;
    }
    EXPECT_EQ(event_type(event), "response.audio.delta");
}

TEST(RealtimeEventType, AudioEventsAreTheAppendAndTheAudioDeltas) {
    EXPECT_TRUE(is_audio_event("input_audio_buffer.append"));
    EXPECT_TRUE(is_audio_event("response.audio.delta"));
    EXPECT_TRUE(is_audio_event("response.output_audio.delta"));
    EXPECT_FALSE(is_audio_event("response.audio_transcript.delta"));
    EXPECT_FALSE(is_audio_event("response.output_audio_transcript.delta"));
    EXPECT_FALSE(is_audio_event("response.text.delta"));
    EXPECT_FALSE(is_audio_event("input_audio_buffer.commit"));
}

}  // namespace
}  // namespace sluice::realtime
