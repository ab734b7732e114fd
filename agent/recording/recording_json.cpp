#include "agent/recording/recording_json.h"

#include <algorithm>

#include "agent/common/time_format.h"
#include "policy/sse_parser.h"

namespace sluice {

namespace {

bool is_event_stream(const std::string& content_type) {
    return content_type.find("text/event-stream") != std::string::npos;
}

// Each event of a streamed answer with the time its last byte arrived: when the client could
// first have seen it.
nlohmann::json stream_events(const RequestCapture& capture) {
    nlohmann::json events = nlohmann::json::array();
    SseParser parser;
    uint64_t consumed = 0;
    for (const AnswerPiece& arrived : capture.pieces) {
        const uint64_t end = std::min<uint64_t>(arrived.end, capture.response_body.size());
        if (end <= consumed) continue;
        const std::string_view bytes(capture.response_body.data() + consumed, end - consumed);
        parser.feed(bytes, [&](const SseEvent& event) {
            nlohmann::json e{{"t_ms", arrived.offset_ms}, {"data", event.data}};
            if (!event.event.empty()) e["event"] = event.event;
            events.push_back(std::move(e));
        });
        consumed = end;
    }
    return events;
}

nlohmann::json pieces_json(const RequestCapture& capture) {
    nlohmann::json pieces = nlohmann::json::array();
    for (const AnswerPiece& p : capture.pieces) pieces.push_back({p.offset_ms, p.end});
    return pieces;
}

}  // namespace

std::string session_of(const RequestCapture& capture) {
    return capture.run.empty() ? "conn-" + capture.connection : "run-" + capture.run;
}

nlohmann::json recording_json(const AuditRecord& record, const RequestCapture& capture) {
    const bool full = capture.mode == RecordMode::full;
    nlohmann::json identity = nlohmann::json::parse(capture.identity, nullptr, false);
    if (identity.is_discarded()) identity = nlohmann::json::object();
    if (record.oidc) identity["oidc"] = *record.oidc;

    nlohmann::json request{
        {"method", record.method},         {"path", record.path},
        {"model", record.model},           {"stream", record.stream},
        {"bytes", record.request_bytes},   {"content_type", capture.request_content_type},
        {"user_agent", capture.user_agent}};
    if (capture.request_streamed)
        request["body_streamed"] = true;
    else if (full)
        request["body"] = capture.request_body;

    nlohmann::json response{{"status", record.status},
                            {"upstream_status", record.upstream_status},
                            {"bytes", record.response_bytes},
                            {"content_type", capture.response_content_type},
                            {"ttfb_ms", record.upstream_ttfb_ms},
                            {"latency_ms", record.latency_ms}};
    if (full && is_event_stream(capture.response_content_type))
        response["events"] = stream_events(capture);
    else if (full)
        response["body"] = capture.response_body;
    else
        response["pieces"] = pieces_json(capture);
    if (capture.truncated) response["truncated"] = true;

    nlohmann::json decision{
        {"action", record.action}, {"rule", record.rule}, {"reason", record.reason}};
    if (!record.code.empty()) decision["code"] = record.code;

    nlohmann::json out{{"version", kRecordingVersion},
                       {"id", record.id},
                       {"session", session_of(capture)},
                       {"connection", capture.connection},
                       {"ts", format_utc(record.started)},
                       {"mode", std::string(to_string(capture.mode))},
                       {"host", record.sni},
                       {"identity", std::move(identity)},
                       {"request", std::move(request)},
                       {"response", std::move(response)},
                       {"decision", std::move(decision)},
                       {"usage", nullptr}};
    if (!capture.run.empty()) out["run"] = capture.run;
    if (record.usage) {
        nlohmann::json usage = nlohmann::json::parse(record.usage->json, nullptr, false);
        if (!usage.is_discarded()) out["usage"] = std::move(usage);
    }
    if (record.masking) out["masking"] = *record.masking;
    if (!record.error.empty()) out["error"] = record.error;
    return out;
}

}  // namespace sluice
