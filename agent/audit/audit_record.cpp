#include "agent/audit/audit_record.h"

#include <atomic>
#include <cstdio>
#include <random>

#include "agent/common/time_format.h"

namespace sluice {

nlohmann::json AuditRecord::to_json() const {
    nlohmann::json request = {{"method", method},        {"path", path},
                              {"model", model},          {"stream", stream},
                              {"bytes", request_bytes}};
    if (!client_key_fingerprint.empty()) request["client_key"] = client_key_fingerprint;
    nlohmann::json response = {{"status", status},
                               {"upstream_status", upstream_status},
                               {"usage", usage ? *usage : nlohmann::json(nullptr)},
                               {"bytes", response_bytes}};
    nlohmann::json decision = {{"action", action}, {"rule", rule}, {"reason", reason}};
    if (!code.empty()) decision["code"] = code;
    if (!skipped_controls.empty()) decision["skipped_controls"] = skipped_controls;
    nlohmann::json record = {{"ts", format_utc(started)},
                             {"id", id},
                             {"kind", kind},
                             {"identity", identity},
                             {"connection", {{"sni", sni}, {"original_destination", original_destination},
                                             {"upstream_reused", upstream_connection_reused}}},
                             {"request", request},
                             {"response", response},
                             {"decision", decision},
                             {"latency_ms", latency_ms}};
    if (upstream_ttfb_ms > 0) record["upstream_ttfb_ms"] = upstream_ttfb_ms;
    if (!error.empty()) record["error"] = error;
    if (masking && !masking->empty()) record["masking"] = *masking;
    return record;
}

std::string new_audit_id() {
    static const uint64_t process_random = [] {
        std::random_device rd;
        return (static_cast<uint64_t>(rd()) << 32) ^ rd();
    }();
    static std::atomic<uint64_t> counter{0};
    char buf[40];
    std::snprintf(buf, sizeof buf, "%016llx-%llu", static_cast<unsigned long long>(process_random),
                  static_cast<unsigned long long>(counter.fetch_add(1) + 1));
    return buf;
}

}  // namespace sluice
