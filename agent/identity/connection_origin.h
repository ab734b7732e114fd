// Who opened a redirected connection and where it was going, as audit and policy see it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/ip/tcp.hpp>

#include "policy/policy_model.h"

namespace sluice {

struct ConnectionIdentity {
    // The audit "identity" object as JSON text: serialized once, copied into each record.
    std::string audit_json;
    PolicyIdentity policy;  // what policy matches on (OIDC claims are added per request)
};

struct ConnectionOrigin {
    boost::asio::ip::tcp::endpoint original_destination;
    // Never null. Shared by the connections of one process (SharedIdentities).
    std::shared_ptr<const ConnectionIdentity> identity;
    uint32_t uid = 0;
};

}  // namespace sluice
