// The resolver's output: the addresses that connect4/connect6 must redirect, one entry per
// (host, address, port). IPv4 is carried v4-mapped (::ffff:a.b.c.d) so one type serves both
// BPF hooks.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice {

using IpAddress = std::array<uint8_t, 16>;

struct ResolvedTarget {
    std::string host;
    IpAddress addr{};
    uint16_t port = 0;
    // Unix seconds until which sluice holds this address (TTL, extended while refreshes fail;
    // end of the grace period once DNS stopped returning it). 0 = fixed in config, never expires.
    uint64_t expires_unix_s = 0;

    friend bool operator==(const ResolvedTarget&, const ResolvedTarget&) = default;
};

bool is_v4_mapped(const IpAddress& addr);
IpAddress v4_mapped(const std::array<uint8_t, 4>& v4);
// "1.2.3.4" or "2001:db8::1"; nullopt if `text` is neither.
std::optional<IpAddress> parse_ip_address(std::string_view text);
// "1.2.3.4" for v4-mapped addresses, RFC 5952 text otherwise.
std::string format_ip_address(const IpAddress& addr);
// "api.openai.com 1.2.3.4:443" / "api.openai.com [2001:db8::1]:443", for logs and sluicectl.
std::string format_target(const ResolvedTarget& target);

}  // namespace sluice
