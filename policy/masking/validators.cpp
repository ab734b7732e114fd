#include "policy/masking/validators.h"

#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <cstring>

#include "policy/masking/char_class.h"

namespace sluice::masking {

bool luhn_valid(std::string_view text) {
    int sum = 0;
    int count = 0;
    for (auto it = text.rbegin(); it != text.rend(); ++it) {
        if (!is_digit(*it)) continue;
        int d = *it - '0';
        if (count++ % 2 == 1) {
            d *= 2;
            if (d > 9) d -= 9;
        }
        sum += d;
    }
    return count > 0 && sum % 10 == 0;
}

bool card_issuer_valid(std::string_view digits) {
    const std::size_t n = digits.size();
    if (n < 13 || n > 19) return false;
    auto prefix = [&](std::size_t len) {
        int v = 0;
        for (std::size_t i = 0; i < len; ++i) v = v * 10 + (digits[i] - '0');
        return v;
    };
    const int p1 = prefix(1), p2 = prefix(2), p3 = prefix(3), p4 = prefix(4), p6 = prefix(6);
    if (p1 == 4) return n == 13 || n == 16 || n == 19;                         // Visa
    if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return n == 16;  // Mastercard
    if (p2 == 34 || p2 == 37) return n == 15;                                  // Amex
    if (p4 == 6011 || p2 == 65 || (p3 >= 644 && p3 <= 649) || (p6 >= 622126 && p6 <= 622925))
        return n >= 16;                                                                // Discover
    if (p4 >= 3528 && p4 <= 3589) return n >= 16;                                      // JCB
    if ((p3 >= 300 && p3 <= 305) || p2 == 36 || p2 == 38 || p2 == 39) return n >= 14;  // Diners
    if (p2 == 62) return n >= 16;                                                      // UnionPay
    if (p2 == 50 || (p2 >= 56 && p2 <= 69)) return n >= 12;                            // Maestro
    return false;
}

namespace {

// Registered IBAN lengths (SWIFT IBAN registry).
struct IbanCountry {
    char code[3];
    uint8_t length;
};
constexpr IbanCountry kIbanCountries[] = {
    {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16}, {"BG", 22},
    {"BH", 22}, {"BI", 27}, {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22}, {"CY", 28}, {"CZ", 24},
    {"DE", 22}, {"DJ", 27}, {"DK", 18}, {"DO", 28}, {"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18},
    {"FK", 18}, {"FO", 18}, {"FR", 27}, {"GB", 22}, {"GE", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27},
    {"GT", 28}, {"HR", 21}, {"HU", 28}, {"IE", 22}, {"IL", 23}, {"IQ", 23}, {"IS", 26}, {"IT", 27},
    {"JO", 30}, {"KW", 30}, {"KZ", 20}, {"LB", 28}, {"LC", 32}, {"LI", 21}, {"LT", 20}, {"LU", 20},
    {"LV", 21}, {"LY", 25}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MK", 19}, {"MN", 20}, {"MR", 27},
    {"MT", 31}, {"MU", 30}, {"NI", 28}, {"NL", 18}, {"NO", 15}, {"OM", 23}, {"PK", 24}, {"PL", 28},
    {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"RU", 33}, {"SA", 24}, {"SC", 31},
    {"SD", 18}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27}, {"SO", 23}, {"ST", 25}, {"SV", 28},
    {"TL", 23}, {"TN", 24}, {"TR", 26}, {"UA", 29}, {"VA", 22}, {"VG", 24}, {"XK", 20},
};

// The same as a table indexed by the two capitals (0: no such country).
constexpr auto kIbanLengthByCode = [] {
    std::array<uint8_t, 26 * 26> lengths{};
    for (const auto& c : kIbanCountries)
        lengths[(c.code[0] - 'A') * 26 + (c.code[1] - 'A')] = c.length;
    return lengths;
}();

}  // namespace

int iban_length(std::string_view country) {
    if (country.size() != 2 || !is_upper(country[0]) || !is_upper(country[1])) return 0;
    return kIbanLengthByCode[static_cast<std::size_t>((country[0] - 'A') * 26 +
                                                      (country[1] - 'A'))];
}

bool iban_valid(std::string_view compact) {
    if (compact.size() < 15 || compact.size() > 34) return false;
    if (iban_length(compact.substr(0, 2)) != static_cast<int>(compact.size())) return false;
    if (!is_digit(compact[2]) || !is_digit(compact[3])) return false;
    // Move the first four characters to the end, letters → 10..35, remainder mod 97.
    uint32_t rem = 0;
    for (const std::string_view part : {compact.substr(4), compact.substr(0, 4)}) {
        for (const char c : part) {
            if (is_digit(c)) {
                rem = (rem * 10 + static_cast<uint32_t>(c - '0')) % 97;
            } else if (c >= 'A' && c <= 'Z') {
                rem = (rem * 100 + static_cast<uint32_t>(c - 'A' + 10)) % 97;
            } else {
                return false;
            }
        }
    }
    return rem == 1;
}

bool ssn_valid(std::string_view d) {
    if (d.size() != 9) return false;
    for (char c : d)
        if (!is_digit(c)) return false;
    const bool area_bad = d.substr(0, 3) == "000" || d.substr(0, 3) == "666" || d[0] == '9';
    return !area_bad && d.substr(3, 2) != "00" && d.substr(5, 4) != "0000";
}

bool ipv4_valid(std::string_view text) {
    int parts = 0;
    std::size_t i = 0;
    while (true) {
        std::size_t start = i;
        int value = 0;
        while (i < text.size() && is_digit(text[i]) && i - start < 3)
            value = value * 10 + (text[i++] - '0');
        const std::size_t len = i - start;
        if (len == 0 || value > 255 || (len > 1 && text[start] == '0')) return false;
        ++parts;
        if (i == text.size()) break;
        if (text[i] != '.' || parts == 4) return false;
        ++i;
    }
    return parts == 4;
}

bool ipv6_valid(std::string_view text) {
    if (text.size() < 3 || text.size() > 45) return false;
    int hex = 0;
    for (char c : text) hex += is_hex(c) ? 1 : 0;
    if (hex < 3) return false;
    char buf[46];
    std::memcpy(buf, text.data(), text.size());
    buf[text.size()] = '\0';
    unsigned char out[16];
    return inet_pton(AF_INET6, buf, out) == 1;
}

}  // namespace sluice::masking
