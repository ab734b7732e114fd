// The audit record every exchange on a redirected connection starts from: who and where to.
#pragma once

#include <string>

#include <boost/asio/ip/tcp.hpp>

#include "agent/audit/audit_record.h"
#include "agent/proxy/proxy_context.h"

namespace sluice {

// "1.2.3.4:443" or "[2001:db8::1]:443".
std::string format_endpoint(const boost::asio::ip::tcp::endpoint& endpoint);

// A fresh record (new id, now) carrying the connection's identity and original destination.
AuditRecord connection_record(const ConnectionOrigin& origin, std::string kind);

}  // namespace sluice
