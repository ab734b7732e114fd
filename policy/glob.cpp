#include "policy/glob.h"

namespace sluice {

namespace {

constexpr auto npos = std::string_view::npos;

// Reads one (possibly escaped) byte of a class at `i`; advances `i` past it.
char class_byte(std::string_view pattern, size_t& i) {
    if (pattern[i] == '\\' && i + 1 < pattern.size()) ++i;
    return pattern[i++];
}

// Matches `c` against the class opening at pattern[open] == '['. Returns the index just past
// the closing ']', or npos when the class is unterminated.
size_t match_class(std::string_view pattern, size_t open, unsigned char c, bool& matched) {
    size_t i = open + 1;
    bool negate = false;
    if (i < pattern.size() && (pattern[i] == '!' || pattern[i] == '^')) {
        negate = true;
        ++i;
    }
    bool hit = false;
    bool first = true;
    while (i < pattern.size() && (pattern[i] != ']' || first)) {
        first = false;
        auto lo = static_cast<unsigned char>(class_byte(pattern, i));
        auto hi = lo;
        if (i + 1 < pattern.size() && pattern[i] == '-' && pattern[i + 1] != ']') {
            ++i;
            hi = static_cast<unsigned char>(class_byte(pattern, i));
        }
        if (lo <= c && c <= hi) hit = true;
    }
    if (i >= pattern.size()) return npos;
    matched = hit != negate;
    return i + 1;
}

// Matches one non-star element of the pattern at `p` against `c`; sets `next` past it.
bool match_element(std::string_view pattern, size_t p, unsigned char c, size_t& next) {
    char head = pattern[p];
    if (head == '?') {
        next = p + 1;
        return true;
    }
    if (head == '[') {
        bool matched = false;
        size_t end = match_class(pattern, p, c, matched);
        if (end != npos) {
            next = end;
            return matched;
        }
        // Unterminated class: a literal '['.
    }
    if (head == '\\' && p + 1 < pattern.size()) {
        next = p + 2;
        return static_cast<unsigned char>(pattern[p + 1]) == c;
    }
    next = p + 1;
    return static_cast<unsigned char>(head) == c;
}

}  // namespace

std::optional<std::string> glob_error(std::string_view pattern) {
    for (size_t i = 0; i < pattern.size(); ++i) {
        if (pattern[i] == '\\') {
            if (i + 1 == pattern.size())
                return "trailing backslash in glob '" + std::string(pattern) + "'";
            ++i;
        } else if (pattern[i] == '[') {
            bool ignored = false;
            size_t end = match_class(pattern, i, 0, ignored);
            if (end == npos) return "unterminated '[' in glob '" + std::string(pattern) + "'";
            i = end - 1;
        }
    }
    return std::nullopt;
}

bool glob_is_literal(std::string_view pattern) { return pattern.find_first_of("*?[\\") == npos; }

std::string glob_literal_prefix(std::string_view pattern) {
    std::string prefix;
    for (size_t i = 0; i < pattern.size(); ++i) {
        char c = pattern[i];
        if (c == '*' || c == '?' || c == '[') break;
        if (c == '\\' && i + 1 < pattern.size()) c = pattern[++i];
        prefix += c;
    }
    return prefix;
}

bool glob_match(std::string_view pattern, std::string_view text) {
    // Greedy with one backtrack point: the last star. Linear-ish and allocation-free; the
    // classic worst case is O(pattern * text), bounded by our short inputs.
    size_t p = 0;
    size_t t = 0;
    size_t star_p = npos;
    size_t star_t = 0;
    while (t < text.size()) {
        if (p < pattern.size() && pattern[p] == '*') {
            while (p < pattern.size() && pattern[p] == '*') ++p;
            star_p = p;
            star_t = t;
            continue;
        }
        size_t next = 0;
        if (p < pattern.size() &&
            match_element(pattern, p, static_cast<unsigned char>(text[t]), next)) {
            p = next;
            ++t;
            continue;
        }
        if (star_p == npos) return false;
        p = star_p;
        t = ++star_t;
    }
    while (p < pattern.size() && pattern[p] == '*') ++p;
    return p == pattern.size();
}

}  // namespace sluice
