// The SIMD scanner: every instruction-set variant the CPU has reports exactly what a
// byte-by-byte reading of its rules gives, on random text built from the bytes that matter.
#include "policy/masking/simd_scanner.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

namespace sluice::masking {
namespace {

bool digit_at(std::string_view t, long i) {
    return i >= 0 && i < static_cast<long>(t.size()) && t[i] >= '0' && t[i] <= '9';
}
bool upper_at(std::string_view t, long i) {
    return i >= 0 && i < static_cast<long>(t.size()) && t[i] >= 'A' && t[i] <= 'Z';
}
bool sep_at(std::string_view t, long i) {
    if (i < 0 || i >= static_cast<long>(t.size())) return false;
    const char c = t[i];
    return c == ' ' || c == '-' || c == '.' || c == ')';
}
bool run_at(std::string_view t, long i) {
    if (i < 0 || i >= static_cast<long>(t.size())) return false;
    return digit_at(t, i) || std::string_view(" ()+-.").find(t[i]) != std::string_view::npos;
}
// Bytes in [from, to) equal to `c` (any digit for '0') that belong to the run of phone
// characters through `p`.
int count_in_run(std::string_view t, long p, long from, long to, char c) {
    long begin = p, end = p;
    while (run_at(t, begin - 1)) --begin;
    while (run_at(t, end)) ++end;
    int n = 0;
    for (long i = std::max(from, begin); i < std::min(to, end); ++i)
        n += c == '0' ? digit_at(t, i) : t[i] == c;
    return n;
}

bool secret_at(std::string_view t, long p) {
    static constexpr std::string_view kWord = "secret";
    if (p + static_cast<long>(kWord.size()) > static_cast<long>(t.size())) return false;
    for (std::size_t k = 0; k < kWord.size(); ++k)
        if (std::tolower(static_cast<unsigned char>(t[p + k])) != kWord[k]) return false;
    return true;
}

// The rules of simd_scanner.h, one position at a time.
std::vector<ScanHit> reference(std::string_view t) {
    std::vector<ScanHit> out;
    if (t.size() < 4) return out;
    for (long p = 0; p < static_cast<long>(t.size()); ++p) {
        const auto pos = static_cast<std::size_t>(p);
        if (secret_at(t, p)) {
            out.push_back({pos, ScanKind::secret_word});
            continue;
        }
        if (upper_at(t, p) && upper_at(t, p + 1) && digit_at(t, p + 2) && digit_at(t, p + 3)) {
            out.push_back({pos, ScanKind::iban});
            continue;
        }
        bool run8 = !digit_at(t, p - 1);
        for (long k = 0; k < 8; ++k) run8 = run8 && digit_at(t, p + k);
        const bool structure =
            (digit_at(t, p) && sep_at(t, p + 1) && digit_at(t, p + 2)) ||
            (digit_at(t, p) && sep_at(t, p + 1) && sep_at(t, p + 2) && digit_at(t, p + 3)) || run8;
        const bool enough = count_in_run(t, p, p - 24, p + 24, '0') >= 8 ||
                            (count_in_run(t, p, p - 15, p + 15, '0') >= 4 &&
                             count_in_run(t, p, p - 15, p + 15, '.') >= 3);
        if (structure && enough) out.push_back({pos, ScanKind::number});
    }
    return out;
}

TEST(SimdScanner, EveryInstructionSetMatchesTheRules) {
    const std::string alphabet = "0123456789    --...))((++ABZ:ab\xc3\xa9sS";
    std::mt19937 rng(3);
    int checked_variants = 0;
    std::size_t secrets = 0;
    for (int round = 0; round < 3000; ++round) {
        const std::size_t length = rng() % 300;
        std::string text;
        while (text.size() < length) {
            if (rng() % 40 != 0) {
                text += alphabet[rng() % alphabet.size()];
                continue;
            }
            std::string word = "secret";  // in a random case, sometimes cut short
            for (auto& c : word)
                if (rng() % 2) c = static_cast<char>(c - 'a' + 'A');
            text += word.substr(0, 3 + rng() % 4);
        }
        const auto expected = reference(text);
        for (const auto& hit : expected) secrets += hit.kind == ScanKind::secret_word;
        for (auto isa : {ScanIsa::sse2, ScanIsa::avx2, ScanIsa::avx512}) {
            std::vector<ScanHit> got;
            if (!simd_scan(text, got, isa)) continue;
            ++checked_variants;
            ASSERT_EQ(got, expected) << "isa " << static_cast<int>(isa) << " text '" << text << "'";
        }
    }
    EXPECT_GE(checked_variants, 3000);  // SSE2 at least, always available on x86-64
    EXPECT_GE(secrets, 1000u);
}

TEST(SimdScanner, StructuresAcrossRoundBoundaries) {
    // The scanner classifies 64 blocks (4 KiB) per round and carries the last block's masks
    // into the next: numbers, IBANs and "secret" laid across the round edges at every offset.
    const std::string pieces[] = {" 4111 1111 1111 1111 ", " 10.1.2.3 ", " DE89 3704 0044 ",
                                  " sEcReT ", " +1 415 555 2671 "};
    for (const auto& piece : pieces) {
        for (std::size_t edge : {4096u, 8192u}) {
            for (std::size_t offset = edge - piece.size() - 2; offset <= edge + 2; ++offset) {
                std::string text(offset, 'x');
                text += piece;
                text += std::string(300, 'y');
                const auto expected = reference(text);
                ASSERT_FALSE(expected.empty()) << piece << " at " << offset;
                for (auto isa : {ScanIsa::sse2, ScanIsa::avx2, ScanIsa::avx512}) {
                    std::vector<ScanHit> got;
                    if (!simd_scan(text, got, isa)) continue;
                    ASSERT_EQ(got, expected)
                        << piece << " at " << offset << " isa " << static_cast<int>(isa);
                }
            }
        }
    }
}

TEST(SimdScanner, SecretAtEveryOffsetAndAtTheEnd) {
    // The classifiers read five bytes past each block: the word across every block edge, and
    // at the very end of texts of every length around them.
    for (std::size_t offset = 50; offset < 140; ++offset) {
        for (const std::size_t trailing : {0, 1, 5, 9}) {
            const std::string text =
                std::string(offset, 'x') + "SeCrEt" + std::string(trailing, 'y');
            std::vector<ScanHit> got;
            simd_scan(text, got);
            EXPECT_EQ(got, (std::vector<ScanHit>{{offset, ScanKind::secret_word}}))
                << offset << " " << trailing;
        }
    }
}

TEST(SimdScanner, StructuresAcrossBlockBoundaries) {
    // A card number laid across every offset around the 64-byte block edges.
    for (std::size_t offset = 40; offset < 140; ++offset) {
        std::string text(offset, 'x');
        text += " 4111 1111 1111 1111 ";
        text += std::string(70, 'y');
        std::vector<ScanHit> got;
        simd_scan(text, got);
        EXPECT_EQ(got, reference(text)) << offset;
        EXPECT_FALSE(got.empty()) << offset;
    }
}

}  // namespace
}  // namespace sluice::masking
