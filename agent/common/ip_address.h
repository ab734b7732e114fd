// One 16-byte address type for both families: IPv4 is carried v4-mapped (::ffff:a.b.c.d), as
// the BPF maps store it, so the resolver, loader and proxy share one key type.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice {

using IpAddress = std::array<uint8_t, 16>;

bool is_v4_mapped(const IpAddress& addr);
IpAddress v4_mapped(const std::array<uint8_t, 4>& v4);
// ::ffff:a.b.c.d for an IPv4 address given in network byte order.
IpAddress v4_mapped(uint32_t ip4_network_order);
// "1.2.3.4" (returned v4-mapped) or "2001:db8::1"; nullopt if `text` is neither.
std::optional<IpAddress> parse_ip_address(std::string_view text);

// A TCP port written in decimal, 1 to 65535, nothing else in `text`.
std::optional<uint16_t> parse_port(std::string_view text);
// "1.2.3.4" for v4-mapped addresses, RFC 5952 text otherwise.
std::string format_ip_address(const IpAddress& addr);

}  // namespace sluice
