#include "agent/proxy/request_recording.h"

#include <algorithm>

#include "agent/common/limits.h"

namespace sluice {

namespace http = boost::beast::http;

RequestRecording::RequestRecording(RecordMode mode, std::string connection,
                                   const RequestHeader& header, Clock::time_point started)
    : started_(started) {
    capture_.mode = mode;
    capture_.connection = std::move(connection);
    capture_.run = std::string(header[kRunHeader]);
    capture_.user_agent = std::string(header[http::field::user_agent]);
    capture_.request_content_type = std::string(header[http::field::content_type]);
}

void RequestRecording::on_forwarded(const std::optional<std::string>& body) {
    if (!body) {
        capture_.request_streamed = true;
        upload_hash_.reset(EVP_MD_CTX_new());
        if (upload_hash_ && EVP_DigestInit_ex(upload_hash_.get(), EVP_sha256(), nullptr) != 1)
            upload_hash_.reset();
        return;
    }
    if (capture_.mode == RecordMode::full) keep(capture_.request_body, *body);
}

void RequestRecording::on_upload(std::string_view piece) {
    if (upload_hash_ && !piece.empty() &&
        EVP_DigestUpdate(upload_hash_.get(), piece.data(), piece.size()) != 1)
        upload_hash_.reset();
}

RequestCapture RequestRecording::take() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    if (upload_hash_ && EVP_DigestFinal_ex(upload_hash_.get(), digest, &size) == 1) {
        static constexpr char kHex[] = "0123456789abcdef";
        for (unsigned int i = 0; i < size; ++i) {
            capture_.upload_sha256.push_back(kHex[digest[i] >> 4]);
            capture_.upload_sha256.push_back(kHex[digest[i] & 0xf]);
        }
    }
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
