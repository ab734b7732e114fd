#include "agent/proxy/connection_record.h"

#include <charconv>

namespace sluice {

std::string format_endpoint(const boost::asio::ip::tcp::endpoint& endpoint) {
    const bool v6 = endpoint.address().is_v6();
    const std::string address = endpoint.address().to_string();
    char port[8];
    const auto port_end = std::to_chars(port, port + sizeof port, endpoint.port()).ptr;
    // Sized once: no temporary per piece (this runs per request).
    std::string out;
    out.reserve(address.size() + (v6 ? 3 : 1) + static_cast<std::size_t>(port_end - port));
    if (v6) out.push_back('[');
    out += address;
    out += v6 ? "]:" : ":";
    out.append(port, port_end);
    return out;
}

AuditRecord connection_record(const ConnectionOrigin& origin, std::string kind) {
    AuditRecord record;
    record.kind = std::move(kind);
    record.id = new_audit_id();
    record.started = std::chrono::system_clock::now();
    record.identity = origin.identity->audit_json;
    record.original_destination = format_endpoint(origin.original_destination);
    return record;
}

}  // namespace sluice
