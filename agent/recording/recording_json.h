// A recorded request as JSON (the recording's stored form, docs/recording.md): built on the
// recorder's thread from the request's final audit record and what the proxy captured. Pure.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "agent/audit/audit_record.h"
#include "agent/recording/request_capture.h"

namespace sluice {

inline constexpr int kRecordingVersion = 1;

// The session a request belongs to: the client's run marker, else its connection.
std::string session_of(const RequestCapture& capture);

nlohmann::json recording_json(const AuditRecord& record, const RequestCapture& capture);

}  // namespace sluice
