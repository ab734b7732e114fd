#include "agent/proxy/request_recording.h"

#include <algorithm>

#include "agent/common/limits.h"

namespace sluice {

namespace http = boost::beast::http;

RequestCapture begin_capture(RecordMode mode, std::string connection, const RequestHeader& header) {
    RequestCapture capture;
    capture.mode = mode;
    capture.connection = std::move(connection);
    capture.run = std::string(header[kRunHeader]);
    capture.user_agent = std::string(header[http::field::user_agent]);
    return capture;
}

RequestRecording::RequestRecording(RecordMode mode, std::string connection,
                                   const RequestHeader& header, Clock::time_point started)
    : capture_(begin_capture(mode, std::move(connection), header)), started_(started) {
    capture_.request_content_type = std::string(header[http::field::content_type]);
}

void RequestRecording::on_forwarded(const std::optional<std::string>& body) {
    if (!body) {
        capture_.request_streamed = true;
        upload_hash_.emplace();
        return;
    }
    if (capture_.mode == RecordMode::full) keep(capture_.request_body, *body);
}

void RequestRecording::on_upload(std::string_view piece) {
    if (upload_hash_) upload_hash_->update(piece);
}

RequestCapture RequestRecording::take() {
    if (upload_hash_) capture_.upload_sha256 = upload_hash_->finish_hex();
    upload_hash_.reset();
    return std::move(capture_);
}

void RequestRecording::on_answer_head(const ResponseHeader& header) {
    capture_.response_content_type = std::string(header[http::field::content_type]);
}

void RequestRecording::on_answer(std::string_view piece) {
    if (piece.empty()) return;
    answer_bytes_ += piece.size();
    const double offset_ms =
        std::chrono::duration<double, std::milli>(Clock::now() - started_).count();
    capture_.pieces.push_back({answer_bytes_, offset_ms});
    if (capture_.mode == RecordMode::full) keep(capture_.response_body, piece);
}

BodyTransform& RequestRecording::tap(BodyTransform& inner) { return tap_.emplace(*this, inner); }

void RequestRecording::keep(std::string& into, std::string_view bytes) {
    const std::size_t room =
        limits::kRecordingMaxBodyBytes - std::min(into.size(), limits::kRecordingMaxBodyBytes);
    if (bytes.size() > room) capture_.truncated = true;
    into.append(bytes.substr(0, room));
}

}  // namespace sluice
