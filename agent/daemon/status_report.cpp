#include "agent/daemon/status_report.h"

#include "agent/common/time_format.h"

namespace sluice {

namespace {
std::string expiry_text(uint64_t expires_unix_s) {
    if (expires_unix_s == 0) return "fixed";
    return format_utc(std::chrono::system_clock::time_point(std::chrono::seconds(expires_unix_s)));
}
}  // namespace

nlohmann::json loader_status_json(const LoaderStatus& status) {
    nlohmann::json programs = nlohmann::json::array();
    for (const auto& p : status.programs)
        programs.push_back({{"name", p.name},
                            {"attach_type", p.attach_type},
                            {"prog_id", p.prog_id},
                            {"link_id", p.link_id}});
    nlohmann::json targets = nlohmann::json::array();
    for (const auto& t : status.targets)
        targets.push_back({{"address", format_ip_address(t.addr)},
                           {"port", t.port},
                           {"expires", expiry_text(t.expires_unix_s)}});
    return {{"cgroup", status.cgroup_path},
            {"programs", programs},
            {"kernel_targets", targets},
            {"counters", status.counters},
            {"tracked_connections", status.tracked_connections},
            {"served_namespaces", status.served_namespaces}};
}

nlohmann::json oidc_status_json(const std::vector<OidcIssuerStatus>& issuers) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& issuer : issuers) {
        nlohmann::json entry = {
            {"issuer", issuer.issuer}, {"source", issuer.source}, {"keys", issuer.keys}};
        if (issuer.loaded_at) entry["loaded_at"] = format_utc(*issuer.loaded_at);
        if (!issuer.last_error.empty()) entry["last_error"] = issuer.last_error;
        out.push_back(entry);
    }
    return out;
}

nlohmann::json status_report(const Config& config, const LoaderStatus& loader,
                             const std::vector<ResolvedTarget>& targets, const ProxyCounters& proxy,
                             const AuditStats& audit, bool api_key_loaded) {
    nlohmann::json resolved = nlohmann::json::array();
    for (const auto& t : targets)
        resolved.push_back({{"host", t.host},
                            {"address", format_ip_address(t.addr)},
                            {"port", t.port},
                            {"expires", expiry_text(t.expires_unix_s)}});
    return {{"listen", config.listen.host + ":" + std::to_string(config.listen.port)},
            {"failure_mode", config.failure_mode == FailureMode::closed ? "closed" : "open"},
            {"kernel", loader_status_json(loader)},
            {"targets", resolved},
            {"proxy", proxy.to_json()},
            {"audit",
             {{"path", config.audit.path},
              {"healthy", audit.healthy},
              {"written", audit.written},
              {"lost", audit.lost},
              {"write_errors", audit.write_errors}}},
            {"api_key_loaded", api_key_loaded}};
}

}  // namespace sluice
