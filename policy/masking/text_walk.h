// Reading around a position in a text without running off either end: what every extractor
// and confirm step does to find where a candidate begins and ends.
#pragma once

#include <cstddef>
#include <string_view>

namespace sluice::masking {

// The character at `i`, or '\0' past the end.
inline char at(std::string_view text, std::size_t i) { return i < text.size() ? text[i] : '\0'; }
// The character before `i`, or '\0' at the start.
inline char before(std::string_view text, std::size_t i) { return i > 0 ? text[i - 1] : '\0'; }

// Start of the run of chars satisfying `pred` that ends at `end` (exclusive), looking back at
// most `cap` chars.
template <typename Pred>
std::size_t run_left(std::string_view text, std::size_t end, std::size_t cap, Pred pred) {
    std::size_t i = end;
    while (i > 0 && end - i < cap && pred(text[i - 1])) --i;
    return i;
}

// End of the run of chars satisfying `pred` that starts at `begin`, at most `cap` chars long.
template <typename Pred>
std::size_t run_right(std::string_view text, std::size_t begin, std::size_t cap, Pred pred) {
    std::size_t i = begin;
    while (i < text.size() && i - begin < cap && pred(text[i])) ++i;
    return i;
}

}  // namespace sluice::masking
