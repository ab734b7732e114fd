// A recorded Realtime API session, from the capture the relay hands over to what `sessions
// show`, `replay` and `export` make of it: its events with their timing and figures, a
// transcript of what each side said, the replay at the recorded offsets, HAR's WebSocket
// messages, and a metadata recording that holds no text.
#include <gtest/gtest.h>

#include "agent/recording/realtime_transcript.h"
#include "agent/recording/recording_json.h"
#include "agent/recording/session_export.h"
#include "agent/recording/session_index.h"
#include "agent/recording/session_transcript.h"

namespace sluice {
namespace {

using json = nlohmann::json;

RealtimeEventCapture event(double t_ms, bool from_client, std::string type, std::string data,
                           std::string sha256 = "") {
    RealtimeEventCapture e;
    e.offset_ms = t_ms;
    e.from_client = from_client;
    e.type = std::move(type);
    e.bytes = data.empty() ? 4096 : data.size();
    e.data = std::move(data);
    e.sha256 = std::move(sha256);
    return e;
}

RequestCapture voice_session(RecordMode mode) {
    RequestCapture capture;
    capture.mode = mode;
    capture.realtime = true;
    capture.connection = "c5";
    capture.identity = R"({"uid":1000,"user":"alice","exe":"/usr/bin/node"})";
    const bool full = mode == RecordMode::full;
    auto text = [&](std::string data) { return full ? data : std::string(); };
    capture.realtime_events = {
        event(2, false, "session.created", text(R"({"type":"session.created","session":{}})")),
        event(10, true, "conversation.item.create",
              text(R"({"type":"conversation.item.create","item":{"type":"message","role":"user",)"
                   R"("content":[{"type":"input_text","text":"mail [EMAIL] please"}]}})")),
        event(12, true, "input_audio_buffer.append", "", full ? std::string(64, 'a') : ""),
        event(15, true, "response.create", text(R"({"type":"response.create"})")),
        event(40, false, "response.output_text.delta",
              text(R"({"type":"response.output_text.delta","delta":"Sure, "})")),
        event(55, false, "response.output_text.delta",
              text(R"({"type":"response.output_text.delta","delta":"done."})")),
        event(60, false, "response.done",
              text(R"({"type":"response.done","response":{"status":"completed",)"
                   R"("usage":{"input_tokens":9,"output_tokens":4}}})"))};
    capture.realtime_events_not_recorded = 3;
    return capture;
}

AuditRecord session_record() {
    AuditRecord r;
    r.id = "rt-1";
    r.method = "GET";
    r.path = "/v1/realtime?model=gpt-realtime";
    r.model = "gpt-realtime";
    r.status = 101;
    r.action = "allow";
    r.rule = "voice";
    r.latency_ms = 80;
    r.usage = UsageObject{R"({"input_tokens":9,"output_tokens":4,"total_tokens":13})"};
    r.realtime = json{{"duration_ms", 80.0},
                      {"client", {{"frames", 3}}},
                      {"upstream", {{"frames", 4}}},
                      {"decisions", json::array()},
                      {"close", {{"by", "client"}, {"code", 1000}}}};
    return r;
}

json stored(RecordMode mode) {
    std::string text;
    append_recording_json(text, session_record(), voice_session(mode));
    return json::parse(text);
}

TEST(RealtimeSessionRecording, HoldsEachEventWithItsTimingAndTheSessionsFigures) {
    const json r = stored(RecordMode::full);
    ASSERT_TRUE(is_realtime_recording(r));
    const json& realtime = r["realtime"];
    ASSERT_EQ(realtime["events"].size(), 7u);
    EXPECT_EQ(realtime["events"][1]["from"], "client");
    EXPECT_EQ(realtime["events"][1]["t_ms"], 10.0);
    EXPECT_NE(realtime["events"][1]["data"].get<std::string>().find("mail [EMAIL] please"),
              std::string::npos);
    EXPECT_FALSE(realtime["events"][2].contains("data")) << "audio is kept as its hash only";
    EXPECT_EQ(realtime["events"][2]["sha256"], std::string(64, 'a'));
    EXPECT_EQ(realtime["events"][4]["from"], "upstream");
    EXPECT_EQ(realtime["cut"]["after_events"], 7);
    EXPECT_EQ(realtime["cut"]["events_not_recorded"], 3);
    EXPECT_EQ(realtime["close"]["code"], 1000);
    EXPECT_EQ(realtime["duration_ms"], 80.0);
    EXPECT_EQ(r["request"]["path"], "/v1/realtime?model=gpt-realtime");
    EXPECT_EQ(r["response"]["status"], 101);
    EXPECT_FALSE(r["response"].contains("body"));
    EXPECT_EQ(r["usage"]["output_tokens"], 4);
    EXPECT_EQ(r["session"], "conn-c5");
}

TEST(RealtimeSessionRecording, MetadataHoldsTimingTypesAndSizesButNoText) {
    const json r = stored(RecordMode::metadata);
    const std::string text = r.dump();
    EXPECT_EQ(text.find("[EMAIL]"), std::string::npos);
    EXPECT_EQ(text.find("Sure"), std::string::npos);
    const json& events = r["realtime"]["events"];
    ASSERT_EQ(events.size(), 7u);
    for (const json& e : events) {
        EXPECT_FALSE(e.contains("data"));
        EXPECT_TRUE(e.contains("type"));
        EXPECT_TRUE(e.contains("bytes"));
        EXPECT_TRUE(e.contains("t_ms"));
    }
    EXPECT_FALSE(r["response"].contains("pieces"));
    EXPECT_EQ(r["usage"]["input_tokens"], 9);
}

TEST(RealtimeSessionRecording, ShowIsATranscriptOfWhatEachSideSaid) {
    const auto sessions = group_sessions({stored(RecordMode::full)});
    ASSERT_EQ(sessions.size(), 1u);
    const std::string text = session_transcript(sessions[0]);
    EXPECT_NE(text.find("> user: mail [EMAIL] please"), std::string::npos) << text;
    EXPECT_NE(text.find("> input_audio_buffer.append (4096 bytes, sha256 aaaa"), std::string::npos)
        << text;
    EXPECT_NE(text.find("< assistant: Sure, done."), std::string::npos) << text;
    EXPECT_NE(text.find("< response.done completed (tokens 9 in, 4 out)"), std::string::npos)
        << text;
    EXPECT_NE(text.find("[     40 ms] < assistant"), std::string::npos) << text;
    EXPECT_NE(text.find("recording cut after 7 events; 3 more were not recorded"),
              std::string::npos)
        << text;
    EXPECT_EQ(answer_text(sessions[0].requests[0]), "assistant: Sure, done.\n");
}

TEST(RealtimeSessionRecording, ShowOfMetadataListsEventsBySizeOnly) {
    const auto sessions = group_sessions({stored(RecordMode::metadata)});
    const std::string text = session_transcript(sessions[0]);
    EXPECT_NE(text.find("> conversation.item.create ("), std::string::npos) << text;
    EXPECT_NE(text.find("< response.output_text.delta ("), std::string::npos) << text;
    EXPECT_EQ(text.find("EMAIL"), std::string::npos) << text;
}

// Audio between text deltas neither cuts the answer's line nor makes one line per delta, and
// what the audio says (its transcript) is a line of its own.
TEST(RealtimeSessionRecording, AudioAmidTheAnswerIsOneLineAndTheTranscriptItsOwn) {
    RequestCapture capture = voice_session(RecordMode::full);
    auto& events = capture.realtime_events;
    const auto at = events.begin() + 5;  // between the two text deltas
    events.insert(at, {event(41, false, "response.output_audio.delta", "", std::string(64, 'b')),
                       event(42, false, "response.output_audio_transcript.delta",
                             R"({"type":"response.output_audio_transcript.delta","delta":"Sure"})"),
                       event(43, false, "response.output_audio.delta", "", std::string(64, 'c'))});
    std::string text;
    append_recording_json(text, session_record(), capture);
    const std::string shown = session_transcript(group_sessions({json::parse(text)})[0]);
    EXPECT_NE(shown.find("< assistant: Sure, done.\n"), std::string::npos) << shown;
    EXPECT_NE(shown.find("< assistant (audio transcript): Sure\n"), std::string::npos) << shown;
    EXPECT_NE(shown.find("< response.output_audio.delta (2 events, 8192 bytes)"), std::string::npos)
        << shown;
}

TEST(RealtimeSessionRecording, ReplayPlaysEachDeltaAtItsRecordedOffset) {
    const auto steps = replay_script(group_sessions({stored(RecordMode::full)})[0]);
    bool first = false, second = false, item = false;
    for (const auto& step : steps) {
        if (step.text == "Sure, ") first = step.at_ms == 40.0;
        if (step.text == "done.") second = step.at_ms == 55.0;
        if (step.text == "> user: mail [EMAIL] please\n") item = step.at_ms == 10.0;
    }
    EXPECT_TRUE(first && second && item);
}

TEST(RealtimeSessionRecording, HarExportListsTheWebSocketMessages) {
    const json har = session_har(group_sessions({stored(RecordMode::full)})[0]);
    const json& messages = har["log"]["entries"][0]["_webSocketMessages"];
    ASSERT_EQ(messages.size(), 7u);
    EXPECT_EQ(messages[1]["type"], "send");
    EXPECT_EQ(messages[1]["opcode"], 1);
    EXPECT_EQ(messages[4]["type"], "receive");
    EXPECT_EQ(messages[4]["time"], 0.04);
    EXPECT_NE(messages[2]["data"].get<std::string>().find("\"sha256\""), std::string::npos);
}

}  // namespace
}  // namespace sluice
