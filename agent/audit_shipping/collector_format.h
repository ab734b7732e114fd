// How audit lines look on the wire to each kind of collector. Pure functions: no sockets.
//  - syslog: RFC 5424 messages (facility local0, severity info, APP-NAME sluiced, MSGID audit,
//    the audit line untouched as MSG), each framed by octet counting (RFC 6587 §3.4.1), so a
//    line is never split or merged whatever it contains.
//  - OTLP/HTTP logs, JSON encoding: one ExportLogsServiceRequest per batch, each audit line the
//    string body of one log record, so a collector passes the line on byte for byte and the
//    hash chain still verifies at the far end.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

struct CollectorUrl {
    std::string scheme;  // tcp, tls (syslog); http, https (OTLP)
    std::string host;    // without brackets for IPv6 literals
    uint16_t port = 0;
    std::string target;  // http(s): path, default /v1/logs
};

// tcp://host:port, tls://host:port, http://host[:port][/path], https://…; nullopt otherwise.
std::optional<CollectorUrl> parse_collector_url(std::string_view url);

// One octet-counted RFC 5424 message for `line` (its trailing '\n' dropped).
std::string syslog_frame(std::string_view line, std::string_view hostname, int pid,
                         std::chrono::system_clock::time_point now);

// The OTLP JSON body for a batch of lines.
std::string otlp_logs_body(const std::vector<std::string>& lines, std::string_view hostname,
                           std::chrono::system_clock::time_point now);

}  // namespace sluice
