// The recording tap: what passes through the one relay loop is captured as the upstream sent
// it, with arrival times, while the client still gets the inner transform's output.
#include "agent/proxy/request_recording.h"

#include <gtest/gtest.h>

#include "agent/common/limits.h"
#include "agent/common/sha256_hex.h"

namespace sluice {
namespace {

namespace http = boost::beast::http;

RequestHeader chat_header() {
    RequestHeader header;
    header.method(http::verb::post);
    header.target("/v1/chat/completions");
    header.set(http::field::user_agent, "Agents/JavaScript 0.1");
    header.set(http::field::content_type, "application/json");
    header.set("x-sluice-session", "run-42");
    return header;
}

// Upper-cases what it is given: stands for a transform that changes the client's bytes.
class Shout final : public BodyTransform {
public:
    bool feed(std::string_view piece, bool, std::string_view& out) override {
        out_.assign(piece);
        for (char& c : out_) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        out = out_;
        return true;
    }
    bool changes_length() const override { return false; }

private:
    std::string out_;
};

TEST(RequestRecording, TapKeepsTheUpstreamBytesAndTheirTimesWhileTheClientGetsTheTransform) {
    RequestRecording recording(RecordMode::full, "c1", chat_header(),
                               RequestRecording::Clock::now());
    recording.on_forwarded(std::string(R"({"content":"[EMAIL]"})"));
    Shout shout;
    BodyTransform& tap = recording.tap(shout);
    std::string_view out;
    ASSERT_TRUE(tap.feed("data: a\n\n", false, out));
    EXPECT_EQ(out, "DATA: A\n\n");
    ASSERT_TRUE(tap.feed("data: b\n\n", true, out));
    const RequestCapture capture = recording.take();
    EXPECT_EQ(capture.response_body, "data: a\n\ndata: b\n\n");
    ASSERT_EQ(capture.pieces.size(), 2u);
    EXPECT_EQ(capture.pieces[0].end, 9u);
    EXPECT_EQ(capture.pieces[1].end, 18u);
    EXPECT_LE(capture.pieces[0].offset_ms, capture.pieces[1].offset_ms);
    EXPECT_EQ(capture.request_body, R"({"content":"[EMAIL]"})");
    EXPECT_EQ(capture.run, "run-42");
    EXPECT_EQ(capture.user_agent, "Agents/JavaScript 0.1");
    EXPECT_EQ(capture.connection, "c1");
}

TEST(RequestRecording, MetadataKeepsTimesNotBytesAndUploadsAreTheirSizeAndHash) {
    RequestRecording recording(RecordMode::metadata, "c1", chat_header(),
                               RequestRecording::Clock::now());
    recording.on_forwarded(std::nullopt);
    const std::string upload = "--b\r\ncontent-type: audio/wav\r\n\r\nRIFF\x01\x00\xff--b--";
    for (std::size_t at = 0; at < upload.size(); at += 7)
        recording.on_upload(std::string_view(upload).substr(at, 7));
    recording.on_answer("{\"ok\":true}");
    const RequestCapture capture = recording.take();
    EXPECT_TRUE(capture.request_streamed);
    EXPECT_EQ(capture.upload_sha256, sha256_hex(upload));
    EXPECT_TRUE(capture.request_body.empty()) << "the upload's bytes are never kept";
    EXPECT_TRUE(capture.response_body.empty());
    ASSERT_EQ(capture.pieces.size(), 1u);
}

TEST(RequestRecording, ABodyPastTheLimitIsCutAndSaysSo) {
    RequestRecording recording(RecordMode::full, "c1", chat_header(),
                               RequestRecording::Clock::now());
    const std::string big(limits::kRecordingMaxBodyBytes - 1, 'x');
    recording.on_answer(big);
    EXPECT_FALSE(recording.take().truncated);
    RequestRecording at_limit(RecordMode::full, "c1", chat_header(),
                              RequestRecording::Clock::now());
    at_limit.on_answer(big);
    at_limit.on_answer("y");
    EXPECT_FALSE(at_limit.take().truncated);  // exactly the limit fits
    RequestRecording over(RecordMode::full, "c1", chat_header(), RequestRecording::Clock::now());
    over.on_answer(big);
    over.on_answer("yz");
    const RequestCapture capture = over.take();
    EXPECT_TRUE(capture.truncated);
    EXPECT_EQ(capture.response_body.size(), limits::kRecordingMaxBodyBytes);
}

}  // namespace
}  // namespace sluice
