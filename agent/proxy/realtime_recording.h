// The recording tap of one Realtime API session (docs/recording.md, "Realtime sessions"): each
// event as it went on — a client event after masking, an upstream event as the upstream sent it
// (placeholders are restored only in what the client gets) — with the time it arrived. Text
// events keep their text with `record: full`; audio events and binary messages keep their size
// and SHA-256 only; `record: metadata` keeps the timing, type and size of each. Bounded: past
// kRealtimeRecordingMaxEvents events or kRealtimeRecordingMaxBytes of text nothing more is kept,
// only counted, and the recording says it was cut. Copies and hashes only; the recorder's thread
// builds the recording (session_recorder.h).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string_view>

#include "agent/common/sha256_hex.h"
#include "agent/proxy/request_recording.h"
#include "agent/proxy/request_rewrite.h"
#include "agent/recording/request_capture.h"

namespace sluice {

class RealtimeRecording {
public:
    using Clock = std::chrono::steady_clock;
    // `header`: the upgrade request as admitted (its run marker and user agent).
    RealtimeRecording(RecordMode mode, std::string connection, const RequestHeader& header,
                      Clock::time_point started);

    // A whole text event as it went on.
    void on_text_event(bool from_client, std::string_view text);
    // A piece of a binary message as it went on; `last`: the message's final piece.
    void on_binary_piece(bool from_client, std::string_view piece, bool last);

    RequestCapture take();

private:
    // A binary message under way, one per direction.
    struct BinaryMessage {
        std::optional<Sha256Stream> hash;
        uint64_t bytes = 0;
    };

    // Whether one more event with `text_bytes` of text may be kept; counts it when not.
    bool room_for(std::size_t text_bytes);
    RealtimeEventCapture& add(bool from_client, uint64_t bytes);

    RequestCapture capture_;
    Clock::time_point started_;
    std::size_t kept_text_bytes_ = 0;
    BinaryMessage from_client_binary_;
    BinaryMessage from_upstream_binary_;
};

}  // namespace sluice
