// The recording tap of a realtime session: text events kept as they went (full), audio and
// binary messages as size and SHA-256 only, metadata without text, and a bound on what a long
// session keeps.
#include "agent/proxy/realtime_recording.h"

#include <gtest/gtest.h>

#include <string>

#include "agent/common/limits.h"
#include "agent/common/sha256_hex.h"

namespace sluice {
namespace {

namespace http = boost::beast::http;

RequestHeader upgrade_header() {
    RequestHeader header;
    header.method(http::verb::get);
    header.target("/v1/realtime?model=gpt-realtime");
    header.set(http::field::user_agent, "openai-node");
    header.set("x-sluice-session", "voice-7");
    return header;
}

RealtimeRecording recording(RecordMode mode) {
    return RealtimeRecording(mode, "c9", upgrade_header(), RealtimeRecording::Clock::now());
}

const std::string kItem =
    R"({"type":"conversation.item.create","item":{"type":"message","role":"user",)"
    R"("content":[{"type":"input_text","text":"mail [EMAIL]"}]}})";
const std::string kAppend = R"({"type":"input_audio_buffer.append","audio":"UklGRiQAAABXQVZF"})";
const std::string kDelta = R"({"type":"response.output_text.delta","delta":"hel"})";
const std::string kAudioDelta = R"({"type":"response.output_audio.delta","delta":"AAAAAAAA"})";

TEST(RealtimeRecording, FullKeepsTextEventsAsTheyWentAndAudioAsItsHashOnly) {
    RealtimeRecording tap = recording(RecordMode::full);
    tap.on_text_event(true, kItem);
    tap.on_text_event(true, kAppend);
    tap.on_text_event(false, kDelta);
    tap.on_text_event(false, kAudioDelta);
    const RequestCapture capture = tap.take();
    EXPECT_TRUE(capture.realtime);
    EXPECT_EQ(capture.run, "voice-7");
    EXPECT_EQ(capture.connection, "c9");
    ASSERT_EQ(capture.realtime_events.size(), 4u);
    const auto& item = capture.realtime_events[0];
    EXPECT_TRUE(item.from_client);
    EXPECT_EQ(item.type, "conversation.item.create");
    EXPECT_EQ(item.data, kItem);
    EXPECT_EQ(item.bytes, kItem.size());
    const auto& append = capture.realtime_events[1];
    EXPECT_EQ(append.type, "input_audio_buffer.append");
    EXPECT_EQ(append.data, "") << "audio is never recorded, only its size and hash";
    EXPECT_EQ(append.sha256, sha256_hex(kAppend));
    EXPECT_EQ(append.bytes, kAppend.size());
    EXPECT_FALSE(capture.realtime_events[2].from_client);
    EXPECT_EQ(capture.realtime_events[2].data, kDelta);
    EXPECT_EQ(capture.realtime_events[3].data, "");
    EXPECT_EQ(capture.realtime_events[3].sha256, sha256_hex(kAudioDelta));
    for (std::size_t i = 1; i < capture.realtime_events.size(); ++i)
        EXPECT_LE(capture.realtime_events[i - 1].offset_ms, capture.realtime_events[i].offset_ms);
    EXPECT_FALSE(capture.truncated);
}

TEST(RealtimeRecording, MetadataKeepsTypeSizeAndTimeButNoTextNorHash) {
    RealtimeRecording tap = recording(RecordMode::metadata);
    tap.on_text_event(true, kItem);
    tap.on_text_event(false, kAudioDelta);
    tap.on_binary_piece(true, "abc", true);
    const RequestCapture capture = tap.take();
    ASSERT_EQ(capture.realtime_events.size(), 3u);
    for (const auto& event : capture.realtime_events) {
        EXPECT_EQ(event.data, "");
        EXPECT_EQ(event.sha256, "");
    }
    EXPECT_EQ(capture.realtime_events[0].type, "conversation.item.create");
    EXPECT_EQ(capture.realtime_events[0].bytes, kItem.size());
    EXPECT_TRUE(capture.realtime_events[2].binary);
    EXPECT_EQ(capture.realtime_events[2].bytes, 3u);
}

// A binary message is hashed as a whole, however it was cut into pieces, each direction apart.
TEST(RealtimeRecording, ABinaryMessageIsHashedWholeAtEveryCut) {
    const std::string message = "\x01\x02 audio frame bytes \xff\x00 end";
    for (std::size_t cut = 0; cut <= message.size(); ++cut) {
        RealtimeRecording tap = recording(RecordMode::full);
        tap.on_binary_piece(true, std::string_view(message).substr(0, cut), false);
        tap.on_binary_piece(false, "other way", true);
        tap.on_binary_piece(true, std::string_view(message).substr(cut), true);
        const RequestCapture capture = tap.take();
        ASSERT_EQ(capture.realtime_events.size(), 2u);
        EXPECT_FALSE(capture.realtime_events[0].from_client);
        EXPECT_EQ(capture.realtime_events[0].sha256, sha256_hex("other way"));
        EXPECT_TRUE(capture.realtime_events[1].binary);
        EXPECT_EQ(capture.realtime_events[1].bytes, message.size()) << cut;
        EXPECT_EQ(capture.realtime_events[1].sha256, sha256_hex(message)) << cut;
    }
}

TEST(RealtimeRecording, ALongSessionIsCutAtTheEventLimitAndSaysSo) {
    RealtimeRecording tap = recording(RecordMode::full);
    const std::size_t limit = limits::kRealtimeRecordingMaxEvents;
    for (std::size_t i = 0; i < limit + 25; ++i) tap.on_text_event(false, kDelta);
    const RequestCapture capture = tap.take();
    EXPECT_EQ(capture.realtime_events.size(), limit);
    EXPECT_EQ(capture.realtime_events_not_recorded, 25u);
    EXPECT_TRUE(capture.truncated);
}

TEST(RealtimeRecording, ASessionIsCutAtTheTextLimitAndNothingLaterIsKept) {
    RealtimeRecording tap = recording(RecordMode::full);
    const std::string big = R"({"type":"conversation.item.create","pad":")" +
                            std::string(limits::kRealtimeRecordingMaxBytes / 2, 'x') + R"("})";
    tap.on_text_event(true, big);
    tap.on_text_event(true, big);    // over the limit: cut here
    tap.on_text_event(true, kItem);  // small, but after the cut: not kept either
    const RequestCapture capture = tap.take();
    ASSERT_EQ(capture.realtime_events.size(), 1u);
    EXPECT_EQ(capture.realtime_events_not_recorded, 2u);
    EXPECT_TRUE(capture.truncated);
}

}  // namespace
}  // namespace sluice
