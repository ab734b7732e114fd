// Checks shared by the fuzz targets: what every output must be, whatever the input.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "policy/masking/char_class.h"

namespace sluice::fuzz {

inline bool valid_utf8(std::string_view s) { return masking::valid_utf8(s.data(), s.size()); }

// libFuzzer reports an abort as a crash with the input that caused it; the line says which
// property broke.
inline void require_at(bool condition, const char* what, int line) {
    if (condition) return;
    std::fprintf(stderr, "fuzz property violated at line %d: %s\n", line, what);
    std::abort();
}
#define require(condition) require_at((condition), #condition, __LINE__)

}  // namespace sluice::fuzz
