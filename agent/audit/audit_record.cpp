#include "agent/audit/audit_record.h"

#include <atomic>
#include <charconv>
#include <cstring>
#include <random>

#include "agent/common/time_format.h"
#include "policy/json_append.h"

namespace sluice {

namespace {

void append_json(std::string& out, std::string_view name, const nlohmann::json& value) {
    append_json_key(out, name);
    out += value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    out.push_back(',');
}

// Replaces the ',' after the last member with the object's closing brace.
void close_object(std::string& out) {
    if (out.back() == ',')
        out.back() = '}';
    else
        out.push_back('}');
}

// A member whose value is an object: begin_member_object(), its members, end_member_object().
void begin_member_object(std::string& out, std::string_view name) {
    append_json_key(out, name);
    out.push_back('{');
}

void end_member_object(std::string& out) {
    close_object(out);
    out.push_back(',');
}

// The identity object with "oidc" added when the request carried a token.
void append_identity(std::string& out, std::string_view identity,
                     const std::optional<nlohmann::json>& oidc) {
    append_json_key(out, "identity");
    const auto close = identity.find_last_of('}');
    if (!oidc || close == std::string_view::npos) {
        out += identity;
        out.push_back(',');
        return;
    }
    const std::string_view head = identity.substr(0, close);
    out += head;
    if (head.find_last_not_of(" \t\r\n") != head.find_last_of('{')) out.push_back(',');
    append_json(out, "oidc", *oidc);
    end_member_object(out);
}

// Members in name order, each only when set, as the nlohmann object it replaces wrote them.
void append_recording(std::string& out, const RecordingReference& recording) {
    begin_member_object(out, "recording");
    if (!recording.error.empty()) append_json_text_member(out, "error", recording.error);
    if (!recording.mode.empty()) append_json_text_member(out, "mode", recording.mode);
    if (!recording.session.empty()) append_json_text_member(out, "session", recording.session);
    if (!recording.sha256.empty()) append_json_text_member(out, "sha256", recording.sha256);
    end_member_object(out);
}

}  // namespace

// Members in name order, as nlohmann (std::map) wrote them before, so lines stay comparable.
std::string AuditRecord::to_line() const {
    std::string out;
    append_line(out);
    return out;
}

void AuditRecord::append_line(std::string& out) const {
    out.reserve(out.size() + 640 + identity.size() + path.size() + error.size());
    out.push_back('{');
    if (approval) append_json(out, "approval", *approval);
    if (tool_calls) append_json(out, "tool_calls", *tool_calls);
    begin_member_object(out, "connection");
    append_json_text_member(out, "original_destination", original_destination);
    append_json_text_member(out, "sni", sni);
    append_json_bool_member(out, "upstream_reused", upstream_connection_reused);
    end_member_object(out);

    begin_member_object(out, "decision");
    append_json_text_member(out, "action", action);
    if (!code.empty()) append_json_text_member(out, "code", code);
    append_json_text_member(out, "reason", reason);
    append_json_text_member(out, "rule", rule);
    if (!skipped_controls.empty()) {
        append_json_key(out, "skipped_controls");
        out.push_back('[');
        for (const auto& control : skipped_controls) {
            append_json_string(out, control);
            out.push_back(',');
        }
        if (out.back() == ',') out.back() = ']';
        out.push_back(',');
    }
    end_member_object(out);

    if (!error.empty()) append_json_text_member(out, "error", error);
    append_json_text_member(out, "id", id);
    append_identity(out, identity, oidc);
    append_json_text_member(out, "kind", kind);
    append_json_double_member(out, "latency_ms", latency_ms);
    if (masking && !masking->empty()) append_json(out, "masking", *masking);
    if (realtime) append_json(out, "realtime", *realtime);
    if (recording) append_recording(out, *recording);

    begin_member_object(out, "request");
    append_json_number_member(out, "bytes", request_bytes);
    if (!client_key_fingerprint.empty())
        append_json_text_member(out, "client_key", client_key_fingerprint);
    append_json_text_member(out, "method", method);
    append_json_text_member(out, "model", model);
    append_json_text_member(out, "path", path);
    append_json_bool_member(out, "stream", stream);
    end_member_object(out);

    begin_member_object(out, "response");
    append_json_number_member(out, "bytes", response_bytes);
    append_json_number_member(out, "status", uint64_t{status});
    append_json_number_member(out, "upstream_status", uint64_t{upstream_status});
    append_json_key(out, "usage");
    out += usage ? std::string_view(usage->json) : std::string_view("null");
    out.push_back(',');
    end_member_object(out);

    append_json_text_member(out, "ts", format_utc(started));
    if (upstream_ttfb_ms > 0) append_json_double_member(out, "upstream_ttfb_ms", upstream_ttfb_ms);
    close_object(out);
    out.push_back('\n');
}

nlohmann::json AuditRecord::to_json() const { return nlohmann::json::parse(to_line()); }

std::string new_audit_id() {
    static const uint64_t process_random = [] {
        std::random_device rd;
        return (static_cast<uint64_t>(rd()) << 32) ^ rd();
    }();
    static std::atomic<uint64_t> counter{0};
    // "%016llx-%llu" without snprintf (one per request).
    char buf[40];
    const auto hex = std::to_chars(buf, buf + 16, process_random, 16);
    const std::size_t digits = static_cast<std::size_t>(hex.ptr - buf);
    std::memmove(buf + 16 - digits, buf, digits);
    std::memset(buf, '0', 16 - digits);
    buf[16] = '-';
    const auto end = std::to_chars(buf + 17, buf + sizeof buf, counter.fetch_add(1) + 1);
    return std::string(buf, end.ptr);
}

}  // namespace sluice
