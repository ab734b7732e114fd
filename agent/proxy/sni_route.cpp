#include "agent/proxy/sni_route.h"

#include <algorithm>

#include "agent/proxy/request_target.h"
#include "policy/glob.h"

namespace sluice {

namespace {

bool matches_any(const std::vector<std::string>& globs, const std::string& name) {
    return std::any_of(globs.begin(), globs.end(),
                       [&](const std::string& glob) { return glob_match(glob, name); });
}

bool contains(const std::vector<std::string>& names, const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

SniRoute route_client_hello(const SniResult& hello, const SniRoutingTable& table,
                            const std::optional<std::string>& address_host) {
    const std::string name = canonical_host_name(hello.sni.value_or(""));
    if (hello.encrypted_client_hello) {
        if (!name.empty() && matches_any(table.passthrough_globs, name))
            return {SniRouteKind::passthrough, name, "ech_passthrough_allowed"};
        return {SniRouteKind::refuse, name, "encrypted_client_hello"};
    }
    if (name.empty()) {
        if (address_host && contains(table.intercepted_hosts, *address_host))
            return {SniRouteKind::intercept, *address_host, {}};
        return {SniRouteKind::refuse, name, "no_sni_unknown_address"};
    }
    if (contains(table.intercepted_hosts, name)) return {SniRouteKind::intercept, name, {}};
    if (matches_any(table.passthrough_globs, name))
        return {SniRouteKind::passthrough, name, "sni_passthrough_allowed"};
    return {SniRouteKind::refuse, name, "sni_not_allowed"};
}

}  // namespace sluice
