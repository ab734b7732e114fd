// The pre-filter for number-shaped entities (phone numbers without '+', cards, SSNs, IPv4,
// IBANs). Hyperscan scans literal-anchored triggers at ~3.6 GB/s here, but digit-class
// triggers drag the whole database to ~0.2 GB/s on prose with ordinary numbers in it. This
// scanner instead finds, 64 bytes at a time with SSE2 bit masks, the few places where digits
// form a structure every such entity needs: digit-separator-digit, digit-separator-separator-
// digit, eight digits in a row, or two capitals before two digits.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace sluice::masking {

struct DigitCandidate {
    std::size_t pos;  // first byte of the structure
    bool iban;        // two capitals then two digits (else a digit structure)
    bool operator==(const DigitCandidate&) const = default;
};

// Appends the candidates in `text` in position order, using the widest instruction set the
// CPU has.
void scan_digit_candidates(std::string_view text, std::vector<DigitCandidate>& out);

// The same with a given instruction set (tests compare them); false if the CPU lacks it.
enum class DigitScanIsa { sse2, avx2, avx512 };
bool scan_digit_candidates(std::string_view text, std::vector<DigitCandidate>& out,
                           DigitScanIsa isa);

}  // namespace sluice::masking
