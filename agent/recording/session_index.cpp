#include "agent/recording/session_index.h"

#include <algorithm>
#include <map>
#include <set>

namespace sluice {

namespace {

std::string text_of(const nlohmann::json& object, const char* key) {
    if (!object.is_object()) return {};
    const auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const nlohmann::json& member(const nlohmann::json& object, const char* key) {
    static const nlohmann::json null;
    if (!object.is_object()) return null;
    const auto it = object.find(key);
    return it == object.end() ? null : *it;
}

void add_id(std::set<std::string>& ids, const nlohmann::json& value) {
    if (value.is_string() && !value.get_ref<const std::string&>().empty())
        ids.insert(value.get<std::string>());
}

nlohmann::json parse_text(const nlohmann::json& text) {
    if (!text.is_string()) return nullptr;
    return nlohmann::json::parse(text.get<std::string>(), nullptr, false);
}

// Ids an answer hands out that a later request of the same run names: the Responses id (for
// previous_response_id) and tool call ids (for the tool's output).
void answer_ids(const nlohmann::json& answer, std::set<std::string>& ids) {
    if (!answer.is_object()) return;
    if (answer.value("object", "") == "response") add_id(ids, member(answer, "id"));
    for (const char* key : {"response", "item"}) answer_ids(member(answer, key), ids);
    add_id(ids, member(answer, "call_id"));
    for (const auto& item : member(answer, "output"))
        if (item.is_object()) add_id(ids, member(item, "call_id"));
    for (const auto& choice : member(answer, "choices"))
        for (const char* key : {"message", "delta"})
            for (const auto& call : member(member(choice, key), "tool_calls"))
                add_id(ids, member(call, "id"));
}

std::set<std::string> produced_ids(const nlohmann::json& recording) {
    std::set<std::string> ids;
    const nlohmann::json& response = member(recording, "response");
    answer_ids(parse_text(member(response, "body")), ids);
    for (const auto& event : member(response, "events"))
        answer_ids(parse_text(member(event, "data")), ids);
    return ids;
}

std::set<std::string> referenced_ids(const nlohmann::json& recording) {
    std::set<std::string> ids;
    const nlohmann::json body = parse_text(member(member(recording, "request"), "body"));
    if (!body.is_object()) return ids;
    add_id(ids, member(body, "previous_response_id"));
    for (const auto& item : member(body, "input"))
        if (item.is_object()) add_id(ids, member(item, "call_id"));
    for (const auto& message : member(body, "messages")) {
        add_id(ids, member(message, "tool_call_id"));
        for (const auto& call : member(message, "tool_calls")) add_id(ids, member(call, "id"));
    }
    return ids;
}

}  // namespace

std::string RecordedSession::user() const {
    if (requests.empty()) return {};
    const nlohmann::json& identity = requests.front().value("identity", nlohmann::json::object());
    std::string user = text_of(identity, "user");
    if (user.empty() && identity.contains("uid")) user = "uid " + identity["uid"].dump();
    return user;
}

std::string RecordedSession::started() const {
    return requests.empty() ? std::string() : text_of(requests.front(), "ts");
}

std::vector<std::string> RecordedSession::models() const {
    std::set<std::string> seen;
    std::vector<std::string> out;
    for (const auto& r : requests) {
        const std::string model = text_of(r.value("request", nlohmann::json::object()), "model");
        if (!model.empty() && seen.insert(model).second) out.push_back(model);
    }
    return out;
}

int64_t RecordedSession::total_tokens() const {
    int64_t total = 0;
    for (const auto& r : requests) {
        const auto usage = r.find("usage");
        if (usage == r.end() || !usage->is_object()) continue;
        if (const auto t = usage->find("total_tokens"); t != usage->end() && t->is_number_integer())
            total += t->get<int64_t>();
    }
    return total;
}

std::vector<RecordedSession> group_sessions(std::vector<nlohmann::json> recordings) {
    std::stable_sort(recordings.begin(), recordings.end(),
                     [](const nlohmann::json& a, const nlohmann::json& b) {
                         return text_of(a, "ts") < text_of(b, "ts");
                     });
    // An agent run may spread its turns over connections: a request naming an id an earlier
    // answer handed out (a tool call's id, previous_response_id) joins that answer's session.
    std::map<std::string, std::string> session_of_id;  // handed-out id -> session
    std::map<std::string, std::string> joined;         // session -> the session it joined
    const auto root = [&](std::string id) {
        for (auto it = joined.find(id); it != joined.end(); it = joined.find(id)) id = it->second;
        return id;
    };
    for (const auto& recording : recordings) {
        const std::string own = root(text_of(recording, "session"));
        for (const auto& id : referenced_ids(recording)) {
            const auto producer = session_of_id.find(id);
            if (producer == session_of_id.end()) continue;
            const std::string earlier = root(producer->second);
            if (earlier != own && !joined.contains(own)) joined[own] = earlier;
            break;
        }
        for (const auto& id : produced_ids(recording))
            session_of_id.emplace(id, text_of(recording, "session"));
    }
    std::map<std::string, std::size_t> index;
    std::vector<RecordedSession> sessions;
    for (auto& recording : recordings) {
        const std::string id = root(text_of(recording, "session"));
        auto [it, inserted] = index.emplace(id, sessions.size());
        if (inserted) sessions.push_back(RecordedSession{id, {}});
        sessions[it->second].requests.push_back(std::move(recording));
    }
    return sessions;
}

bool session_matches(const RecordedSession& session, const SessionFilter& filter) {
    if (!filter.user.empty() && session.user() != filter.user) return false;
    if (!filter.since.empty() && session.started() < filter.since) return false;
    if (!filter.model.empty()) {
        const auto models = session.models();
        if (std::find(models.begin(), models.end(), filter.model) == models.end()) return false;
    }
    return true;
}

const RecordedSession* find_session(const std::vector<RecordedSession>& sessions,
                                    std::string_view id, std::string& error) {
    const RecordedSession* found = nullptr;
    int prefixed = 0;
    for (const auto& session : sessions) {
        if (session.id == id) return &session;
        for (const auto& r : session.requests)
            if (text_of(r, "id") == id) return &session;
        if (!id.empty() && session.id.starts_with(id)) {
            found = &session;
            ++prefixed;
        }
    }
    if (prefixed == 1) return found;
    error = prefixed > 1 ? "'" + std::string(id) + "' names more than one session"
                         : "no recorded session or request '" + std::string(id) + "'";
    return nullptr;
}

}  // namespace sluice
