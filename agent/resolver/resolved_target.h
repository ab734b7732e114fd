// The resolver's output: the addresses that connect4/connect6 must redirect, one entry per
// (host, address, port). IPv4 is carried v4-mapped (::ffff:a.b.c.d) so one type serves both
// BPF hooks.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "agent/common/ip_address.h"

namespace sluice {

struct ResolvedTarget {
    std::string host;
    IpAddress addr{};
    uint16_t port = 0;
    // Unix seconds until which sluice holds this address (TTL, extended while refreshes fail;
    // end of the grace period once DNS stopped returning it). 0 = fixed in config, never expires.
    uint64_t expires_unix_s = 0;

    friend bool operator==(const ResolvedTarget&, const ResolvedTarget&) = default;
};

// "api.openai.com 1.2.3.4:443" / "api.openai.com [2001:db8::1]:443", for logs and sluicectl.
std::string format_target(const ResolvedTarget& target);

}  // namespace sluice
