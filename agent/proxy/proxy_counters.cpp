#include "agent/proxy/proxy_context.h"

namespace sluice {

nlohmann::json ProxyCounters::to_json() const {
    return {{"connections", connections.load()},
            {"unattributed", unattributed.load()},
            {"passthrough", passthrough.load()},
            {"refused_hellos", refused_hellos.load()},
            {"intercepted", intercepted.load()},
            {"requests", requests.load()},
            {"client_errors", client_errors.load()},
            {"policy_refusals", policy_refusals.load()},
            {"upstream_errors", upstream_errors.load()},
            {"tls_handshake_failures", tls_handshake_failures.load()},
            {"namespace_unreachable", namespace_unreachable.load()}};
}

}  // namespace sluice
