// ASCII case folding for names the protocol treats without regard to case (HTTP methods and
// paths as policy matches them, DNS names). Locale-free on purpose: std::tolower follows the
// process locale.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sluice {

inline char ascii_lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// Not boost::beast::iequals: Boost 1.74's reads one byte past the end of both strings once a
// character differs in case (the fuzzer found it through a request target; fixed upstream later).
inline bool ascii_iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    return true;
}

inline std::string ascii_lower(std::string_view text) {
    std::string out(text);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

}  // namespace sluice
