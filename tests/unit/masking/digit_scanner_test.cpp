// The digit-structure scanner: every instruction-set variant the CPU has reports exactly what
// a byte-by-byte reading of its rules gives, on random text built from the bytes that matter.
#include "policy/masking/digit_scanner.h"

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
// Digits in [from, to) that belong to the run of phone characters through `p`.
int digits_in(std::string_view t, long p, long from, long to) {
    long begin = p, end = p;
    while (run_at(t, begin - 1)) --begin;
    while (run_at(t, end)) ++end;
    int n = 0;
    for (long i = std::max(from, begin); i < std::min(to, end); ++i) n += digit_at(t, i);
    return n;
}

// The rules of digit_scanner.h, one position at a time.
std::vector<DigitCandidate> reference(std::string_view t) {
    std::vector<DigitCandidate> out;
    if (t.size() < 4) return out;
    for (long p = 0; p < static_cast<long>(t.size()); ++p) {
        if (upper_at(t, p) && upper_at(t, p + 1) && digit_at(t, p + 2) && digit_at(t, p + 3)) {
            out.push_back({static_cast<std::size_t>(p), true});
            continue;
        }
        bool run8 = !digit_at(t, p - 1);
        for (long k = 0; k < 8; ++k) run8 = run8 && digit_at(t, p + k);
        const bool structure =
            (digit_at(t, p) && sep_at(t, p + 1) && digit_at(t, p + 2)) ||
            (digit_at(t, p) && sep_at(t, p + 1) && sep_at(t, p + 2) && digit_at(t, p + 3)) || run8;
        const bool enough =
            digits_in(t, p, p - 15, p + 15) >= 4 || digits_in(t, p, p - 24, p + 24) >= 8;
        if (structure && enough) out.push_back({static_cast<std::size_t>(p), false});
    }
    return out;
}

TEST(DigitScanner, EveryInstructionSetMatchesTheRules) {
    const std::string alphabet = "0123456789    --..))((++ABZ:ab\xc3\xa9";
    std::mt19937 rng(3);
    int checked_variants = 0;
    for (int round = 0; round < 3000; ++round) {
        std::string text(rng() % 300, ' ');
        for (auto& c : text) c = alphabet[rng() % alphabet.size()];
        const auto expected = reference(text);
        for (auto isa : {DigitScanIsa::sse2, DigitScanIsa::avx2, DigitScanIsa::avx512}) {
            std::vector<DigitCandidate> got;
            if (!scan_digit_candidates(text, got, isa)) continue;
            ++checked_variants;
            ASSERT_EQ(got, expected) << "isa " << static_cast<int>(isa) << " text '" << text << "'";
        }
    }
    EXPECT_GE(checked_variants, 3000);  // SSE2 at least, always available on x86-64
}

TEST(DigitScanner, StructuresAcrossBlockBoundaries) {
    // A card number laid across every offset around the 64-byte block edges.
    for (std::size_t offset = 40; offset < 140; ++offset) {
        std::string text(offset, 'x');
        text += " 4111 1111 1111 1111 ";
        text += std::string(70, 'y');
        std::vector<DigitCandidate> got;
        scan_digit_candidates(text, got);
        EXPECT_EQ(got, reference(text)) << offset;
        EXPECT_FALSE(got.empty()) << offset;
    }
}

}  // namespace
}  // namespace sluice::masking
