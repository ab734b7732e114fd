// ASCII case folding for names the protocol treats without regard to case (HTTP methods and
// paths as policy matches them, DNS names). Locale-free on purpose: std::tolower follows the
// process locale.
#pragma once

#include <string>
#include <string_view>

namespace sluice {

inline std::string ascii_lower(std::string_view text) {
    std::string out(text);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

}  // namespace sluice
