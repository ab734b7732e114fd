#include "policy/masking/simd_scanner.h"

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace sluice::masking {

namespace {

// Bit i of each mask describes byte i of a 64-byte block. `run`: the characters of a phone
// number (digits and " ()+-."), the class every number-shaped entity is written in. `secret`:
// where the word "secret" (any case) starts.
struct Masks {
    uint64_t digit = 0, sep = 0, dot = 0, upper = 0, run = 0, secret = 0;
};

// Bytes past a block that the classifiers read (the rest of "secret").
constexpr std::size_t kLookAhead = 5;

// Classifies `blocks` whole 64-byte blocks from `p` into `out`, one implementation per
// instruction set (AVX-512BW, AVX2, SSE2; picked once at start-up). Reads kLookAhead bytes
// past the last block.
using ClassifyBlocks = void (*)(const char* p, std::size_t blocks, Masks* out);

inline uint64_t movemask16(__m128i v) { return static_cast<uint16_t>(_mm_movemask_epi8(v)); }

void classify_sse2(const char* p, std::size_t blocks, Masks* out) {
    const __m128i bias = _mm_set1_epi8(static_cast<char>(0x80));
    const __m128i zero_lo = _mm_set1_epi8(static_cast<char>('0' ^ 0x80) - 1);
    const __m128i nine_hi = _mm_set1_epi8(static_cast<char>('9' ^ 0x80) + 1);
    const __m128i a_lo = _mm_set1_epi8(static_cast<char>('A' ^ 0x80) - 1);
    const __m128i z_hi = _mm_set1_epi8(static_cast<char>('Z' ^ 0x80) + 1);
    const __m128i case_bit = _mm_set1_epi8(0x20);
    auto letter_at = [&](const char* q, char lower) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
        return _mm_cmpeq_epi8(_mm_or_si128(v, case_bit), _mm_set1_epi8(lower));
    };
    for (std::size_t b = 0; b < blocks; ++b, p += 64) {
        Masks m;
        for (int k = 0; k < 4; ++k) {
            const char* q = p + 16 * k;
            const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
            const __m128i x = _mm_xor_si128(raw, bias);  // signed compares on unsigned bytes
            const __m128i digit =
                _mm_and_si128(_mm_cmpgt_epi8(x, zero_lo), _mm_cmplt_epi8(x, nine_hi));
            const __m128i upper = _mm_and_si128(_mm_cmpgt_epi8(x, a_lo), _mm_cmplt_epi8(x, z_hi));
            const __m128i dot = _mm_cmpeq_epi8(raw, _mm_set1_epi8('.'));
            __m128i sep = _mm_or_si128(dot, _mm_cmpeq_epi8(raw, _mm_set1_epi8(' ')));
            sep = _mm_or_si128(sep, _mm_cmpeq_epi8(raw, _mm_set1_epi8('-')));
            sep = _mm_or_si128(sep, _mm_cmpeq_epi8(raw, _mm_set1_epi8(')')));
            __m128i run = _mm_or_si128(sep, digit);
            run = _mm_or_si128(run, _mm_cmpeq_epi8(raw, _mm_set1_epi8('(')));
            run = _mm_or_si128(run, _mm_cmpeq_epi8(raw, _mm_set1_epi8('+')));
            __m128i secret = _mm_and_si128(letter_at(q, 's'), letter_at(q + 1, 'e'));
            secret = _mm_and_si128(secret, _mm_and_si128(letter_at(q + 2, 'c'), letter_at(q + 3, 'r')));
            secret = _mm_and_si128(secret, _mm_and_si128(letter_at(q + 4, 'e'), letter_at(q + 5, 't')));
            m.digit |= movemask16(digit) << (16 * k);
            m.upper |= movemask16(upper) << (16 * k);
            m.sep |= movemask16(sep) << (16 * k);
            m.dot |= movemask16(dot) << (16 * k);
            m.run |= movemask16(run) << (16 * k);
            m.secret |= movemask16(secret) << (16 * k);
        }
        out[b] = m;
    }
}

__attribute__((target("avx2"))) void classify_avx2(const char* p, std::size_t blocks, Masks* out) {
    const __m256i zero = _mm256_set1_epi8('0'), nine = _mm256_set1_epi8(9);
    const __m256i a = _mm256_set1_epi8('A'), z = _mm256_set1_epi8(25);
    const __m256i dot_byte = _mm256_set1_epi8('.'), case_bit = _mm256_set1_epi8(0x20);
    // Separators by table: indexed by a byte's low nibble, the table holds the separator with
    // that nibble (' ' 0x20, ')' 0x29, '-' 0x2D, '.' 0x2E); a byte is one when the lookup gives
    // it back. Bytes >= 0x80 look up 0, which no such byte equals.
    const __m256i separators =
        _mm256_setr_epi8(' ', -1, -1, -1, -1, -1, -1, -1, -1, ')', -1, -1, -1, '-', '.', -1,  //
                         ' ', -1, -1, -1, -1, -1, -1, -1, -1, ')', -1, -1, -1, '-', '.', -1);
    const __m256i punctuation =
        _mm256_setr_epi8(' ', -1, -1, -1, -1, -1, -1, -1, '(', ')', -1, '+', -1, '-', '.', -1,  //
                         ' ', -1, -1, -1, -1, -1, -1, -1, '(', ')', -1, '+', -1, '-', '.', -1);
    auto letter_at = [&](const char* q, char lower) __attribute__((target("avx2"))) {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q));
        return _mm256_cmpeq_epi8(_mm256_or_si256(v, case_bit), _mm256_set1_epi8(lower));
    };
    auto half = [&](const char* q) __attribute__((target("avx2"))) {
        const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q));
        // In range when subtracting the low end leaves at most the width (unsigned min).
        const __m256i d = _mm256_sub_epi8(x, zero), u = _mm256_sub_epi8(x, a);
        const __m256i is_digit = _mm256_cmpeq_epi8(_mm256_min_epu8(d, nine), d);
        __m256i secret = _mm256_and_si256(letter_at(q, 's'), letter_at(q + 1, 'e'));
        secret = _mm256_and_si256(secret, _mm256_and_si256(letter_at(q + 2, 'c'), letter_at(q + 3, 'r')));
        secret = _mm256_and_si256(secret, _mm256_and_si256(letter_at(q + 4, 'e'), letter_at(q + 5, 't')));
        auto bits = [](__m256i v) __attribute__((target("avx2"))) {
            return static_cast<uint64_t>(static_cast<uint32_t>(_mm256_movemask_epi8(v)));
        };
        Masks m;
        m.digit = bits(is_digit);
        m.sep = bits(_mm256_cmpeq_epi8(_mm256_shuffle_epi8(separators, x), x));
        m.dot = bits(_mm256_cmpeq_epi8(x, dot_byte));
        m.upper = bits(_mm256_cmpeq_epi8(_mm256_min_epu8(u, z), u));
        m.run = bits(_mm256_or_si256(is_digit,
                                     _mm256_cmpeq_epi8(_mm256_shuffle_epi8(punctuation, x), x)));
        m.secret = bits(secret);
        return m;
    };
    for (std::size_t b = 0; b < blocks; ++b, p += 64) {
        const Masks lo = half(p), hi = half(p + 32);
        out[b] = {lo.digit | hi.digit << 32, lo.sep | hi.sep << 32,  lo.dot | hi.dot << 32,
                  lo.upper | hi.upper << 32, lo.run | hi.run << 32, lo.secret | hi.secret << 32};
    }
}

__attribute__((target("avx512f,avx512bw"))) void classify_avx512(const char* p, std::size_t blocks,
                                                                 Masks* out) {
    const __m512i zero = _mm512_set1_epi8('0'), nine = _mm512_set1_epi8(9);
    const __m512i a = _mm512_set1_epi8('A'), z = _mm512_set1_epi8(25);
    const __m512i dot_byte = _mm512_set1_epi8('.'), case_bit = _mm512_set1_epi8(0x20);
    alignas(64) static constexpr char kSeparators[64] = {
        ' ', -1, -1, -1, -1, -1, -1, -1, -1, ')', -1, -1, -1, '-', '.', -1,
        ' ', -1, -1, -1, -1, -1, -1, -1, -1, ')', -1, -1, -1, '-', '.', -1,
        ' ', -1, -1, -1, -1, -1, -1, -1, -1, ')', -1, -1, -1, '-', '.', -1,
        ' ', -1, -1, -1, -1, -1, -1, -1, -1, ')', -1, -1, -1, '-', '.', -1};
    alignas(64) static constexpr char kPunctuation[64] = {
        ' ', -1, -1, -1, -1, -1, -1, -1, '(', ')', -1, '+', -1, '-', '.', -1,
        ' ', -1, -1, -1, -1, -1, -1, -1, '(', ')', -1, '+', -1, '-', '.', -1,
        ' ', -1, -1, -1, -1, -1, -1, -1, '(', ')', -1, '+', -1, '-', '.', -1,
        ' ', -1, -1, -1, -1, -1, -1, -1, '(', ')', -1, '+', -1, '-', '.', -1};
    const __m512i separators = _mm512_load_si512(kSeparators);
    const __m512i punctuation = _mm512_load_si512(kPunctuation);
    for (std::size_t b = 0; b < blocks; ++b, p += 64) {
        const __m512i x = _mm512_loadu_si512(p);
        const uint64_t digit = _mm512_cmple_epu8_mask(_mm512_sub_epi8(x, zero), nine);
        // "secret" in any case: each letter compared with the case bit set, one byte further on.
        __mmask64 secret = _mm512_cmpeq_epi8_mask(_mm512_or_si512(x, case_bit), _mm512_set1_epi8('s'));
        int k = 1;
        for (char letter : {'e', 'c', 'r', 'e', 't'})
            secret = _mm512_mask_cmpeq_epi8_mask(
                secret, _mm512_or_si512(_mm512_loadu_si512(p + k++), case_bit),
                _mm512_set1_epi8(letter));
        out[b] = {digit,
                  _mm512_cmpeq_epi8_mask(_mm512_shuffle_epi8(separators, x), x),
                  _mm512_cmpeq_epi8_mask(x, dot_byte),
                  _mm512_cmple_epu8_mask(_mm512_sub_epi8(x, a), z),
                  digit | _mm512_cmpeq_epi8_mask(_mm512_shuffle_epi8(punctuation, x), x),
                  secret};
    }
}

// Bits of (cur, next) shifted so that bit i means position i + j.
[[gnu::always_inline]] inline uint64_t ahead(uint64_t cur, uint64_t next, int j) {
    return j == 0 ? cur : (cur >> j) | (next << (64 - j));
}

// Digits in the `width`-bit window centred on bit `bit` of `cur` (bits of `prev` and `next`
// continue it either side); `width` <= 64, even.
// The 64 bits of prev|cur|next centred on bit `bit` of `cur`: bit 32 of the result is it.
[[gnu::always_inline]] inline uint64_t window(uint64_t prev, uint64_t cur, uint64_t next, int bit) {
    const uint64_t words[3] = {prev, cur, next};
    const int start = 32 + bit;  // in the 192-bit string
    const int word = start / 64, offset = start % 64;
    uint64_t bits = words[word] >> offset;
    if (offset && word < 2) bits |= words[word + 1] << (64 - offset);
    return bits;
}

// Bits [from, to) set.
[[gnu::always_inline]] inline uint64_t span_bits(int from, int to) {
    const uint64_t below_to = to >= 64 ? ~uint64_t{0} : (uint64_t{1} << to) - 1;
    return below_to & ~((uint64_t{1} << from) - 1);
}

// Every number-shaped entity contains one of the structures, is written in phone characters
// (so lies in the run of them through the structure), and has 8 digits within 24 bytes
// (phone, card, SSN) or 4 digits and 3 dots within 15 (IPv4). A structure with less in its run
// nearby is ordinary prose ("v1.2", "2024. 3") and not worth an extractor's look.
struct Around {
    uint64_t digit, dot, run;  // windows (see window()) of the masks
};
[[gnu::always_inline]] inline bool enough_digits(Around a) {
    // The run through bit 32: from after the last non-run bit below it to the first above.
    const uint64_t outside = ~a.run;
    const uint64_t below = outside & span_bits(0, 32), above = outside & span_bits(33, 64);
    const int from = below ? 64 - __builtin_clzll(below) : 0;
    const int to = above ? __builtin_ctzll(above) : 64;
    const uint64_t in_run = span_bits(from, to);
    const uint64_t near15 = in_run & span_bits(32 - 15, 32 + 15);
    return __builtin_popcountll(a.digit & in_run & span_bits(32 - 24, 32 + 24)) >= 8 ||
           (__builtin_popcountll(a.digit & near15) >= 4 &&
            __builtin_popcountll(a.dot & near15) >= 3);
}

// The same necessary condition for a whole block, ignoring runs: a number hit in the block
// has 8 digits within 24 bytes of it, or 4 digits and 3 dots within 15. Prose with a year or a
// version number in it fails this test, which is cheaper than a branch mispredicted half the
// time.
[[gnu::always_inline]] inline bool block_may_hold_number(uint64_t prev_digit, uint64_t digit,
                                                         uint64_t next_digit, uint64_t prev_dot,
                                                         uint64_t dot, uint64_t next_dot) {
    const int digits24 = __builtin_popcountll(prev_digit >> 40) + __builtin_popcountll(digit) +
                         __builtin_popcountll(next_digit << 40);
    const int digits15 = __builtin_popcountll(prev_digit >> 49) + __builtin_popcountll(digit) +
                         __builtin_popcountll(next_digit << 49);
    const int dots15 = __builtin_popcountll(prev_dot >> 49) + __builtin_popcountll(dot) +
                       __builtin_popcountll(next_dot << 49);
    return digits24 >= 8 || (digits15 >= 4 && dots15 >= 3);
}

// Blocks classified per round: the masks stay in L1.
constexpr std::size_t kRoundBlocks = 64;

// Classifies blocks [first, last) of `text`. Blocks followed by kLookAhead more bytes of text
// are read in place; the last one or two from a zero-padded copy.
template <ClassifyBlocks kClassify>
[[gnu::always_inline]] inline void classify_range(std::string_view text, std::size_t first,
                                                  std::size_t last, Masks* out) {
    const std::size_t in_place =
        text.size() >= kLookAhead ? std::min(last, (text.size() - kLookAhead) / 64) : 0;
    if (in_place > first) kClassify(text.data() + first * 64, in_place - first, out);
    const std::size_t from = std::max(first, in_place);
    if (last > from) {
        alignas(64) char padded[3 * 64] = {};  // < 64 + kLookAhead bytes of text are left
        std::memcpy(padded, text.data() + from * 64, text.size() - from * 64);
        kClassify(padded, last - from, out + (from - first));
    }
}

// The scan, compiled once per instruction set (below) so the bit logic gets the CPU's popcnt.
template <ClassifyBlocks kClassify>
[[gnu::always_inline]] inline void scan_with(std::string_view text, std::vector<ScanHit>& out) {
    const std::size_t n = text.size();
    if (n < 4) return;
    const std::size_t blocks = (n + 63) / 64;
    Masks masks[kRoundBlocks + 1];
    Masks carried;  // the block before this round
    for (std::size_t first = 0; first < blocks; first += kRoundBlocks) {
        const std::size_t last = std::min(blocks, first + kRoundBlocks);
        // One block of look-ahead: structures may cross into the next block.
        const std::size_t classified = std::min(blocks, last + 1);
        classify_range<kClassify>(text, first, classified, masks);
        for (std::size_t b = first; b < last; ++b) {
            const Masks& cur = masks[b - first];
            const Masks& prev = b > first ? masks[b - first - 1] : carried;
            const Masks next = b + 1 < classified ? masks[b + 1 - first] : Masks{};
            const uint64_t d = cur.digit;
            const uint64_t d1 = ahead(d, next.digit, 1), d2 = ahead(d, next.digit, 2),
                           d3 = ahead(d, next.digit, 3);
            const uint64_t s1 = ahead(cur.sep, next.sep, 1), s2 = ahead(cur.sep, next.sep, 2);
            // Eight digits in a row, reported where the run starts only: an entity cannot
            // begin inside a longer run of digits, and the extractor looks at the whole run.
            uint64_t run8 = d & d1 & d2 & d3 & ~(d << 1 | prev.digit >> 63);
            run8 &= ahead(d, next.digit, 4) & ahead(d, next.digit, 5) & ahead(d, next.digit, 6) &
                    ahead(d, next.digit, 7);
            uint64_t numeric = (d & s1 & (d2 | (s2 & d3))) | run8;
            if (!block_may_hold_number(prev.digit, d, next.digit, prev.dot, cur.dot, next.dot))
                numeric = 0;
            const uint64_t iban = cur.upper & ahead(cur.upper, next.upper, 1) & d2 & d3;
            uint64_t any = numeric | iban | cur.secret;  // disjoint: a digit, a capital, an s
            while (any) {
                const int bit = __builtin_ctzll(any);
                any &= any - 1;
                const std::size_t pos = b * 64 + static_cast<std::size_t>(bit);
                if (pos >= n) break;
                if ((cur.secret >> bit) & 1) {
                    out.push_back({pos, ScanKind::secret_word});
                } else if ((iban >> bit) & 1) {
                    out.push_back({pos, ScanKind::iban});
                } else if (enough_digits({window(prev.digit, d, next.digit, bit),
                                          window(prev.dot, cur.dot, next.dot, bit),
                                          window(prev.run, cur.run, next.run, bit)})) {
                    out.push_back({pos, ScanKind::number});
                }
            }
        }
        carried = masks[last - 1 - first];
    }
}

__attribute__((target("avx512f,avx512bw,avx2,popcnt,bmi"))) void scan_avx512(
    std::string_view text, std::vector<ScanHit>& out) {
    scan_with<classify_avx512>(text, out);
}

__attribute__((target("avx2,popcnt,bmi"))) void scan_avx2(std::string_view text,
                                                          std::vector<ScanHit>& out) {
    scan_with<classify_avx2>(text, out);
}

void scan_sse2(std::string_view text, std::vector<ScanHit>& out) {
    scan_with<classify_sse2>(text, out);
}

using Scan = void (*)(std::string_view, std::vector<ScanHit>&);

Scan scan_for(ScanIsa isa) {
    const bool base = __builtin_cpu_supports("popcnt") && __builtin_cpu_supports("bmi");
    switch (isa) {
        case ScanIsa::avx512:
            return base && __builtin_cpu_supports("avx512bw") ? scan_avx512 : nullptr;
        case ScanIsa::avx2:
            return base && __builtin_cpu_supports("avx2") ? scan_avx2 : nullptr;
        case ScanIsa::sse2:
            return scan_sse2;
    }
    return nullptr;
}

const Scan kScan = [] {
    for (auto isa : {ScanIsa::avx512, ScanIsa::avx2})
        if (Scan scan = scan_for(isa)) return scan;
    return scan_for(ScanIsa::sse2);
}();

}  // namespace

void simd_scan(std::string_view text, std::vector<ScanHit>& out) { kScan(text, out); }

bool simd_scan(std::string_view text, std::vector<ScanHit>& out, ScanIsa isa) {
    const Scan scan = scan_for(isa);
    if (!scan) return false;
    scan(text, out);
    return true;
}

}  // namespace sluice::masking
