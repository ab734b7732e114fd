// Random tokens for the approvers' web page (session ids, CSRF tokens, OAuth state and nonce,
// PKCE verifiers) and the PKCE S256 challenge (RFC 7636 §4.2).
#pragma once

#include <string>
#include <string_view>

namespace sluice {

// `bytes` bytes from OpenSSL's CSPRNG, base64url without padding. Throws if the CSPRNG fails.
std::string random_token(std::size_t bytes = 32);

// BASE64URL(SHA256(verifier)).
std::string pkce_s256_challenge(std::string_view verifier);

// Compares without an early exit, so the time taken does not tell how much matched.
bool tokens_equal(std::string_view a, std::string_view b);

}  // namespace sluice
