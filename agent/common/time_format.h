#pragma once

#include <chrono>
#include <string>

namespace sluice {

// RFC 3339 UTC with microseconds, e.g. 2026-11-23T10:00:00.123456Z.
std::string format_utc(std::chrono::system_clock::time_point t);
std::string format_utc_now();

}  // namespace sluice
