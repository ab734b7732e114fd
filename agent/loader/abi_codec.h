// Conversions between the C++ view of the redirect and the kernel ABI in bpf/redirect_abi.h.
// Pure functions (no syscalls), so they are unit-testable without privileges.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "agent/common/ip_address.h"
#include "bpf/redirect_abi.h"

namespace sluice {

static_assert(sizeof(sluice_target_key) == 20, "ABI: sluice_target_key");
static_assert(sizeof(sluice_target_value) == 8, "ABI: sluice_target_value");
static_assert(sizeof(sluice_conn_key) == 20, "ABI: sluice_conn_key");
static_assert(sizeof(sluice_netns_conn_key) == 32, "ABI: sluice_netns_conn_key");
static_assert(sizeof(sluice_conn_meta) == 88, "ABI: sluice_conn_meta");
static_assert(sizeof(sluice_config) == 56, "ABI: sluice_config");
static_assert(sizeof(sluice_netns_listener) == 40, "ABI: sluice_netns_listener");
static_assert(sizeof(sluice_netns_event) == 32, "ABI: sluice_netns_event");
static_assert(sizeof(sluice_task_netns) == 24, "ABI: sluice_task_netns");

using Address16 = IpAddress;

// The conn_by_tuple key for the peer of an accepted proxy socket (getpeername()). nullopt for
// anything but AF_INET / AF_INET6.
std::optional<sluice_conn_key> conn_key_from_peer(const sockaddr* peer, socklen_t len);
// The conn_by_tuple key: that peer in the network namespace of the listener that accepted it.
std::optional<sluice_netns_conn_key> netns_conn_key(uint64_t netns_cookie, const sockaddr* peer,
                                                    socklen_t len);

sluice_target_key target_key(const Address16& addr, uint16_t port_host);

// Counter names for `sluicectl status`, indexed by enum sluice_stat.
const char* stat_name(uint32_t stat);

}  // namespace sluice
