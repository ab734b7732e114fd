// Verifies a compact JWS (an OIDC ID token) against one issuer's expectations and key set at a
// given time. Pure: no I/O, no clock; the caller supplies keys and `now`.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/config/config.h"
#include "agent/oidc/jwks.h"
#include "policy/policy_model.h"

namespace sluice {

struct JwtExpectations {
    std::string issuer;                  // "iss" must equal this
    std::vector<std::string> audiences;  // "aud" (string or list) must contain one of these
    std::vector<JwsAlgorithm> algorithms{JwsAlgorithm::rs256, JwsAlgorithm::es256,
                                         JwsAlgorithm::eddsa};
    std::chrono::seconds clock_skew{60};  // allowed on exp, nbf and iat
    OidcClaimNames claim_names;
};

// Config strings are validated by the config parser; unknown algorithm names are dropped.
JwtExpectations expectations_for(const OidcIssuerConfig& issuer);

enum class JwtError {
    none,
    malformed,              // not three base64url segments of JSON objects, or too large
    unsupported_algorithm,  // alg none, HS*, or not in the issuer's allowlist
    unknown_key,            // no key with the token's kid (the caller may refresh and retry)
    key_mismatch,           // the kid names a key of another type than alg (alg confusion)
    bad_signature,
    wrong_issuer,
    wrong_audience,
    expired,
    not_yet_valid,
    missing_claim,  // exp or the subject claim absent or of the wrong type
};
std::string_view to_string(JwtError error);

struct [[nodiscard]] JwtVerification {
    std::optional<OidcIdentity> identity;  // set exactly when the token is valid
    JwtError error = JwtError::none;
    // Short, fixed wording safe to return to the client: never echoes the token or its claims.
    std::string reason;

    bool ok() const { return identity.has_value(); }
};

JwtVerification verify_jwt(std::string_view token, const JwtExpectations& expected,
                           const JwkSet& keys, std::chrono::system_clock::time_point now);

// What a token claims about itself before anything is verified, for choosing the issuer and
// whether a key refresh could help. nullopt when the token is not even well-formed.
struct UnverifiedJwtHeader {
    std::string issuer;  // "" when "iss" is absent or not a string
    std::string kid;
};
std::optional<UnverifiedJwtHeader> peek_jwt(std::string_view token);

}  // namespace sluice
