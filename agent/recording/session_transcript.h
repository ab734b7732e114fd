// A recorded session as people read it (docs/recording.md): `sessions show` (who, each request
// and answer, tool calls and their outputs, tokens, decisions, event timing) and the timed
// script `sessions replay` plays. Pure: recordings in, text out. Reads Chat Completions,
// Responses and Completions bodies, streamed or not; anything else is shown by size.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/recording/session_index.h"

namespace sluice {

std::string session_transcript(const RecordedSession& session);

// What the answer said, as one text (tool calls as "[tool call NAME(ARGS)]").
std::string answer_text(const nlohmann::json& recording);

// One piece of a replay: print `text` `at_ms` after the session's first request started.
struct ReplayStep {
    double at_ms = 0;
    std::string text;
};
std::vector<ReplayStep> replay_script(const RecordedSession& session);

}  // namespace sluice
