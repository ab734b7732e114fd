// Checksums and structural checks that confirm a recognizer's candidate, so that numbers which
// merely look like a card, IBAN or SSN are left alone. Pure functions over ASCII text.
#pragma once

#include <string_view>

namespace sluice::masking {

// Luhn mod-10 over the digits of `text` (other characters skipped).
bool luhn_valid(std::string_view text);

// True when the digits (separators skipped) start with a known card issuer range and count as
// many digits as that issuer uses.
bool card_issuer_valid(std::string_view digits);

// ISO 13616: country code with its registered length, check digits, mod-97 == 1. `compact`
// has no spaces.
bool iban_valid(std::string_view compact);

// Registered IBAN length for a two-letter country code; 0 when the country has no IBAN.
int iban_length(std::string_view country);

// SSA rules: area not 000, 666 or 9xx; group not 00; serial not 0000. `digits` is 9 digits.
bool ssn_valid(std::string_view digits);

// Dotted quad, each octet 0-255 without leading zeros.
bool ipv4_valid(std::string_view text);

// inet_pton(AF_INET6) plus at least three hex digits, so "::" and "::1"-like fragments of
// code ("a::b" aside) are not addresses.
bool ipv6_valid(std::string_view text);

}  // namespace sluice::masking
