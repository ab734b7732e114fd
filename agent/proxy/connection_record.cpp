#include "agent/proxy/connection_record.h"

namespace sluice {

std::string format_endpoint(const boost::asio::ip::tcp::endpoint& endpoint) {
    const std::string address = endpoint.address().to_string();
    const std::string port = std::to_string(endpoint.port());
    return endpoint.address().is_v6() ? "[" + address + "]:" + port : address + ":" + port;
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
