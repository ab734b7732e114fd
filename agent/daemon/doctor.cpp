#include "agent/daemon/doctor.h"

#include <sys/wait.h>

#include <array>
#include <cstdio>

#include "agent/common/limits.h"
#include "agent/common/time_format.h"

namespace sluice {

namespace {

constexpr const char* kTrustFix =
    "trust is installed by the package (sluice-setup trust-install) and reaches sessions and "
    "services "
    "started after it: log in again, or `sudo /usr/lib/sluice/sluice-setup trust-install`";

// Runs `command` through sh with a deadline; returns its exit status and the last line it printed.
std::pair<int, std::string> run_shell(const std::string& command) {
    const std::string wrapped = "timeout " + std::to_string(limits::kDoctorProbeTimeout.count()) +
                                " sh -c '" + command + "' 2>&1";
    FILE* pipe = ::popen(wrapped.c_str(), "r");
    if (pipe == nullptr) return {-1, "cannot run sh"};
    std::string output;
    std::array<char, 512> buffer{};
    while (std::fgets(buffer.data(), buffer.size(), pipe) != nullptr && output.size() < 64 * 1024)
        output += buffer.data();
    const int status = ::pclose(pipe);
    while (!output.empty() && (output.back() == '\n' || output.back() == '\r')) output.pop_back();
    const auto last_newline = output.rfind('\n');
    std::string last = last_newline == std::string::npos ? output : output.substr(last_newline + 1);
    if (last.size() > 160) last = last.substr(0, 160) + "...";
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, last};
}

void replace_all(std::string& text, const std::string& from, const std::string& to) {
    for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
        text.replace(at, from.size(), to);
}

}  // namespace

std::vector<DoctorLine> check_daemon_status(const nlohmann::json& status,
                                            const std::string& admin_error,
                                            std::chrono::system_clock::time_point now) {
    std::vector<DoctorLine> lines;
    if (!admin_error.empty() || !status.is_object() || status.contains("error")) {
        const std::string why =
            !admin_error.empty() ? admin_error : status.value("error", std::string("no report"));
        lines.push_back(
            {"daemon", false, "sluiced does not answer: " + why,
             why.find("permission denied") != std::string::npos
                 ? "run as root or as a member of group sluice (usermod -aG sluice NAME)"
                 : "systemctl start sluiced; journalctl -u sluiced"});
        return lines;
    }
    lines.push_back({"daemon", true, "sluiced answers on its admin socket", ""});

    const auto& programs = status["kernel"]["programs"];
    const std::size_t attached = programs.is_array() ? programs.size() : 0;
    if (attached > 0)
        lines.push_back({"programs", true,
                         std::to_string(attached) + " attached at " +
                             status["kernel"].value("cgroup", std::string("?")),
                         ""});
    else
        lines.push_back({"programs", false, "no program attached",
                         "systemctl restart sluiced; journalctl -u sluiced"});

    const auto& targets = status["targets"];
    // format_utc strings of one width order as the times they name, so no parsing is needed.
    const std::string stale_before = format_utc(now - limits::kDoctorTargetStaleness);
    std::size_t stale = 0;
    if (targets.is_array())
        for (const auto& target : targets) {
            const std::string expires = target.value("expires", std::string("fixed"));
            if (expires != "fixed" && expires < stale_before) ++stale;
        }
    if (!targets.is_array() || targets.empty())
        lines.push_back({"targets", false, "no intercepted address resolved",
                         "check DNS for the intercepted hosts, or set intercept[].addresses"});
    else if (stale > 0)
        lines.push_back(
            {"targets", false,
             std::to_string(stale) + " of " + std::to_string(targets.size()) +
                 " address(es) past their DNS expiry: the resolver cannot refresh them",
             "check DNS for the intercepted hosts (journalctl -u sluiced -g resolver)"});
    else
        lines.push_back(
            {"targets", true, std::to_string(targets.size()) + " address(es), fresh", ""});

    if (status.value("api_key_loaded", false))
        lines.push_back({"api key", true, "readable, accepted format", ""});
    else
        lines.push_back(
            {"api key", false, "not loaded (requests get 503)",
             "install -m 0600 -o sluice KEYFILE /etc/sluice/openai.key; sluicectl reload"});

    const auto& policy = status["policy"];
    if (policy.is_object() && policy.value("in_force", false))
        lines.push_back({"policy", true,
                         std::to_string(policy.value("rules", 0)) + " rule(s) from " +
                             policy.value("path", std::string("?")),
                         ""});
    else
        lines.push_back({"policy", true, "none (allow all, still audited)", ""});

    const auto& audit = status["audit"];
    if (audit.is_object() && audit.value("healthy", false))
        lines.push_back({"audit", true, "writing " + audit.value("path", std::string("?")), ""});
    else
        lines.push_back({"audit", false, "cannot write " + audit.value("path", std::string("?")),
                         "check the disk and the file's owner (sluice); sluicectl reload"});
    return lines;
}

const std::vector<RuntimeProbe>& runtime_probes() {
    // Each fails on a certificate error and passes once the handshake is verified, whatever the
    // HTTP status (no key is sent).
    static const std::vector<RuntimeProbe> probes = {
        {"curl / OpenSSL", "command -v curl", "curl -sS -o /dev/null -m 8 https://{host}/v1/models",
         kTrustFix},
        {"python3 ssl / urllib", "command -v python3",
         "python3 -c \"import socket, ssl; "
         "ssl.create_default_context().wrap_socket(socket.create_connection("
         "(\\\"{host}\\\", 443), 8), server_hostname=\\\"{host}\\\")\"",
         kTrustFix},
        {"python3 requests", "python3 -c \"import requests\" 2>/dev/null",
         "python3 -c \"import requests; requests.get(\\\"https://{host}/v1/models\\\", "
         "timeout=8)\"",
         kTrustFix},
        {"python3 httpx", "python3 -c \"import httpx\" 2>/dev/null",
         "python3 -c \"import httpx; httpx.get(\\\"https://{host}/v1/models\\\", timeout=8)\"",
         kTrustFix},
        {"node", "command -v node",
         "node -e \"require(\\\"https\\\").get(\\\"https://{host}/v1/models\\\", r => "
         "process.exit(0)).on(\\\"error\\\", e => "
         "{ console.error(e.code || e.message); process.exit(1) })\"",
         kTrustFix},
        {"java", "command -v keytool && test -r /etc/sluice/ca.crt",
         "keytool -list -cacerts -storepass changeit 2>/dev/null | grep -qi \"$(openssl x509 -in "
         "/etc/sluice/ca.crt "
         "-noout -fingerprint -sha256 | cut -d= -f2)\" || { echo \"the CA is not in the JRE "
         "cacerts\"; exit 1; }",
         "Debian: apt install ca-certificates-java; RHEL: update-ca-trust (both rebuild cacerts "
         "from the system "
         "store); a JRE of its own: keytool -importcert -cacerts -file /etc/sluice/ca.crt -alias "
         "sluice"},
    };
    return probes;
}

std::vector<DoctorLine> check_runtimes(const std::string& host) {
    std::vector<DoctorLine> lines;
    for (const auto& probe : runtime_probes()) {
        if (run_shell(probe.present + " >/dev/null").first != 0) continue;
        std::string command = probe.command;
        replace_all(command, "{host}", host);
        replace_all(command, "'", "'\\''");
        const auto [status, last_line] = run_shell(command);
        if (status == 0)
            lines.push_back({probe.check, true, "verified TLS to " + host, ""});
        else
            lines.push_back({probe.check, false,
                             last_line.empty() ? "exit " + std::to_string(status) : last_line,
                             probe.fix});
    }
    return lines;
}

std::string format_doctor_table(const std::vector<DoctorLine>& lines) {
    std::size_t width = 5;
    for (const auto& line : lines) width = std::max(width, line.check.size());
    std::string out;
    for (const auto& line : lines) {
        out += line.ok ? "PASS  " : "FAIL  ";
        out += line.check + std::string(width - line.check.size() + 2, ' ') + line.detail + "\n";
        if (!line.ok && !line.fix.empty())
            out += std::string(width + 8, ' ') + "fix: " + line.fix + "\n";
    }
    return out;
}

nlohmann::json doctor_json(const std::vector<DoctorLine>& lines) {
    nlohmann::json checks = nlohmann::json::array();
    bool ok = true;
    for (const auto& line : lines) {
        ok = ok && line.ok;
        nlohmann::json entry = {{"check", line.check}, {"ok", line.ok}, {"detail", line.detail}};
        if (!line.ok) entry["fix"] = line.fix;
        checks.push_back(entry);
    }
    return {{"ok", ok}, {"checks", checks}};
}

}  // namespace sluice
