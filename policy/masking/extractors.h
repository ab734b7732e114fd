// Confirmation step of the built-in recognizers. The Hyperscan prefilter (prefilter.h) reports
// only where a cheap trigger pattern ends; an extractor then finds the exact span around that
// position by hand and validates it (checksums, ranges, boundaries). Each returns the offset up
// to which it examined the text, so later hits of the same recognizer inside that stretch are
// skipped rather than re-examined.
#pragma once

#include <cstddef>
#include <string_view>

#include "policy/masking/candidate.h"

namespace sluice::masking {

// Number-shaped entities are triggered by the SIMD scanner instead (simd_scanner.h): their
// `hit_end` is a position just inside the structure it found (for IBAN: where it starts).
using Extractor = std::size_t (*)(std::string_view text, std::size_t hit_end, Spans& out);

std::size_t extract_email(std::string_view text, std::size_t hit_end, Spans& out);
std::size_t extract_phone(std::string_view text, std::size_t hit_end, Spans& out);
std::size_t extract_card(std::string_view text, std::size_t hit_end, Spans& out);
std::size_t extract_iban(std::string_view text, std::size_t hit_end, Spans& out);
std::size_t extract_ssn(std::string_view text, std::size_t hit_end, Spans& out);
std::size_t extract_ipv4(std::string_view text, std::size_t hit_end, Spans& out);
std::size_t extract_ipv6(std::string_view text, std::size_t hit_end, Spans& out);

std::size_t extract_openai_key(std::string_view text, std::size_t hit_end, Spans& out);
std::size_t extract_aws_access_key(std::string_view text, std::size_t hit_end, Spans& out);
std::size_t extract_aws_secret_key(std::string_view text, std::size_t hit_end, Spans& out);
std::size_t extract_github_classic(std::string_view text, std::size_t hit_end, Spans& out);
std::size_t extract_github_pat(std::string_view text, std::size_t hit_end, Spans& out);
std::size_t extract_slack_token(std::string_view text, std::size_t hit_end, Spans& out);
std::size_t extract_slack_app_token(std::string_view text, std::size_t hit_end, Spans& out);
std::size_t extract_jwt(std::string_view text, std::size_t hit_end, Spans& out);
std::size_t extract_private_key(std::string_view text, std::size_t hit_end, Spans& out);

// What the number-shaped extractors need at the least around a digit-scanner candidate.
// numeric_shape() counts the digits and dots in the run of phone characters around `pos`, over
// a window wider than any of those extractors looks at; below a minimum, that extractor cannot
// find anything there and is not called (prose numbers like "v1.2" or "2024." cost one look).
struct NumericShape {
    std::size_t begin = 0, end = 0;  // the run (capped at kNumericRunCap each way from `pos`)
    bool whole = false;              // not capped: every candidate inside shares this shape
    int digits = 0;
    int dots = 0;
    bool plus = false;         // a '+' (E.164)
    bool nanp_groups = false;  // digit groups of 3, 3 and 4 in a row
    bool ssn_groups = false;   // digit groups of 3, 2 and 4 in a row
    bool zero_group = false;   // a digit group starting with 0 (national trunk prefix)
};
inline constexpr std::size_t kNumericRunCap = 128;
NumericShape numeric_shape(std::string_view text, std::size_t pos);
inline constexpr int kPhoneMinDigits = 8;  // E.164; national formats need 10
inline constexpr int kTrunkMinDigits = 10;
inline constexpr int kCardMinDigits = 13;
inline constexpr int kSsnDigits = 9;
inline constexpr int kIpv4MinDigits = 4;
inline constexpr int kIpv4Dots = 3;

// Longest a match of each can be; the stream masker's hold-back is bounded by these.
inline constexpr std::size_t kEmailMaxBytes = 254;
inline constexpr std::size_t kPhoneMaxBytes = 24;
inline constexpr std::size_t kCardMaxBytes = 23;
inline constexpr std::size_t kIbanMaxBytes = 42;
inline constexpr std::size_t kSsnMaxBytes = 11;
inline constexpr std::size_t kIpv4MaxBytes = 15;
inline constexpr std::size_t kIpv6MaxBytes = 45;
inline constexpr std::size_t kTokenMaxBytes = 512;         // OpenAI, GitHub, Slack tokens
inline constexpr std::string_view kSecretWord = "secret";  // any case, before an AWS secret key
// kSecretWord in any case at `pos`.
inline bool secret_word_at(std::string_view text, std::size_t pos) {
    if (pos + kSecretWord.size() > text.size()) return false;
    for (std::size_t k = 0; k < kSecretWord.size(); ++k)
        if ((text[pos + k] | 0x20) != kSecretWord[k]) return false;
    return true;
}
inline constexpr std::size_t kAwsSecretBytes = 40;
inline constexpr std::size_t kAwsSecretWindowBytes =
    96;  // key must start this close after "secret"
inline constexpr std::size_t kJwtMaxBytes = 16 * 1024;
inline constexpr std::size_t kPrivateKeyMaxBytes = 64 * 1024;

}  // namespace sluice::masking
