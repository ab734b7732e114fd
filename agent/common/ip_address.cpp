#include "agent/common/ip_address.h"

#include <charconv>

#include <arpa/inet.h>

#include <cstring>

namespace sluice {

bool is_v4_mapped(const IpAddress& addr) {
    static constexpr uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return std::memcmp(addr.data(), kPrefix, sizeof kPrefix) == 0;
}

IpAddress v4_mapped(const std::array<uint8_t, 4>& v4) {
    IpAddress out{};
    out[10] = 0xff;
    out[11] = 0xff;
    std::memcpy(out.data() + 12, v4.data(), 4);
    return out;
}

IpAddress v4_mapped(uint32_t ip4_network_order) {
    std::array<uint8_t, 4> v4{};
    std::memcpy(v4.data(), &ip4_network_order, 4);
    return v4_mapped(v4);
}

std::optional<IpAddress> parse_ip_address(std::string_view text) {
    const std::string s(text);
    std::array<uint8_t, 4> v4{};
    if (inet_pton(AF_INET, s.c_str(), v4.data()) == 1) return v4_mapped(v4);
    IpAddress v6{};
    if (inet_pton(AF_INET6, s.c_str(), v6.data()) == 1) return v6;
    return std::nullopt;
}

std::string format_ip_address(const IpAddress& addr) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (is_v4_mapped(addr)) {
        inet_ntop(AF_INET, addr.data() + 12, buf, sizeof buf);
    } else {
        inet_ntop(AF_INET6, addr.data(), buf, sizeof buf);
    }
    return buf;
}

std::optional<uint16_t> parse_port(std::string_view text) {
    uint32_t port = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || port == 0 ||
        port > 65535)
        return std::nullopt;
    return static_cast<uint16_t>(port);
}

}  // namespace sluice
