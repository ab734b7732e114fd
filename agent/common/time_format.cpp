#include "agent/common/time_format.h"

#include <cstdio>
#include <ctime>

namespace sluice {

std::string format_utc(std::chrono::system_clock::time_point t) {
    const auto us =
        std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
    const std::time_t secs = static_cast<std::time_t>(us / 1'000'000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    // Digits written by hand: every audit record carries a timestamp, and snprintf's format
    // parsing cost more than the rest of this function.
    char buf[32];
    char* p = buf;
    const auto put = [&p](long long value, int width) {
        for (int i = width - 1; i >= 0; --i, value /= 10)
            p[i] = static_cast<char>('0' + value % 10);
        p += width;
    };
    const int year = tm.tm_year + 1900;
    const long long micros = ((us % 1'000'000) + 1'000'000) % 1'000'000;
    if (year < 0 || year > 9999) {  // not four digits: leave it to snprintf
        char wide[96];
        std::snprintf(wide, sizeof wide, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", year,
                      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, micros);
        return wide;
    }
    put(year, 4);
    *p++ = '-';
    put(tm.tm_mon + 1, 2);
    *p++ = '-';
    put(tm.tm_mday, 2);
    *p++ = 'T';
    put(tm.tm_hour, 2);
    *p++ = ':';
    put(tm.tm_min, 2);
    *p++ = ':';
    put(tm.tm_sec, 2);
    *p++ = '.';
    put(micros, 6);
    *p++ = 'Z';
    return std::string(buf, p);
}

std::string format_utc_now() { return format_utc(std::chrono::system_clock::now()); }

}  // namespace sluice
