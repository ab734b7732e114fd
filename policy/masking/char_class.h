// ASCII character classes used by the recognizers; locale-independent and branch-cheap.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace sluice::masking {

constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }
constexpr bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
constexpr bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
constexpr bool is_alpha(char c) { return is_upper(c) || is_lower(c); }

// The wider classes by table: one load instead of a chain of compares in the extractors'
// inner loops.
namespace char_class_bits {
enum : uint8_t {
    alnum = 1,
    hex = 2,
    b64url = 4,
    b64 = 8,
    email_local = 16,
    domain = 32,
    phone = 64,
};

constexpr std::array<uint8_t, 256> make_table() {
    std::array<uint8_t, 256> t{};
    for (int i = 0; i < 256; ++i) {
        const char c = static_cast<char>(i);
        const bool an = is_digit(c) || is_alpha(c);
        uint8_t bits = 0;
        if (an) bits |= alnum | b64url | b64 | email_local | domain;
        if (is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) bits |= hex;
        if (c == '-' || c == '_') bits |= b64url;
        if (c == '+' || c == '/') bits |= b64;
        if (c == '.' || c == '_' || c == '%' || c == '+' || c == '-') bits |= email_local;
        if (c == '.' || c == '-') bits |= domain;
        if (is_digit(c) || c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '+')
            bits |= phone;
        t[static_cast<std::size_t>(i)] = bits;
    }
    return t;
}

inline constexpr std::array<uint8_t, 256> kTable = make_table();

constexpr bool has(char c, uint8_t bit) {
    return (kTable[static_cast<unsigned char>(c)] & bit) != 0;
}
}  // namespace char_class_bits

constexpr bool is_alnum(char c) { return char_class_bits::has(c, char_class_bits::alnum); }
constexpr bool is_hex(char c) { return char_class_bits::has(c, char_class_bits::hex); }
constexpr bool is_b64url(char c) { return char_class_bits::has(c, char_class_bits::b64url); }
constexpr bool is_b64(char c) { return char_class_bits::has(c, char_class_bits::b64); }
constexpr bool is_email_local(char c) {
    return char_class_bits::has(c, char_class_bits::email_local);
}
constexpr bool is_domain(char c) { return char_class_bits::has(c, char_class_bits::domain); }
constexpr bool is_phone(char c) { return char_class_bits::has(c, char_class_bits::phone); }

// Token alphabets: AWS access key ids, word characters (GitHub fine-grained tokens), Slack.
constexpr bool is_aws_id_char(char c) { return is_upper(c) || is_digit(c); }
constexpr bool is_word(char c) { return is_alnum(c) || c == '_'; }
constexpr bool is_slack_char(char c) { return is_alnum(c) || c == '-'; }

// Well-formed UTF-8 as RFC 3629 defines it.
inline bool valid_utf8(const char* data, unsigned long size) {
    unsigned long i = 0;
    while (i < size) {
        // ASCII, the usual case, 8 bytes at a time.
        if (i + 8 <= size) {
            uint64_t v;
            std::memcpy(&v, data + i, 8);
            if ((v & 0x8080808080808080ull) == 0) {
                i += 8;
                continue;
            }
        }
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
