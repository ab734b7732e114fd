// `sluicectl sessions export` (docs/recording.md): a session as JSON Lines (one recording per
// line, as stored) or as HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/), which
// browser developer tools open. Pure.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "agent/recording/session_index.h"

namespace sluice {

std::string session_jsonl(const RecordedSession& session);
nlohmann::json session_har(const RecordedSession& session);

// A streamed answer's body rebuilt from its recorded events ("event:"/"data:" lines).
std::string event_stream_text(const nlohmann::json& events);

}  // namespace sluice
