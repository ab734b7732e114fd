#include "agent/common/time_format.h"

#include <ctime>
#include <cstdio>

namespace sluice {

std::string format_utc(std::chrono::system_clock::time_point t) {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
    const std::time_t secs = static_cast<std::time_t>(us / 1'000'000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<long long>(((us % 1'000'000) + 1'000'000) % 1'000'000));
    return buf;
}

std::string format_utc_now() { return format_utc(std::chrono::system_clock::now()); }

}  // namespace sluice
