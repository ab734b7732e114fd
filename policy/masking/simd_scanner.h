// One SIMD pass over the text for what Hyperscan's literal matchers do badly here: the
// structures every number-shaped entity needs (phone numbers without '+' too, cards, SSNs,
// IPv4, IBANs), and the word "secret" in any case. Digit-class triggers drag a Hyperscan
// database to ~0.2 GB/s on prose with ordinary numbers in it, and a caseless "secret" (its
// letters are everywhere in English) to ~4 GB/s with every other trigger's speed. This
// scanner classifies 64 bytes at a time into bit masks (AVX-512BW, AVX2 or SSE2, picked at
// start-up) and reports only:
// - number: digit-separator-digit, digit-separator-separator-digit, or the start of eight
//   digits in a row, whose own run of phone characters (digits and " ()+-.") holds 8 digits
//   within 24 bytes, or 4 digits and 3 dots within 15 (IPv4);
// - iban: two capitals then two digits;
// - secret_word: "secret", any case (the AWS secret key trigger).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace sluice::masking {

enum class ScanKind : uint8_t { number, iban, secret_word };

struct ScanHit {
    std::size_t pos;  // first byte of the structure or word
    ScanKind kind;
    bool operator==(const ScanHit&) const = default;
};

// Appends the hits in `text` in position order, using the widest instruction set the CPU has.
void simd_scan(std::string_view text, std::vector<ScanHit>& out);

// The same with a given instruction set (tests compare them); false if the CPU lacks it.
enum class ScanIsa { sse2, avx2, avx512 };
bool simd_scan(std::string_view text, std::vector<ScanHit>& out, ScanIsa isa);

}  // namespace sluice::masking
