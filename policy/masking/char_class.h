// ASCII character classes used by the recognizers; locale-independent and branch-cheap.
#pragma once

namespace sluice::masking {

constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }
constexpr bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
constexpr bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
constexpr bool is_alpha(char c) { return is_upper(c) || is_lower(c); }
constexpr bool is_alnum(char c) { return is_digit(c) || is_alpha(c); }
constexpr bool is_hex(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
constexpr bool is_b64url(char c) { return is_alnum(c) || c == '-' || c == '_'; }
constexpr bool is_b64(char c) { return is_alnum(c) || c == '+' || c == '/'; }
constexpr bool is_email_local(char c) {
    return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}
constexpr bool is_domain(char c) { return is_alnum(c) || c == '.' || c == '-'; }
constexpr bool is_phone(char c) {
    return is_digit(c) || c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '+';
}

// Well-formed UTF-8 as RFC 3629 defines it.
inline bool valid_utf8(const char* data, unsigned long size) {
    unsigned long i = 0;
    while (i < size) {
        const auto c = static_cast<unsigned char>(data[i]);
        unsigned long n = c < 0x80         ? 1
                          : (c >> 5) == 6  ? 2
                          : (c >> 4) == 14 ? 3
                          : (c >> 3) == 30 ? 4
                                           : 0;
        if (n == 0 || i + n > size || (n == 2 && c < 0xC2) || c > 0xF4) return false;
        for (unsigned long k = 1; k < n; ++k)
            if ((static_cast<unsigned char>(data[i + k]) & 0xC0) != 0x80) return false;
        // No overlong forms, no surrogates, nothing above U+10FFFF (RFC 3629 §4).
        const auto c1 = static_cast<unsigned char>(n > 1 ? data[i + 1] : 0);
        if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 > 0x9F) || (c == 0xF0 && c1 < 0x90) ||
            (c == 0xF4 && c1 > 0x8F))
            return false;
        i += n;
    }
    return true;
}

}  // namespace sluice::masking
