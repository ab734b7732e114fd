// One audit line: what was asked, by whom, what was decided and what came back.
// Plain data plus its JSON form (the field names are a contract: docs/architecture.md, Contracts).
// The line is written as text directly, without a JSON tree: one per request is on the hot path.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "policy/usage.h"

namespace sluice {

// What an audit line says of its request's recording. Plain strings, written as text: an
// nlohmann object per recorded request cost the audit writer's thread about 2 µs
// (docs/benchmarks.md, "Session recording: history").
struct RecordingReference {
    std::string error;    // why it was not stored; "" when it was
    std::string mode;     // metadata | full, when stored
    std::string session;  // the session it belongs to ("" when not known)
    std::string sha256;   // hex, of the recording's JSON text, when stored
};

struct AuditRecord {
    std::string kind = "request";  // request | forwarded | passthrough | connection | approval
    std::string id;
    std::chrono::system_clock::time_point started;
    // The audit "identity" object as JSON text, serialized once per connection: a view of the
    // connection's copy (ConnectionIdentity::audit_json), which outlives the record, since a
    // record is turned into its line (write_record) before its connection ends.
    std::string_view identity = "{}";
    // Added to "identity" when the request presented an OIDC token (verified or refused).
    std::optional<nlohmann::json> oidc;
    std::string sni;
    std::string original_destination;

    std::string method;
    std::string path;
    std::string model;
    bool stream = false;
    uint64_t request_bytes = 0;
    std::string client_key_fingerprint;

    unsigned status = 0;               // what the client got (0: connection-level event)
    unsigned upstream_status = 0;      // what upstream answered (0: never reached)
    std::optional<UsageObject> usage;  // the response's usage object, copied into the line
    uint64_t response_bytes = 0;
    bool upstream_connection_reused = false;

    std::string action = "allow";  // allow | deny | error | passthrough
    std::string rule;
    std::string reason;
    std::string code;  // machine-readable refusal code (e.g. "identity_mismatch"); "" when allowed
    std::vector<std::string> skipped_controls;  // policy controls waved through (fail_mode open)
    std::string error;
    // What masking did (entity names and counts per direction, failures); never a value.
    std::optional<nlohmann::json> masking;
    // The approval hold of this request (docs/approvals.md): id, event, requester, approver,
    // decision, reason, scope, wait. Kind "approval" records carry one event each.
    std::optional<nlohmann::json> approval;
    // Each tool call the answer proposed: name, a masked argument excerpt, decision, reason.
    std::optional<nlohmann::json> tool_calls;
    // The request's recording (docs/recording.md): {"mode","session","sha256"}, the hash of the
    // recording's JSON text; or {"error"} (and "session") when it was not stored.
    std::optional<RecordingReference> recording;
    // A Realtime API session (docs/realtime.md): duration, frames and bytes each way, usage
    // totals, responses, the decisions taken mid-session, how it closed; on a kind
    // "realtime_response" line, that response's id and status.
    std::optional<nlohmann::json> realtime;
    double latency_ms = 0;
    double upstream_ttfb_ms = 0;

    // The record as one JSON object followed by '\n', ready to append to the audit file.
    std::string to_line() const;
    void append_line(std::string& out) const;  // the same, appended to `out`
    nlohmann::json to_json() const;            // the same object, parsed (tests, tools)
};

// A new unique record id: 16 hex digits of randomness + a per-process counter.
std::string new_audit_id();

}  // namespace sluice
