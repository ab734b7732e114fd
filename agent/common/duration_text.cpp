#include "agent/common/duration_text.h"

#include <cctype>
#include <cstdint>

namespace sluice {

std::optional<std::chrono::seconds> parse_duration(std::string_view text) {
    constexpr int64_t kMaxSeconds = 366LL * 86400;
    if (text.empty()) return std::nullopt;
    int64_t total = 0;
    std::size_t i = 0;
    while (i < text.size()) {
        int64_t value = 0;
        std::size_t digits = 0;
        for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]));
             ++i, ++digits) {
            value = value * 10 + (text[i] - '0');
            if (value > kMaxSeconds) return std::nullopt;
        }
        if (digits == 0 || i == text.size()) return std::nullopt;
        const char unit = text[i++];
        const int64_t scale = unit == 's'   ? 1
                              : unit == 'm' ? 60
                              : unit == 'h' ? 3600
                              : unit == 'd' ? 86400
                                            : 0;
        if (scale == 0) return std::nullopt;
        total += value * scale;
        if (total > kMaxSeconds) return std::nullopt;
    }
    if (total < 1) return std::nullopt;
    return std::chrono::seconds(total);
}

}  // namespace sluice
