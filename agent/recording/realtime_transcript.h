// A recorded Realtime API session as people read it (docs/recording.md, "Realtime sessions"):
// its events as a transcript — what the client said (items, instructions, session changes),
// what the model answered (text and audio transcript deltas joined per response), audio and
// binary messages by size and SHA-256, the timing of each — and as a timed replay script. A
// `metadata` recording has no text: each event is its type, size and time. Pure.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace sluice {

// Whether a recording is of a realtime session (it has a "realtime" member with its events).
bool is_realtime_recording(const nlohmann::json& recording);

// The session's transcript lines, each "[t ms] > client line" or "[t ms] < upstream line".
std::vector<std::string> realtime_transcript_lines(const nlohmann::json& recording);

// The replay of the session: `text` to print `at_ms` after the session opened.
struct RealtimeReplayStep {
    double at_ms = 0;
    std::string text;
};
std::vector<RealtimeReplayStep> realtime_replay_steps(const nlohmann::json& recording);

// The answer's text: every response's text and transcript deltas, one line per response.
std::string realtime_answer_text(const nlohmann::json& recording);

}  // namespace sluice
