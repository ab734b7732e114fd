#include "agent/identity/connection_attribution.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "agent/identity/policy_identity.h"

namespace sluice {

namespace {

boost::asio::ip::tcp::endpoint original_destination(const sluice_conn_meta& meta) {
    namespace ip = boost::asio::ip;
    ip::address_v6::bytes_type bytes;
    std::copy(std::begin(meta.orig_addr), std::end(meta.orig_addr), bytes.begin());
    const ip::address_v6 v6(bytes);
    const ip::address address =
        v6.is_v4_mapped() ? ip::address(ip::make_address_v4(ip::v4_mapped, v6)) : ip::address(v6);
    return ip::tcp::endpoint(address, ntohs(meta.orig_port));
}

}  // namespace

ConnectionOrigin ConnectionAttribution::origin_of(const sluice_conn_meta& meta,
                                                  RecentIdentities& recent) {
    ConnectionOrigin origin;
    origin.original_destination = original_destination(meta);
    ConnectingProcess process{meta.tgid, meta.uid, meta.gid, meta.cgroup_id,
                              std::string(meta.comm, strnlen(meta.comm, sizeof meta.comm))};
    const auto now = RecentIdentities::Clock::now();
    origin.identity = recent.find(process, now);
    if (!origin.identity) {
        Identity identity =
            resolver_.resolve(meta.tgid, meta.uid, meta.gid, process.comm, meta.cgroup_id);
        if (audit_cmdline_) identity.cmdline = audit_cmdline_(identity.cmdline);
        origin.identity = shared_.share(
            {identity.to_json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
             to_policy_identity(identity)});
        recent.remember(process, origin.identity, now);
    }
    origin.uid = meta.uid;
    return origin;
}

}  // namespace sluice
