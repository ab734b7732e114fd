#include "agent/audit_shipping/collector_format.h"
#include "agent/common/ip_address.h"

#include <charconv>
#include <ctime>
#include <nlohmann/json.hpp>

namespace sluice {

namespace {

// PRI = facility local0 (16) × 8 + severity informational (6).
constexpr int kPriority = 16 * 8 + 6;

std::string_view without_newline(std::string_view line) {
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    return line;
}

// RFC 5424 §6.2.3: an RFC 3339 UTC timestamp with fractional seconds.
std::string timestamp(std::chrono::system_clock::time_point now) {
    const auto seconds = std::chrono::floor<std::chrono::seconds>(now);
    const auto micros =
        std::chrono::duration_cast<std::chrono::microseconds>(now - seconds).count();
    const std::time_t t = std::chrono::system_clock::to_time_t(seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buffer[96];
    std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<long long>(micros));
    return buffer;
}

// HOSTNAME and APP-NAME are printable US-ASCII without spaces (RFC 5424 §6.2.4), or "-".
std::string header_field(std::string_view value, std::size_t max) {
    std::string out;
    for (char c : value.substr(0, max))
        if (c > 32 && c < 127) out.push_back(c);
    return out.empty() ? "-" : out;
}

}  // namespace

std::optional<CollectorUrl> parse_collector_url(std::string_view url) {
    CollectorUrl out;
    const auto scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos) return std::nullopt;
    out.scheme = std::string(url.substr(0, scheme_end));
    if (out.scheme != "tcp" && out.scheme != "tls" && out.scheme != "http" && out.scheme != "https")
        return std::nullopt;
    std::string_view rest = url.substr(scheme_end + 3);
    const auto slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    out.target = slash == std::string_view::npos ? "" : std::string(rest.substr(slash));
    if (authority.empty() || authority.find('@') != std::string_view::npos) return std::nullopt;
    std::string_view port_text;
    if (authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        out.host = std::string(authority.substr(1, close - 1));
        if (close + 1 < authority.size()) {
            if (authority[close + 1] != ':') return std::nullopt;
            port_text = authority.substr(close + 2);
        }
    } else {
        const auto colon = authority.rfind(':');
        out.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
    }
    if (out.host.empty()) return std::nullopt;
    if (port_text.empty()) {
        if (out.scheme == "http")
            out.port = 80;
        else if (out.scheme == "https")
            out.port = 443;
        else
            return std::nullopt;  // syslog has no one default port over TCP
    } else {
        const std::optional<uint16_t> port = parse_port(port_text);
        if (!port) return std::nullopt;
        out.port = *port;
    }
    if (out.scheme == "http" || out.scheme == "https") {
        if (out.target.empty() || out.target == "/") out.target = "/v1/logs";
    } else if (!out.target.empty()) {
        return std::nullopt;
    }
    return out;
}

std::string syslog_frame(std::string_view line, std::string_view hostname, int pid,
                         std::chrono::system_clock::time_point now) {
    std::string message = "<" + std::to_string(kPriority) + ">1 " + timestamp(now) + " " +
                          header_field(hostname, 255) + " sluiced " + std::to_string(pid) +
                          " audit - ";
    message += without_newline(line);
    return std::to_string(message.size()) + " " + message;
}

std::string otlp_logs_body(const std::vector<std::string>& lines, std::string_view hostname,
                           std::chrono::system_clock::time_point now) {
    const std::string nanos = std::to_string(
        std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count());
    nlohmann::json records = nlohmann::json::array();
    for (const auto& line : lines) {
        records.push_back({{"timeUnixNano", nanos},
                           {"observedTimeUnixNano", nanos},
                           {"severityNumber", 9},
                           {"severityText", "INFO"},
                           {"body", {{"stringValue", std::string(without_newline(line))}}}});
    }
    auto attribute = [](const char* key, std::string_view value) {
        return nlohmann::json{{"key", key}, {"value", {{"stringValue", std::string(value)}}}};
    };
    nlohmann::json body = {
        {"resourceLogs",
         {{{"resource",
            {{"attributes",
              {attribute("service.name", "sluiced"), attribute("host.name", hostname)}}}},
           {"scopeLogs",
            {{{"scope", {{"name", "sluice.audit"}}}, {"logRecords", std::move(records)}}}}}}}};
    return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace sluice
