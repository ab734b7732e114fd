#include "agent/recording/session_export.h"

#include "agent/recording/realtime_transcript.h"

namespace sluice {

namespace {

using json = nlohmann::json;

json header(const std::string& name, const std::string& value) {
    return {{"name", name}, {"value", value}};
}

std::string str(const json& object, const char* key) {
    const auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// HAR wants ISO 8601 with milliseconds; recordings carry microseconds.
std::string har_time(const std::string& ts) {
    if (ts.size() > 23 && ts[19] == '.') return ts.substr(0, 23) + "Z";
    return ts;
}

// A realtime session's events the way Chrome's HAR export lists a WebSocket's messages
// (`_webSocketMessages`: send/receive, opcode 1 text or 2 binary, data). `time` is seconds from
// the session's start. An event recorded without its text (audio, metadata) has as data its
// type, size and SHA-256.
json websocket_messages(const json& r) {
    json messages = json::array();
    for (const json& e : r["realtime"]["events"]) {
        std::string data = str(e, "data");
        if (!e.contains("data")) {
            data =
                json{{"type", e.value("type", "")}, {"bytes", e.value("bytes", int64_t{0})}}.dump();
            if (e.contains("sha256")) {
                json described = json::parse(data);
                described["sha256"] = str(e, "sha256");
                data = described.dump();
            }
        }
        messages.push_back({{"type", str(e, "from") == "client" ? "send" : "receive"},
                            {"time", e.value("t_ms", 0.0) / 1000.0},
                            {"opcode", e.value("binary", false) ? 2 : 1},
                            {"data", std::move(data)}});
    }
    return messages;
}

json har_entry(const json& r) {
    const json request = r.value("request", json::object());
    const json response = r.value("response", json::object());
    const std::string request_type =
        str(request, "content_type").empty() ? "application/json" : str(request, "content_type");
    json har_request{{"method", str(request, "method")},
                     {"url", "https://" + str(r, "host") + str(request, "path")},
                     {"httpVersion", "HTTP/1.1"},
                     {"cookies", json::array()},
                     {"headers", json::array({header("Content-Type", request_type)})},
                     {"queryString", json::array()},
                     {"headersSize", -1},
                     {"bodySize", request.value("bytes", int64_t{0})}};
    if (!str(request, "user_agent").empty())
        har_request["headers"].push_back(header("User-Agent", str(request, "user_agent")));
    if (request.contains("body"))
        har_request["postData"] = {{"mimeType", request_type}, {"text", str(request, "body")}};

    std::string text;
    if (response.contains("events"))
        text = event_stream_text(response["events"]);
    else
        text = str(response, "body");
    const std::string response_type = str(response, "content_type");
    json content{{"size", response.value("bytes", int64_t{0})}, {"mimeType", response_type}};
    if (response.contains("events") || response.contains("body")) content["text"] = text;
    json har_response{{"status", response.value("status", 0)},
                      {"statusText", ""},
                      {"httpVersion", "HTTP/1.1"},
                      {"cookies", json::array()},
                      {"headers", json::array({header("Content-Type", response_type)})},
                      {"content", std::move(content)},
                      {"redirectURL", ""},
                      {"headersSize", -1},
                      {"bodySize", response.value("bytes", int64_t{0})}};
    const double wait = response.value("ttfb_ms", 0.0);
    const double total = response.value("latency_ms", 0.0);
    json entry = {
        {"startedDateTime", har_time(str(r, "ts"))},
        {"time", total},
        {"request", std::move(har_request)},
        {"response", std::move(har_response)},
        {"cache", json::object()},
        {"timings", {{"send", 0}, {"wait", wait}, {"receive", total > wait ? total - wait : 0}}},
        {"comment", "sluice recording " + str(r, "id") + " (" + str(r, "mode") + ")"}};
    if (is_realtime_recording(r)) entry["_webSocketMessages"] = websocket_messages(r);
    return entry;
}

}  // namespace

std::string event_stream_text(const json& events) {
    std::string out;
    for (const auto& e : events) {
        if (e.contains("event")) out += "event: " + str(e, "event") + "\n";
        const std::string data = str(e, "data");
        std::size_t start = 0;
        for (;;) {
            const auto newline = data.find('\n', start);
            out += "data: " + data.substr(start, newline - start) + "\n";
            if (newline == std::string::npos) break;
            start = newline + 1;
        }
        out += "\n";
    }
    return out;
}

std::string session_jsonl(const RecordedSession& session) {
    std::string out;
    for (const auto& r : session.requests) out += r.dump() + "\n";
    return out;
}

json session_har(const RecordedSession& session) {
    json entries = json::array();
    for (const auto& r : session.requests) entries.push_back(har_entry(r));
    return {{"log",
             {{"version", "1.2"},
              {"creator", {{"name", "sluice"}, {"version", "1"}}},
              {"pages", json::array()},
              {"entries", std::move(entries)},
              {"comment", "session " + session.id}}}};
}

}  // namespace sluice
