#include "policy/masking/digit_scanner.h"

#include <emmintrin.h>

#include <cstdint>
#include <cstring>

namespace sluice::masking {

namespace {

struct Masks {
    uint64_t digit = 0, sep = 0, upper = 0;
};

inline uint64_t movemask16(__m128i v) { return static_cast<uint16_t>(_mm_movemask_epi8(v)); }

// Bit i of each mask describes block[i]; `n` < 64 bytes are zero-padded.
Masks classify(const char* block, std::size_t n) {
    alignas(16) char buf[64];
    const char* p = block;
    if (n < 64) {
        std::memset(buf, 0, sizeof buf);
        std::memcpy(buf, block, n);
        p = buf;
    }
    Masks m;
    const __m128i bias = _mm_set1_epi8(static_cast<char>(0x80));
    const __m128i zero_lo = _mm_set1_epi8(static_cast<char>('0' ^ 0x80) - 1);
    const __m128i nine_hi = _mm_set1_epi8(static_cast<char>('9' ^ 0x80) + 1);
    const __m128i a_lo = _mm_set1_epi8(static_cast<char>('A' ^ 0x80) - 1);
    const __m128i z_hi = _mm_set1_epi8(static_cast<char>('Z' ^ 0x80) + 1);
    for (int k = 0; k < 4; ++k) {
        const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k));
        const __m128i x = _mm_xor_si128(raw, bias);  // signed compares on unsigned bytes
        const __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(x, zero_lo), _mm_cmplt_epi8(x, nine_hi));
        const __m128i upper = _mm_and_si128(_mm_cmpgt_epi8(x, a_lo), _mm_cmplt_epi8(x, z_hi));
        __m128i sep = _mm_cmpeq_epi8(raw, _mm_set1_epi8(' '));
        sep = _mm_or_si128(sep, _mm_cmpeq_epi8(raw, _mm_set1_epi8('-')));
        sep = _mm_or_si128(sep, _mm_cmpeq_epi8(raw, _mm_set1_epi8('.')));
        sep = _mm_or_si128(sep, _mm_cmpeq_epi8(raw, _mm_set1_epi8(')')));
        m.digit |= movemask16(digit) << (16 * k);
        m.upper |= movemask16(upper) << (16 * k);
        m.sep |= movemask16(sep) << (16 * k);
    }
    return m;
}

// Bits of (cur, next) shifted so that bit i means position i + j.
inline uint64_t ahead(uint64_t cur, uint64_t next, int j) {
    return j == 0 ? cur : (cur >> j) | (next << (64 - j));
}

}  // namespace

void scan_digit_candidates(std::string_view text, std::vector<DigitCandidate>& out) {
    const std::size_t n = text.size();
    if (n < 4) return;
    Masks cur = classify(text.data(), std::min<std::size_t>(64, n));
    for (std::size_t base = 0; base < n; base += 64) {
        const Masks next = base + 64 < n ? classify(text.data() + base + 64,
                                                    std::min<std::size_t>(64, n - base - 64))
                                         : Masks{};
        const uint64_t d = cur.digit, s = cur.sep;
        const uint64_t d1 = ahead(d, next.digit, 1), d2 = ahead(d, next.digit, 2);
        const uint64_t d3 = ahead(d, next.digit, 3);
        const uint64_t s1 = ahead(s, next.sep, 1), s2 = ahead(s, next.sep, 2);
        uint64_t run8 = d & d1 & d2 & d3;
        run8 &= ahead(d, next.digit, 4) & ahead(d, next.digit, 5) & ahead(d, next.digit, 6) &
                ahead(d, next.digit, 7);
        const uint64_t numeric = (d & s1 & d2) | (d & s1 & s2 & d3) | run8;
        const uint64_t iban = cur.upper & ahead(cur.upper, next.upper, 1) & d2 & d3;
        uint64_t any = numeric | iban;
        while (any) {
            const int bit = __builtin_ctzll(any);
            any &= any - 1;
            const std::size_t pos = base + static_cast<std::size_t>(bit);
            if (pos >= n) break;
            out.push_back({pos, ((iban >> bit) & 1) != 0});
        }
        cur = next;
    }
}

}  // namespace sluice::masking
