#include "policy/realtime/realtime_event_type.h"

#include <cstddef>

namespace sluice::realtime {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// `at` on an opening quote: past the closing one; npos when unterminated. `escaped` says whether
// the string held a backslash.
std::size_t skip_string(std::string_view text, std::size_t at, bool& escaped) {
    escaped = false;
    for (std::size_t i = at + 1; i < text.size(); ++i) {
        if (text[i] == '\\') {
            escaped = true;
            ++i;
        } else if (text[i] == '"') {
            return i + 1;
        }
    }
    return std::string_view::npos;
}

}  // namespace

std::string_view event_type(std::string_view text) {
    std::size_t i = 0;
    while (i < text.size() && is_space(text[i])) ++i;
    if (i >= text.size() || text[i] != '{') return {};
    ++i;
    int depth = 0;  // nesting below the top-level object
    bool expect_key = true;
    while (i < text.size()) {
        const char c = text[i];
        if (c == '"') {
            bool escaped = false;
            const std::size_t end = skip_string(text, i, escaped);
            if (end == std::string_view::npos) return {};
            if (depth == 0 && expect_key && !escaped && text.substr(i, end - i) == "\"type\"") {
                std::size_t v = end;
                while (v < text.size() && is_space(text[v])) ++v;
                if (v >= text.size() || text[v] != ':') return {};
                ++v;
                while (v < text.size() && is_space(text[v])) ++v;
                if (v >= text.size() || text[v] != '"') return {};
                const std::size_t value_end = skip_string(text, v, escaped);
                if (value_end == std::string_view::npos || escaped) return {};
                return text.substr(v + 1, value_end - v - 2);
            }
            if (depth == 0) expect_key = false;
            i = end;
            continue;
        }
        if (c == '{' || c == '[') {
            ++depth;
        } else if (c == '}' || c == ']') {
            if (depth == 0) return {};
            --depth;
        } else if (c == ',' && depth == 0) {
            expect_key = true;
        }
        ++i;
    }
    return {};
}

bool is_audio_event(std::string_view type) {
    return type == "input_audio_buffer.append" || type.ends_with("audio.delta");
}

}  // namespace sluice::realtime
