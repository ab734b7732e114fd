// Recorded requests grouped into sessions, for `sluicectl sessions` (docs/recording.md): a
// session is the requests of one client connection, or of one run the client marked
// (x-sluice-session), in time order; and a request that names an id an earlier answer handed
// out (a tool call's id, previous_response_id) joins that answer's session, so an agent run
// whose turns used several connections reads as one. Pure: the caller loads the recordings.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace sluice {

struct RecordedSession {
    std::string id;
    std::vector<nlohmann::json> requests;  // recordings, oldest first

    std::string user() const;     // of the first request: user name, else uid
    std::string started() const;  // the first request's ts
    std::vector<std::string> models() const;
    int64_t total_tokens() const;
};

// Sessions, oldest first.
std::vector<RecordedSession> group_sessions(std::vector<nlohmann::json> recordings);

struct SessionFilter {
    std::string user;   // "" any
    std::string since;  // RFC 3339 UTC; sessions that started at or after it ("" any)
    std::string model;  // "" any; else a session with a request to this model
};
bool session_matches(const RecordedSession& session, const SessionFilter& filter);

// A session by its id, a unique prefix of it, or the id of one of its requests; nullptr and
// `error` set when there is none or the prefix is ambiguous.
const RecordedSession* find_session(const std::vector<RecordedSession>& sessions,
                                    std::string_view id, std::string& error);

}  // namespace sluice
