// Where a redirected TLS connection goes, decided from its ClientHello alone. Pure.
//
//   Encrypted Client Hello   the real name is hidden: refused, unless the outer name is in
//                            passthrough_sni (clients retry without ECH)
//   an intercepted name      intercepted (names compared in canonical form: lower case, no
//                            trailing dot)
//   no name at all           intercepted as the host the original address belongs to; refused
//                            when that is not known
//   any other name           spliced through only when it matches passthrough_sni, else refused
//
// Every outcome but interception is audited by the caller with `reason`.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/tls/client_hello_peek.h"

namespace sluice {

enum class SniRouteKind { intercept, passthrough, refuse };

struct SniRoute {
    SniRouteKind kind = SniRouteKind::refuse;
    std::string host;         // intercept: the canonical intercepted host; else the name sent
    std::string_view reason;  // for the audit: why it is not intercepted
};

struct SniRoutingTable {
    std::vector<std::string> intercepted_hosts;  // canonical
    std::vector<std::string> passthrough_globs;  // canonical (config passthrough_sni)
};

// `address_host`: the intercepted host the connection's original destination address belongs
// to, when known (used only for a hello without a name).
SniRoute route_client_hello(const SniResult& hello, const SniRoutingTable& table,
                            const std::optional<std::string>& address_host);

}  // namespace sluice
