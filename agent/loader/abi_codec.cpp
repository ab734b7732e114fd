#include "agent/loader/abi_codec.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

namespace sluice {

std::optional<sluice_conn_key> conn_key_from_peer(const sockaddr* peer, socklen_t len) {
    sluice_conn_key key{};
    if (peer == nullptr) return std::nullopt;
    if (peer->sa_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
        sockaddr_in sin{};
        std::memcpy(&sin, peer, sizeof(sin));
        const Address16 addr = v4_mapped(sin.sin_addr.s_addr);
        std::memcpy(key.client_addr, addr.data(), 16);
        key.client_port_host = ntohs(sin.sin_port);
        return key;
    }
    if (peer->sa_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
        sockaddr_in6 sin6{};
        std::memcpy(&sin6, peer, sizeof(sin6));
        std::memcpy(key.client_addr, &sin6.sin6_addr, 16);  // v4-mapped stays v4-mapped
        key.client_port_host = ntohs(sin6.sin6_port);
        return key;
    }
    return std::nullopt;
}

std::optional<sluice_netns_conn_key> netns_conn_key(uint64_t netns_cookie, const sockaddr* peer,
                                                    socklen_t len) {
    const std::optional<sluice_conn_key> tuple = conn_key_from_peer(peer, len);
    if (!tuple) return std::nullopt;
    sluice_netns_conn_key key{};
    key.netns_cookie = netns_cookie;
    key.tuple = *tuple;
    return key;
}

sluice_target_key target_key(const Address16& addr, uint16_t port_host) {
    sluice_target_key key{};
    std::memcpy(key.addr, addr.data(), 16);
    key.port = htons(port_host);
    return key;
}

const char* stat_name(uint32_t stat) {
    switch (stat) {
        case SLUICE_STAT_CONNECT_SEEN:
            return "connect_seen";
        case SLUICE_STAT_REDIRECTED:
            return "redirected";
        case SLUICE_STAT_EXEMPT:
            return "exempt";
        case SLUICE_STAT_FAIL_OPEN:
            return "fail_open";
        case SLUICE_STAT_STORAGE_FAIL:
            return "storage_fail";
        case SLUICE_STAT_UDP_REFUSED:
            return "udp_refused";
        case SLUICE_STAT_TUPLE_RECORDED:
            return "tuple_recorded";
        case SLUICE_STAT_TUPLE_CLOSED:
            return "tuple_closed";
        case SLUICE_STAT_GETPEERNAME_RESTORED:
            return "getpeername_restored";
        case SLUICE_STAT_NETNS_HELD:
            return "netns_held";
        case SLUICE_STAT_SYN_HELD:
            return "syn_held";
        case SLUICE_STAT_HOLD_RELEASED:
            return "hold_released";
        case SLUICE_STAT_NETNS_REFUSED:
            return "netns_refused";
        default:
            return "unknown";
    }
}

}  // namespace sluice
