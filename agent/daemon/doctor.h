// `sluicectl doctor`: whether enforcement works on this host, one line per check, each failing
// line with its fix. The checks on sluiced's own state are a pure function of its status report
// (testable without a daemon); the runtime checks run each runtime found on the host, as the
// invoking user, through a real TLS handshake to an intercepted host via the redirect.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace sluice {

struct DoctorLine {
    std::string check;
    bool ok = false;
    std::string detail;
    std::string fix;  // empty when ok
};

// The daemon checks from `sluicectl status`'s report (nullopt-like: an "error" key or no report
// means sluiced did not answer).
// `now` decides whether resolved targets are fresh (past their DNS expiry by more than
// limits::kDoctorTargetStaleness means the resolver has not been able to refresh them).
std::vector<DoctorLine> check_daemon_status(const nlohmann::json& status,
                                            const std::string& admin_error,
                                            std::chrono::system_clock::time_point now);

// One runtime probe: a command that exits 0 only after a verified TLS handshake with {host}.
struct RuntimeProbe {
    std::string check;    // "node", "python3 requests", ...
    std::string present;  // shell test that the runtime is installed (probe skipped otherwise)
    std::string command;  // shell command; {host} is replaced
    std::string fix;
};
const std::vector<RuntimeProbe>& runtime_probes();
// Runs every probe whose runtime is present (at most limits::kDoctorProbeTimeout each).
std::vector<DoctorLine> check_runtimes(const std::string& host);

std::string format_doctor_table(const std::vector<DoctorLine>& lines);
nlohmann::json doctor_json(const std::vector<DoctorLine>& lines);

}  // namespace sluice
