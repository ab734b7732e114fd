#include "agent/recording/recording_json.h"

#include <algorithm>

#include "agent/common/time_format.h"
#include "policy/json_append.h"
#include "policy/sse_parser.h"

namespace sluice {

namespace {

bool is_event_stream(const std::string& content_type) {
    return content_type.find("text/event-stream") != std::string::npos;
}

// Closes the object or array whose last member left a ',' (or that is still empty).
void close(std::string& out, char bracket) {
    if (out.back() == ',')
        out.back() = bracket;
    else
        out.push_back(bracket);
    out.push_back(',');
}

// JSON text the recorder was handed (the identity object, usage): copied as it is when it is an
// object, else `fallback`, so a recording is always valid JSON.
void raw_object(std::string& out, std::string_view name, std::string_view json,
                std::string_view fallback) {
    append_json_key(out, name);
    const auto first = json.find_first_not_of(" \t\r\n");
    const auto last = json.find_last_not_of(" \t\r\n");
    const bool object = first != std::string_view::npos && json[first] == '{' && json[last] == '}';
    out += object ? json : fallback;
    out.push_back(',');
}

void identity(std::string& out, const AuditRecord& record, const RequestCapture& capture) {
    if (!record.oidc) return raw_object(out, "identity", capture.identity, "{}");
    nlohmann::json object = nlohmann::json::parse(capture.identity, nullptr, false);
    if (!object.is_object()) object = nlohmann::json::object();
    object["oidc"] = *record.oidc;
    append_json_key(out, "identity");
    out += object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    out.push_back(',');
}

// Each event of a streamed answer with the time its last byte arrived: when the client could
// first have seen it.
void stream_events(std::string& out, const RequestCapture& capture) {
    append_json_key(out, "events");
    out.push_back('[');
    SseParser parser;
    uint64_t consumed = 0;
    for (const AnswerPiece& arrived : capture.pieces) {
        const uint64_t end = std::min<uint64_t>(arrived.end, capture.response_body.size());
        if (end <= consumed) continue;
        const std::string_view bytes(capture.response_body.data() + consumed, end - consumed);
        parser.feed(bytes, [&](const SseEvent& event) {
            out.push_back('{');
            append_json_text_member(out, "data", event.data);
            if (!event.event.empty()) append_json_text_member(out, "event", event.event);
            append_json_double_member(out, "t_ms", arrived.offset_ms);
            close(out, '}');
        });
        consumed = end;
    }
    close(out, ']');
}

void pieces(std::string& out, const RequestCapture& capture) {
    append_json_key(out, "pieces");
    out.push_back('[');
    for (const AnswerPiece& p : capture.pieces) {
        out.push_back('[');
        append_json_double(out, p.offset_ms);
        out.push_back(',');
        out += std::to_string(p.end);
        out += "],";
    }
    close(out, ']');
}

// A Realtime API session: the session's figures from its audit line (duration, frames and bytes
// each way, decisions, close), then each event with its offset from the session's start.
void realtime_session(std::string& out, const AuditRecord& record, const RequestCapture& capture) {
    append_json_key(out, "realtime");
    out.push_back('{');
    if (capture.realtime_events_not_recorded > 0) {
        append_json_key(out, "cut");
        out.push_back('{');
        append_json_number_member(out, "after_events", capture.realtime_events.size());
        append_json_number_member(out, "events_not_recorded", capture.realtime_events_not_recorded);
        close(out, '}');
    }
    append_json_key(out, "events");
    out.push_back('[');
    for (const RealtimeEventCapture& event : capture.realtime_events) {
        out.push_back('{');
        if (event.binary) append_json_bool_member(out, "binary", true);
        append_json_number_member(out, "bytes", event.bytes);
        if (!event.data.empty()) append_json_text_member(out, "data", event.data);
        append_json_text_member(out, "from", event.from_client ? "client" : "upstream");
        if (!event.sha256.empty()) append_json_text_member(out, "sha256", event.sha256);
        append_json_double_member(out, "t_ms", event.offset_ms);
        if (!event.type.empty()) append_json_text_member(out, "type", event.type);
        close(out, '}');
    }
    close(out, ']');
    if (record.realtime && record.realtime->is_object()) {
        for (const auto& [name, value] : record.realtime->items()) {
            append_json_key(out, name);
            out += value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
            out.push_back(',');
        }
    }
    close(out, '}');
}

}  // namespace

std::string session_of(const RequestCapture& capture) {
    return capture.run.empty() ? "conn-" + capture.connection : "run-" + capture.run;
}

void append_recording_json(std::string& out, const AuditRecord& record,
                           const RequestCapture& capture) {
    const bool full = capture.mode == RecordMode::full;
    out.reserve(out.size() + 1024 + capture.request_body.size() + capture.response_body.size() +
                capture.pieces.size() * 24);
    out.push_back('{');
    append_json_text_member(out, "connection", capture.connection);
    append_json_key(out, "decision");
    out.push_back('{');
    append_json_text_member(out, "action", record.action);
    if (!record.code.empty()) append_json_text_member(out, "code", record.code);
    append_json_text_member(out, "reason", record.reason);
    append_json_text_member(out, "rule", record.rule);
    close(out, '}');
    if (!record.error.empty()) append_json_text_member(out, "error", record.error);
    append_json_text_member(out, "host", record.sni);
    append_json_text_member(out, "id", record.id);
    identity(out, record, capture);
    if (record.masking) {
        append_json_key(out, "masking");
        out += record.masking->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        out.push_back(',');
    }
    append_json_text_member(out, "mode", to_string(capture.mode));
    if (capture.realtime) realtime_session(out, record, capture);

    append_json_key(out, "request");
    out.push_back('{');
    if (capture.request_streamed) {
        append_json_bool_member(out, "body_streamed", true);
        if (!capture.upload_sha256.empty())
            append_json_text_member(out, "body_sha256", capture.upload_sha256);
    } else if (full)
        append_json_text_member(out, "body", capture.request_body);
    append_json_number_member(out, "bytes", record.request_bytes);
    append_json_text_member(out, "content_type", capture.request_content_type);
    append_json_text_member(out, "method", record.method);
    append_json_text_member(out, "model", record.model);
    append_json_text_member(out, "path", record.path);
    append_json_bool_member(out, "stream", record.stream);
    append_json_text_member(out, "user_agent", capture.user_agent);
    close(out, '}');

    append_json_key(out, "response");
    out.push_back('{');
    const bool answer_body = !capture.realtime;  // a realtime session's answer is its events
    if (full && answer_body && !is_event_stream(capture.response_content_type))
        append_json_text_member(out, "body", capture.response_body);
    append_json_number_member(out, "bytes", record.response_bytes);
    append_json_text_member(out, "content_type", capture.response_content_type);
    if (full && answer_body && is_event_stream(capture.response_content_type))
        stream_events(out, capture);
    append_json_double_member(out, "latency_ms", record.latency_ms);
    if (!full && answer_body) pieces(out, capture);
    append_json_number_member(out, "status", record.status);
    if (capture.truncated) append_json_bool_member(out, "truncated", true);
    append_json_double_member(out, "ttfb_ms", record.upstream_ttfb_ms);
    append_json_number_member(out, "upstream_status", record.upstream_status);
    close(out, '}');

    if (!capture.run.empty()) append_json_text_member(out, "run", capture.run);
    append_json_text_member(out, "session", session_of(capture));
    append_json_text_member(out, "ts", format_utc(record.started));
    raw_object(out, "usage", record.usage ? std::string_view(record.usage->json) : "", "null");
    append_json_number_member(out, "version", kRecordingVersion);
    out.back() = '}';
}

}  // namespace sluice
