// The recording tap of one request (docs/recording.md): what the session hands it as the
// request passes — its head, the body as it went upstream (after masking), the answer's bytes
// as the upstream sent them and when each piece arrived — kept as copies, nothing parsed or
// hashed here. At the end the capture goes to the recorder (session_recorder.h), which has the
// audit writer's thread turn it into a recording.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "agent/common/sha256_hex.h"
#include "agent/proxy/body_transform.h"
#include "agent/proxy/request_rewrite.h"
#include "agent/recording/request_capture.h"

namespace sluice {

// A capture's head as both taps start it (this one and realtime_recording.h): the rule's mode,
// the connection, and the client's run marker and user agent from the admitted request.
RequestCapture begin_capture(RecordMode mode, std::string connection, const RequestHeader& header);

class RequestRecording {
public:
    using Clock = std::chrono::steady_clock;
    // `header`: the request as admitted (before the upstream rewrite removes the credential).
    RequestRecording(RecordMode mode, std::string connection, const RequestHeader& header,
                     Clock::time_point started);

    // The body as forwarded (masked); nullopt: an upload that streams through, whose bytes then
    // pass on_upload() as they go upstream.
    void on_forwarded(const std::optional<std::string>& body);
    void on_upload(std::string_view piece);
    void on_answer_head(const ResponseHeader& header);
    // Bytes of the answer as the upstream sent them, in order.
    void on_answer(std::string_view piece);
    // `inner` with every piece passing through on_answer() first: for the one relay loop.
    BodyTransform& tap(BodyTransform& inner);

    RequestCapture take();

private:
    class Tap final : public BodyTransform {
    public:
        Tap(RequestRecording& recording, BodyTransform& inner)
            : recording_(recording), inner_(inner) {}
        bool feed(std::string_view piece, bool last, std::string_view& out) override {
            recording_.on_answer(piece);
            return inner_.feed(piece, last, out);
        }
        bool changes_length() const override { return inner_.changes_length(); }
        std::string failure() const override { return inner_.failure(); }

    private:
        RequestRecording& recording_;
        BodyTransform& inner_;
    };

    void keep(std::string& into, std::string_view bytes);

    RequestCapture capture_;
    Clock::time_point started_;
    uint64_t answer_bytes_ = 0;
    std::optional<Sha256Stream> upload_hash_;  // of a streamed upload
    std::optional<Tap> tap_;
};

}  // namespace sluice
