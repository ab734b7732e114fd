// Masks the text events of a Realtime API session (docs/realtime.md), one WebSocket message at
// a time, the way SseStreamMasker masks a streamed answer.
//
// Client → upstream: every string of a text event is masked as a request body is
// (request_masker.h), except input_audio_buffer.append, whose audio is not inspected.
//
// Upstream → client: each `*.delta` event with a text `delta` (response.text.delta,
// response.output_text.delta, response.audio_transcript.delta,
// response.output_audio_transcript.delta, function call arguments, input transcription) is a
// channel keyed by its kind, response, item and content index: text goes through a
// TextStreamMasker, so a value split across two frames is masked whole and never reaches the
// client in pieces. At the channel's `*.done` event the held-back tail goes out first, in one
// synthesized delta event, and the `.done` event's own full text is masked. Audio deltas pass
// untouched. Any other event has every text string masked (identifiers, enumerations and audio
// excepted), placeholders restored.
//
// Fail closed: an event that cannot be read or scanned fails the masker; the caller ends the
// session (close 1011) and relays nothing more.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "policy/masking/json_masker.h"
#include "policy/masking/text_masker.h"
#include "policy/masking/text_stream_masker.h"

namespace sluice::masking {

class RealtimeEventMasker {
public:
    static constexpr std::size_t kMaxChannels = 256;

    RealtimeEventMasker(TextMasker& masker, bool mask_requests, bool restore_tokens);
    ~RealtimeEventMasker();

    // Masks one client text message in place. `failed` means: do not send it.
    [[nodiscard]] BodyStatus mask_client_event(std::string& message);

    // Appends the messages to send for one upstream text message to `out` (usually one; two
    // when a channel's tail is released before its `.done`). False once failed.
    [[nodiscard]] bool mask_server_event(std::string_view message, std::vector<std::string>& out);

    const std::string& failure() const { return failure_; }

private:
    struct Channel {
        std::unique_ptr<TextStreamMasker> masker;
    };
    bool fail(std::string reason);

    TextMasker& masker_;
    bool mask_requests_;
    bool restore_;
    std::unordered_map<std::string, Channel> channels_;
    std::string failure_;
    std::string released_;  // scratch
};

}  // namespace sluice::masking
