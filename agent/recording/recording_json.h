// A recorded request as JSON text (the recording's stored form, docs/recording.md): built by the
// recorder from the request's final audit record and what the proxy captured, written
// straight into a string (building an nlohmann tree and dumping it cost more than everything
// else the recorder does, docs/benchmarks.md). Pure.
#pragma once

#include <string>

#include "agent/audit/audit_record.h"
#include "agent/recording/request_capture.h"

namespace sluice {

inline constexpr int kRecordingVersion = 1;

// The session a request belongs to: the client's run marker, else its connection.
std::string session_of(const RequestCapture& capture);

// Appends the recording's JSON text to `out` (which the caller may reuse between recordings).
void append_recording_json(std::string& out, const AuditRecord& record,
                           const RequestCapture& capture);

}  // namespace sluice
