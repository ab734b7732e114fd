// Size limits and deadlines of the OIDC concern (agent/common/limits.h holds the proxy's).
#pragma once

#include <chrono>
#include <cstddef>

namespace sluice::oidc_limits {

// Real ID tokens are 1-2 KiB; a header line of Envoy's 60 KiB limit could carry far more, and
// every byte is base64-decoded and JSON-parsed before the signature is known to be good.
inline constexpr std::size_t kMaxTokenBytes = 16 * 1024;
// Google's and Entra's JWKS documents are a few KiB; 1 MiB leaves room for large key rollovers.
inline constexpr std::size_t kMaxJwksBytes = 1024 * 1024;
inline constexpr std::size_t kMaxDiscoveryBytes = 1024 * 1024;
inline constexpr std::size_t kMaxJwksKeys = 100;
// RSA moduli outside this range are refused: below is breakable (NIST SP 800-131A), above only
// makes each verification slower for an attacker-chosen issuer document.
inline constexpr int kMinRsaBits = 2048;
inline constexpr int kMaxRsaBits = 8192;
// One HTTPS fetch (connect + TLS + request + response) of a JWKS or discovery document.
inline constexpr std::chrono::seconds kFetchDeadline{10};
// A token signed by a key we do not know yet may trigger a refresh, at most this often per
// issuer, so a stream of made-up kids cannot turn sluiced into a load generator for the IdP.
inline constexpr std::chrono::seconds kUnknownKidRefreshInterval{30};
// How long a request with an unknown kid waits for that refresh before it is refused.
inline constexpr std::chrono::milliseconds kUnknownKidWait{2000};
// After a failed scheduled fetch, retry this soon (not a whole jwks_refresh_s later).
inline constexpr std::chrono::seconds kFetchRetryAfterFailure{30};

}  // namespace sluice::oidc_limits
