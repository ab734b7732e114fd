// Checks shared by the fuzz targets: what every output must be, whatever the input.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace sluice::fuzz {

inline bool valid_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (n == 0 || i + n > s.size()) return false;
        for (std::size_t k = 1; k < n; ++k)
            if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
        if (n == 2 && c < 0xC2) return false;
        i += n;
    }
    return true;
}

// libFuzzer reports an abort as a crash with the input that caused it; the line says which
// property broke.
inline void require_at(bool condition, const char* what, int line) {
    if (condition) return;
    std::fprintf(stderr, "fuzz property violated at line %d: %s\n", line, what);
    std::abort();
}
#define require(condition) require_at((condition), #condition, __LINE__)

}  // namespace sluice::fuzz
