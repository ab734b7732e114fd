// What the proxy needs from the rest of the daemon, borrowed for its lifetime.
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <nlohmann/json.hpp>

#include "agent/config/config.h"
#include "agent/identity/connection_origin.h"
#include "agent/identity/recent_identities.h"
#include "agent/proxy/sni_route.h"
#include "policy/policy_model.h"

namespace sluice {

class UpstreamHosts;
class AuditWriter;
class RequestGate;
class OidcAuthenticator;
class ApprovalRegistry;
class SessionRecorder;

// Finds (and consumes) the kernel's record for an accepted connection, by the client's address
// in the network namespace of the listener that accepted it; `recent` is the calling proxy
// thread's memo of identities (agent/identity/connection_attribution.h).
using ConnectionLookup = std::function<std::optional<ConnectionOrigin>(
    const boost::asio::ip::tcp::endpoint& client, uint64_t netns_cookie, RecentIdentities& recent)>;
// Whether a connection from the network namespace `netns_cookie` could have reached
// `destination` without sluiced (agent/netns/namespace_server.h, reaches()).
using NamespaceReach =
    std::function<bool(uint64_t netns_cookie, const boost::asio::ip::tcp::endpoint& destination)>;
// The intercepted host an address was resolved for, if any (a ClientHello without SNI).
using AddressHostLookup =
    std::function<std::optional<std::string>(const boost::asio::ip::address& address)>;
// The TLS server context for an intercepted SNI (leaf from the local CA).
using ServerContextProvider = std::function<std::shared_ptr<SSL_CTX>(const std::string& sni)>;

struct ProxyCounters {
    std::atomic<uint64_t> connections{0};
    std::atomic<uint64_t> unattributed{0};
    std::atomic<uint64_t> passthrough{0};
    std::atomic<uint64_t> refused_hellos{0};  // ECH, foreign or unknown names (sni_route.h)
    std::atomic<uint64_t> intercepted{0};
    std::atomic<uint64_t> requests{0};
    std::atomic<uint64_t> client_errors{0};
    std::atomic<uint64_t> policy_refusals{0};
    std::atomic<uint64_t> upstream_errors{0};
    std::atomic<uint64_t> tls_handshake_failures{0};
    std::atomic<uint64_t> namespace_unreachable{0};  // refused: no route there in its namespace
    nlohmann::json to_json() const;
};

struct ProxyContext {
    const Config& config;
    ConnectionLookup lookup_connection;
    ServerContextProvider server_context;
    UpstreamHosts& upstreams;  // each intercepted host's key and trust
    AuditWriter& audit;
    RequestGate& gate;
    OidcAuthenticator& oidc;
    const std::string& host_secret;  // key for masking's keyed hashes
    ProxyCounters counters;
    SniRoutingTable sni_routes;             // from config: intercepted hosts, passthrough_sni
    AddressHostLookup host_for_address;     // unset: a ClientHello without SNI is refused
    ApprovalRegistry* approvals = nullptr;  // null: require_approval refuses instead of holding
    SessionRecorder* recorder = nullptr;    // null: nothing is recorded (docs/recording.md)
    NamespaceReach namespace_reaches;       // unset: every namespace reaches every target
};

}  // namespace sluice
