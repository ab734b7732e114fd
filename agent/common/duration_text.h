// Durations as people write them in config and on the command line: "90s", "15m", "2h",
// "1h30m", "1d". Used by approvals.* in the config and `sluicectl approvals approve --for`.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace sluice {

// At least one second and at most a year; nullopt when unreadable or out of range.
std::optional<std::chrono::seconds> parse_duration(std::string_view text);

}  // namespace sluice
