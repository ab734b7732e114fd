// What the proxy captures of one recorded request and hands to the recorder (session_recorder.h):
// plain data, filled on the connection's thread with copies only (no parsing, hashing or
// formatting there); the recorder's thread turns it into a recording.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "policy/policy_model.h"

namespace sluice {

// The header a client sets to group its requests into one run (an agent run): requests with
// the same value form one session, whatever connections they used. The OpenAI SDKs send no
// such marker of their own (docs/recording.md).
inline constexpr std::string_view kRunHeader = "x-sluice-session";

// The answer's bytes up to `end` had arrived `offset_ms` after the request started.
struct AnswerPiece {
    uint64_t end = 0;
    double offset_ms = 0;
};

// One event of a Realtime API session (docs/realtime.md), as it went on: a client event after
// masking, an upstream event as the upstream sent it.
struct RealtimeEventCapture {
    double offset_ms = 0;  // when its last byte arrived, from the session's start
    bool from_client = false;
    bool binary = false;  // a binary message (no event type)
    std::string type;
    uint64_t bytes = 0;
    std::string data;    // full, a text event: its text
    std::string sha256;  // an audio event or binary message: the hex SHA-256 of its bytes
};

struct RequestCapture {
    RecordMode mode = RecordMode::none;
    std::string connection;  // the client connection's id: requests on it form a session
    std::string run;         // the client's run marker (x-sluice-session), "" when none
    std::string user_agent;
    std::string request_content_type;
    std::string request_body;  // full: as it went upstream, after masking
    // An upload that streamed through (multipart: files, audio) is recorded as its size and the
    // SHA-256 of its bytes, in every mode: it is binary, which a JSON recording cannot hold.
    bool request_streamed = false;
    std::string upload_sha256;  // hex, once the upload has passed whole
    std::string response_content_type;
    // full: the answer as the upstream sent it. Values the request masked are still masked
    // there: placeholders are restored only in what the client gets, never here.
    std::string response_body;
    bool truncated = false;  // a body passed kRecordingMaxBodyBytes and was cut
    std::vector<AnswerPiece> pieces;
    std::string identity;  // the audit identity object (JSON text); the recorder fills it
    // A Realtime API session: its events (kRealtimeRecordingMaxEvents and
    // kRealtimeRecordingMaxBytes at most), and how many came after the recording was cut.
    bool realtime = false;
    std::vector<RealtimeEventCapture> realtime_events;
    uint64_t realtime_events_not_recorded = 0;
};

}  // namespace sluice
