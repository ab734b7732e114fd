#include "agent/resolver/resolved_target.h"

namespace sluice {

std::string format_target(const ResolvedTarget& target) {
    const std::string addr = format_ip_address(target.addr);
    const std::string port = std::to_string(target.port);
    if (is_v4_mapped(target.addr)) return target.host + " " + addr + ":" + port;
    return target.host + " [" + addr + "]:" + port;
}

}  // namespace sluice
