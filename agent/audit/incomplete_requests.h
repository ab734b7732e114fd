// Evidence that survives a crash. Every request is audited twice: a "forwarded" record as it
// leaves for the upstream, and its final record (kind "request", same id) when it ends. If
// sluiced dies in between (kill -9, a power cut), the next start finds the forwarded records
// that never got a final one and writes one for each, with action "error" and reason
// "sluiced_stopped": the audit then says which requests were sent and never completed.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace sluice {

class AuditWriter;

// How much of the end of the audit file is searched at start. Requests in flight at a crash
// were forwarded shortly before it; a stream that ran longer than this much traffic is missed.
inline constexpr std::size_t kIncompleteScanMaxBytes = 16 * 1024 * 1024;

// The final records owed for `audit_text` (whole lines; a partial last line is ignored), in
// the order their requests were forwarded. Pure.
std::vector<nlohmann::json> incomplete_request_records(std::string_view audit_text);

// Reads the end of the file at `path` (and of its last rotated file, within the same bound)
// and writes what incomplete_request_records() finds to `audit`. Returns how many; a missing or
// unreadable file is none.
std::size_t record_incomplete_requests(const std::string& path, AuditWriter& audit);

}  // namespace sluice
