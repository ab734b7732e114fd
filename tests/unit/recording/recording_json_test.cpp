// The recording built from a request's audit record and capture: event timing, what each
// mode keeps, and the session a request belongs to.
#include "agent/recording/recording_json.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

RequestCapture streamed_capture(RecordMode mode) {
    RequestCapture capture;
    capture.mode = mode;
    capture.connection = "c1";
    capture.identity = R"({"uid":1000,"user":"alice"})";
    capture.request_body = R"({"model":"gpt-4o-mini","stream":true})";
    capture.response_content_type = "text/event-stream";
    // Event 2 is split across the second and third pieces: it was complete only at 30 ms.
    capture.response_body = "data: {\"n\":1}\n\ndata: {\"n\":2}\n\ndata: [DONE]\n\n";
    const uint64_t first = std::string("data: {\"n\":1}\n\n").size();
    capture.pieces = {{first, 10.0}, {first + 5, 20.0}, {capture.response_body.size(), 30.0}};
    return capture;
}

nlohmann::json recording_json(const AuditRecord& r, const RequestCapture& capture) {
    std::string text;
    append_recording_json(text, r, capture);
    return nlohmann::json::parse(text);
}

AuditRecord record() {
    AuditRecord r;
    r.id = "req-1";
    r.method = "POST";
    r.path = "/v1/chat/completions";
    r.model = "gpt-4o-mini";
    r.stream = true;
    r.status = 200;
    r.sni = "api.openai.com";
    r.rule = "rec";
    r.usage = UsageObject{R"({"total_tokens":7})"};
    return r;
}

TEST(RecordingJson, EachEventCarriesTheTimeItsLastByteArrived) {
    const auto json = recording_json(record(), streamed_capture(RecordMode::full));
    const auto& events = json["response"]["events"];
    ASSERT_EQ(events.size(), 3u) << json.dump();
    EXPECT_EQ(events[0]["t_ms"], 10.0);
    EXPECT_EQ(events[0]["data"], "{\"n\":1}");
    EXPECT_EQ(events[1]["t_ms"], 30.0);
    EXPECT_EQ(events[2]["data"], "[DONE]");
    EXPECT_EQ(json["request"]["body"], R"({"model":"gpt-4o-mini","stream":true})");
    EXPECT_EQ(json["identity"]["user"], "alice");
    EXPECT_EQ(json["usage"]["total_tokens"], 7);
    EXPECT_EQ(json["mode"], "full");
    EXPECT_EQ(json["host"], "api.openai.com");
}

TEST(RecordingJson, MetadataKeepsTimingButNoBodies) {
    const auto json = recording_json(record(), streamed_capture(RecordMode::metadata));
    EXPECT_FALSE(json["request"].contains("body"));
    EXPECT_FALSE(json["response"].contains("events"));
    EXPECT_FALSE(json["response"].contains("body"));
    ASSERT_EQ(json["response"]["pieces"].size(), 3u);
    EXPECT_EQ(json["response"]["pieces"][2][0], 30.0);
    EXPECT_EQ(json["mode"], "metadata");
}

TEST(RecordingJson, AMarkedRunIsTheSessionElseTheConnection) {
    RequestCapture capture = streamed_capture(RecordMode::full);
    EXPECT_EQ(session_of(capture), "conn-c1");
    capture.run = "agent-run-7";
    EXPECT_EQ(session_of(capture), "run-agent-run-7");
    EXPECT_EQ(recording_json(record(), capture)["run"], "agent-run-7");
}

// Whatever the bodies and identity hold (quotes, control bytes, invalid UTF-8, an OIDC claim set),
// the text is one valid JSON object, and the bodies read back byte for byte when they are UTF-8.
TEST(RecordingJson, IsValidJsonWhateverTheBodiesHold) {
    for (const std::string& body :
         {std::string("quote \" backslash \\ newline \n tab \t"), std::string("\x01\x1f\x7f"),
          std::string("caf\xc3\xa9 \xe2\x82\xac"), std::string("bad \xff\xfe utf8"),
          std::string()}) {
        RequestCapture capture = streamed_capture(RecordMode::full);
        capture.request_body = body;
        capture.response_content_type = "application/json";
        capture.response_body = body;
        capture.identity = R"({"uid":0,"user":"r\"oot"})";
        AuditRecord r = record();
        r.oidc = nlohmann::json{{"sub", "x\"y"}};
        r.masking = nlohmann::json{{"request", {{"email", 1}}}};
        r.error = "upstream \"said\" no";
        const auto json = recording_json(r, capture);
        EXPECT_EQ(json["identity"]["user"], "r\"oot");
        EXPECT_EQ(json["identity"]["oidc"]["sub"], "x\"y");
        EXPECT_EQ(json["error"], r.error);
        EXPECT_EQ(json["masking"]["request"]["email"], 1);
        if (body.find('\xff') == std::string::npos) {
            EXPECT_EQ(json["request"]["body"], body);
            EXPECT_EQ(json["response"]["body"], body);
        }
    }
    RequestCapture bare = streamed_capture(RecordMode::metadata);
    bare.identity = "not json";
    AuditRecord r = record();
    r.usage.reset();
    const auto json = recording_json(r, bare);
    EXPECT_TRUE(json["identity"].is_object());
    EXPECT_TRUE(json["usage"].is_null());
}

TEST(RecordingJson, AnUploadIsItsSizeAndHash) {
    RequestCapture capture = streamed_capture(RecordMode::full);
    capture.request_streamed = true;
    capture.request_body.clear();
    capture.upload_sha256 = std::string(64, 'e');
    AuditRecord r = record();
    r.request_bytes = 123456;
    const auto json = recording_json(r, capture);
    EXPECT_TRUE(json["request"]["body_streamed"]);
    EXPECT_FALSE(json["request"].contains("body"));
    EXPECT_EQ(json["request"]["bytes"], 123456);
    EXPECT_EQ(json["request"]["body_sha256"], std::string(64, 'e'));
}

}  // namespace
}  // namespace sluice
