#include "policy/masking/simd_scanner.h"

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "policy/masking/extractors.h"

namespace sluice::masking {

namespace {

// Blocks per round: a round's masks stay in L1.
constexpr std::size_t kRoundBlocks = 64;
// Slot 0 holds the block before the round, slots 1..n its n blocks, n + 1 the block after it;
// the slots past that stay zero, so that eight slots can always be read at once.
constexpr std::size_t kSlots = kRoundBlocks + 2 + 8;

// The class masks of one 64-byte block: bit i describes byte i. `run`: the characters of a
// phone number (digits and " ()+-."), the class every number-shaped entity is written in.
// `s`, `c`, `t`: those letters in any case, the three of "secret" that are rare together.
struct Masks {
    uint64_t digit = 0, sep = 0, dot = 0, upper = 0, run = 0, s = 0, c = 0, t = 0;
};

// A round's masks, one array per class (so eight blocks' masks load as one vector).
struct Classes {
    alignas(64) uint64_t digit[kSlots], sep[kSlots], dot[kSlots], upper[kSlots], run[kSlots],
        s[kSlots], c[kSlots], t[kSlots];

    [[gnu::always_inline]] void store(std::size_t slot, const Masks& m) {
        digit[slot] = m.digit, sep[slot] = m.sep, dot[slot] = m.dot, upper[slot] = m.upper;
        run[slot] = m.run, s[slot] = m.s, c[slot] = m.c, t[slot] = m.t;
    }
    [[gnu::always_inline]] void copy(std::size_t to, std::size_t from) {
        for (uint64_t* mask : {digit, sep, dot, upper, run, s, c, t}) mask[to] = mask[from];
    }
    void clear(std::size_t from) {
        for (uint64_t* mask : {digit, sep, dot, upper, run, s, c, t})
            std::fill(mask + from, mask + kSlots, 0);
    }
};

// Classifies `blocks` whole 64-byte blocks from `p` into slots `slot`, `slot` + 1, ... of
// `out`; one implementation per instruction set (AVX-512BW, AVX2, SSE2; picked at start-up).
using ClassifyBlocks = void (*)(const char* p, std::size_t blocks, Classes& out, std::size_t slot);

inline uint64_t movemask16(__m128i v) { return static_cast<uint16_t>(_mm_movemask_epi8(v)); }

void classify_sse2(const char* p, std::size_t blocks, Classes& out, std::size_t slot) {
    const __m128i bias = _mm_set1_epi8(static_cast<char>(0x80));
    const __m128i zero_lo = _mm_set1_epi8(static_cast<char>('0' ^ 0x80) - 1);
    const __m128i nine_hi = _mm_set1_epi8(static_cast<char>('9' ^ 0x80) + 1);
    const __m128i a_lo = _mm_set1_epi8(static_cast<char>('A' ^ 0x80) - 1);
    const __m128i z_hi = _mm_set1_epi8(static_cast<char>('Z' ^ 0x80) + 1);
    const __m128i case_bit = _mm_set1_epi8(0x20);
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
            const __m128i lower = _mm_or_si128(raw, case_bit);
            m.digit |= movemask16(digit) << (16 * k);
            m.upper |= movemask16(upper) << (16 * k);
            m.sep |= movemask16(sep) << (16 * k);
            m.dot |= movemask16(dot) << (16 * k);
            m.run |= movemask16(run) << (16 * k);
            m.s |= movemask16(_mm_cmpeq_epi8(lower, _mm_set1_epi8('s'))) << (16 * k);
            m.c |= movemask16(_mm_cmpeq_epi8(lower, _mm_set1_epi8('c'))) << (16 * k);
            m.t |= movemask16(_mm_cmpeq_epi8(lower, _mm_set1_epi8('t'))) << (16 * k);
        }
        out.store(slot + b, m);
    }
}

__attribute__((target("avx2"))) void classify_avx2(const char* p, std::size_t blocks, Classes& out,
                                                   std::size_t slot) {
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
    auto half = [&](const char* q) __attribute__((target("avx2"))) {
        const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q));
        // In range when subtracting the low end leaves at most the width (unsigned min).
        const __m256i d = _mm256_sub_epi8(x, zero), u = _mm256_sub_epi8(x, a);
        const __m256i is_digit = _mm256_cmpeq_epi8(_mm256_min_epu8(d, nine), d);
        const __m256i lower = _mm256_or_si256(x, case_bit);
        auto bits = [](__m256i v) __attribute__((target("avx2"))) {
            return static_cast<uint64_t>(static_cast<uint32_t>(_mm256_movemask_epi8(v)));
        };
        Masks m;
        m.digit = bits(is_digit);
        m.sep = bits(_mm256_cmpeq_epi8(_mm256_shuffle_epi8(separators, x), x));
        m.dot = bits(_mm256_cmpeq_epi8(x, dot_byte));
        m.upper = bits(_mm256_cmpeq_epi8(_mm256_min_epu8(u, z), u));
        m.run = bits(
            _mm256_or_si256(is_digit, _mm256_cmpeq_epi8(_mm256_shuffle_epi8(punctuation, x), x)));
        m.s = bits(_mm256_cmpeq_epi8(lower, _mm256_set1_epi8('s')));
        m.c = bits(_mm256_cmpeq_epi8(lower, _mm256_set1_epi8('c')));
        m.t = bits(_mm256_cmpeq_epi8(lower, _mm256_set1_epi8('t')));
        return m;
    };
    for (std::size_t b = 0; b < blocks; ++b, p += 64) {
        const Masks lo = half(p), hi = half(p + 32);
        out.store(slot + b,
                  {lo.digit | hi.digit << 32, lo.sep | hi.sep << 32, lo.dot | hi.dot << 32,
                   lo.upper | hi.upper << 32, lo.run | hi.run << 32, lo.s | hi.s << 32,
                   lo.c | hi.c << 32, lo.t | hi.t << 32});
    }
}

__attribute__((target("avx512f,avx512bw"))) void classify_avx512(const char* p, std::size_t blocks,
                                                                 Classes& out, std::size_t slot) {
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
        const __m512i lower = _mm512_or_si512(x, case_bit);
        out.store(slot + b, {digit, _mm512_cmpeq_epi8_mask(_mm512_shuffle_epi8(separators, x), x),
                             _mm512_cmpeq_epi8_mask(x, dot_byte),
                             _mm512_cmple_epu8_mask(_mm512_sub_epi8(x, a), z),
                             digit | _mm512_cmpeq_epi8_mask(_mm512_shuffle_epi8(punctuation, x), x),
                             _mm512_cmpeq_epi8_mask(lower, _mm512_set1_epi8('s')),
                             _mm512_cmpeq_epi8_mask(lower, _mm512_set1_epi8('c')),
                             _mm512_cmpeq_epi8_mask(lower, _mm512_set1_epi8('t'))});
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

// Where hits may start in each slot of a round, from the block filter.
struct Candidates {
    alignas(64) uint64_t number[kSlots], iban[kSlots], secret[kSlots];
    uint64_t blocks = 0;  // bit i: slot i + 1 has a candidate
};

// The block filter, one block at a time (the SSE2 and AVX2 scans). A number hit needs one of
// the structures, and 8 digits within 24 bytes of it or 4 digits and 3 dots within 15; the
// latter is first tested for the whole block ignoring runs (prose with a year or a version
// number fails it), then per hit, in its run, by enough_digits(). IBANs: two capitals then two
// digits. "secret": "s?c??t", confirmed byte by byte.
[[gnu::always_inline]] inline void filter_blocks(const Classes& m, std::size_t count,
                                                 Candidates& out) {
    out.blocks = 0;
    for (std::size_t i = 1; i <= count; ++i) {
        const uint64_t d = m.digit[i], next_digit = m.digit[i + 1], prev_digit = m.digit[i - 1];
        auto pop = [](uint64_t x) { return __builtin_popcountll(x); };
        const int digits24 = pop(prev_digit >> 40) + pop(d) + pop(next_digit << 40);
        const int digits15 = pop(prev_digit >> 49) + pop(d) + pop(next_digit << 49);
        const int dots15 = pop(m.dot[i - 1] >> 49) + pop(m.dot[i]) + pop(m.dot[i + 1] << 49);
        const uint64_t d2 = ahead(d, next_digit, 2), d3 = ahead(d, next_digit, 3);
        out.iban[i] = m.upper[i] & ahead(m.upper[i], m.upper[i + 1], 1) & d2 & d3;
        out.secret[i] = m.s[i] & ahead(m.c[i], m.c[i + 1], 2) & ahead(m.t[i], m.t[i + 1], 5);
        out.number[i] = 0;
        if (digits24 >= 8 || (digits15 >= 4 && dots15 >= 3)) {
            const uint64_t d1 = ahead(d, next_digit, 1);
            const uint64_t s1 = ahead(m.sep[i], m.sep[i + 1], 1);
            const uint64_t s2 = ahead(m.sep[i], m.sep[i + 1], 2);
            // Eight digits in a row, reported where the run starts only: an entity cannot
            // begin inside a longer run of digits, and the extractor looks at the whole run.
            uint64_t run8 = d & d1 & d2 & d3 & ~(d << 1 | prev_digit >> 63);
            run8 &= ahead(d, next_digit, 4) & ahead(d, next_digit, 5) & ahead(d, next_digit, 6) &
                    ahead(d, next_digit, 7);
            out.number[i] = (d & s1 & (d2 | (s2 & d3))) | run8;
        }
        if (out.number[i] | out.iban[i] | out.secret[i]) out.blocks |= uint64_t{1} << (i - 1);
    }
}

// GCC 12's AVX-512 shift intrinsics start from _mm512_undefined_epi32() and warn about it
// (GCC bug 105593, fixed in 13).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

// The same filter eight blocks at a time, one block per 64-bit lane (the AVX-512 scan): no
// branch per block, so blocks of prose cost a few vector operations each.
template <int kShift>
__attribute__((target("avx512f"), always_inline)) inline __m512i ahead8(__m512i cur, __m512i next) {
    return _mm512_or_si512(_mm512_srli_epi64(cur, kShift), _mm512_slli_epi64(next, 64 - kShift));
}

__attribute__((target("avx512f"), always_inline)) inline __m512i load8(const uint64_t* mask,
                                                                       std::size_t slot) {
    return _mm512_loadu_si512(mask + slot);
}

__attribute__((target("avx512f,avx512vpopcntdq"), always_inline)) inline __m512i popcount8(
    __m512i x) {
    return _mm512_popcnt_epi64(x);
}

__attribute__((target("avx512f,avx512bw,avx512vpopcntdq,popcnt"))) void filter_blocks_avx512(
    const Classes& m, std::size_t count, Candidates& out) {
    out.blocks = 0;
    auto load = load8;
    auto pop = popcount8;
    const __m512i three = _mm512_set1_epi64(3), four = _mm512_set1_epi64(4),
                  eight = _mm512_set1_epi64(8);
    for (std::size_t i = 1; i <= count; i += 8) {
        const __m512i d = load(m.digit, i), prev_digit = load(m.digit, i - 1),
                      next_digit = load(m.digit, i + 1);
        const __m512i dot = load(m.dot, i), prev_dot = load(m.dot, i - 1),
                      next_dot = load(m.dot, i + 1);
        const __m512i digits24 =
            _mm512_add_epi64(_mm512_add_epi64(pop(_mm512_srli_epi64(prev_digit, 40)), pop(d)),
                             pop(_mm512_slli_epi64(next_digit, 40)));
        const __m512i digits15 =
            _mm512_add_epi64(_mm512_add_epi64(pop(_mm512_srli_epi64(prev_digit, 49)), pop(d)),
                             pop(_mm512_slli_epi64(next_digit, 49)));
        const __m512i dots15 =
            _mm512_add_epi64(_mm512_add_epi64(pop(_mm512_srli_epi64(prev_dot, 49)), pop(dot)),
                             pop(_mm512_slli_epi64(next_dot, 49)));
        const __mmask8 may_hold_number =
            _mm512_cmpge_epu64_mask(digits24, eight) |
            (_mm512_cmpge_epu64_mask(digits15, four) & _mm512_cmpge_epu64_mask(dots15, three));

        const __m512i d1 = ahead8<1>(d, next_digit), d2 = ahead8<2>(d, next_digit),
                      d3 = ahead8<3>(d, next_digit);
        const __m512i sep = load(m.sep, i), next_sep = load(m.sep, i + 1);
        const __m512i s1 = ahead8<1>(sep, next_sep), s2 = ahead8<2>(sep, next_sep);
        const __m512i started =
            _mm512_or_si512(_mm512_slli_epi64(d, 1), _mm512_srli_epi64(prev_digit, 63));
        __m512i run8 = _mm512_andnot_si512(started, _mm512_and_si512(d, d1));
        run8 = _mm512_and_si512(run8, _mm512_and_si512(d2, d3));
        run8 = _mm512_and_si512(
            run8, _mm512_and_si512(ahead8<4>(d, next_digit), ahead8<5>(d, next_digit)));
        run8 = _mm512_and_si512(
            run8, _mm512_and_si512(ahead8<6>(d, next_digit), ahead8<7>(d, next_digit)));
        const __m512i structure = _mm512_and_si512(_mm512_and_si512(d, s1),
                                                   _mm512_or_si512(d2, _mm512_and_si512(s2, d3)));
        const __m512i number =
            _mm512_maskz_mov_epi64(may_hold_number, _mm512_or_si512(structure, run8));

        const __m512i upper = load(m.upper, i);
        const __m512i iban =
            _mm512_and_si512(_mm512_and_si512(upper, ahead8<1>(upper, load(m.upper, i + 1))),
                             _mm512_and_si512(d2, d3));
        const __m512i secret = _mm512_and_si512(
            load(m.s, i), _mm512_and_si512(ahead8<2>(load(m.c, i), load(m.c, i + 1)),
                                           ahead8<5>(load(m.t, i), load(m.t, i + 1))));
        _mm512_storeu_si512(out.number + i, number);
        _mm512_storeu_si512(out.iban + i, iban);
        _mm512_storeu_si512(out.secret + i, secret);
        const __m512i any = _mm512_or_si512(number, _mm512_or_si512(iban, secret));
        const std::size_t lanes = std::min<std::size_t>(8, count + 1 - i);
        const auto in_round = static_cast<__mmask8>((1u << lanes) - 1);
        out.blocks |= uint64_t{_mm512_mask_test_epi64_mask(in_round, any, any)} << (i - 1);
    }
}

#pragma GCC diagnostic pop

using FilterBlocks = void (*)(const Classes&, std::size_t, Candidates&);

// Classifies blocks [first, last) of `text` into slots 1, 2, ...; the final partial block is
// zero-padded.
template <ClassifyBlocks kClassify>
[[gnu::always_inline]] inline void classify_range(std::string_view text, std::size_t first,
                                                  std::size_t last, Classes& out) {
    const std::size_t whole = std::min(last, text.size() / 64);
    if (whole > first) kClassify(text.data() + first * 64, whole - first, out, 1);
    if (last > whole && whole >= first) {
        alignas(64) char padded[64] = {};
        std::memcpy(padded, text.data() + whole * 64, text.size() - whole * 64);
        kClassify(padded, 1, out, 1 + whole - first);
    }
}

// The scan, compiled once per instruction set (below) so the bit logic gets the CPU's popcnt.
template <ClassifyBlocks kClassify, FilterBlocks kFilter>
[[gnu::always_inline]] inline void scan_with(std::string_view text, std::vector<ScanHit>& out) {
    const std::size_t n = text.size();
    if (n < 4) return;
    const std::size_t blocks = (n + 63) / 64;
    Classes m;
    Candidates found;
    m.clear(0);
    for (std::size_t first = 0; first < blocks; first += kRoundBlocks) {
        const std::size_t count = std::min(blocks - first, kRoundBlocks);
        // One block of look-ahead: structures may cross into the next block.
        const std::size_t classified = std::min(blocks - first, count + 1);
        m.clear(1 + classified);
        classify_range<kClassify>(text, first, first + classified, m);
        kFilter(m, count, found);
        for (uint64_t with_hits = found.blocks; with_hits; with_hits &= with_hits - 1) {
            const std::size_t i = static_cast<std::size_t>(__builtin_ctzll(with_hits)) + 1;
            const std::size_t block_start = (first + i - 1) * 64;
            // Disjoint: a number starts with a digit, an IBAN with a capital, "secret" with s.
            for (uint64_t any = found.number[i] | found.iban[i] | found.secret[i]; any;
                 any &= any - 1) {
                const int bit = __builtin_ctzll(any);
                const std::size_t pos = block_start + static_cast<std::size_t>(bit);
                if (pos >= n) break;
                if ((found.secret[i] >> bit) & 1) {
                    if (secret_word_at(text, pos)) out.push_back({pos, ScanKind::secret_word});
                } else if ((found.iban[i] >> bit) & 1) {
                    out.push_back({pos, ScanKind::iban});
                } else if (enough_digits({window(m.digit[i - 1], m.digit[i], m.digit[i + 1], bit),
                                          window(m.dot[i - 1], m.dot[i], m.dot[i + 1], bit),
                                          window(m.run[i - 1], m.run[i], m.run[i + 1], bit)})) {
                    out.push_back({pos, ScanKind::number});
                }
            }
        }
        m.copy(0, count);  // the round's last block is the next round's block before
    }
}

__attribute__((target("avx512f,avx512bw,avx512vpopcntdq,avx2,popcnt,bmi"))) void scan_avx512(
    std::string_view text, std::vector<ScanHit>& out) {
    scan_with<classify_avx512, filter_blocks_avx512>(text, out);
}

__attribute__((target("avx2,popcnt,bmi"))) void scan_avx2(std::string_view text,
                                                          std::vector<ScanHit>& out) {
    scan_with<classify_avx2, filter_blocks>(text, out);
}

void scan_sse2(std::string_view text, std::vector<ScanHit>& out) {
    scan_with<classify_sse2, filter_blocks>(text, out);
}

using Scan = void (*)(std::string_view, std::vector<ScanHit>&);

Scan scan_for(ScanIsa isa) {
    const bool base = __builtin_cpu_supports("popcnt") && __builtin_cpu_supports("bmi");
    switch (isa) {
        case ScanIsa::avx512:
            return base && __builtin_cpu_supports("avx512bw") &&
                           __builtin_cpu_supports("avx512vpopcntdq")
                       ? scan_avx512
                       : nullptr;
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
