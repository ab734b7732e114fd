// JSON Web Key Sets (RFC 7517): the public keys an OIDC issuer signs ID tokens with, parsed
// into OpenSSL keys once so verification per request is one EVP_DigestVerify.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "agent/tls/openssl_handles.h"

namespace sluice {

// The JWS algorithms sluice verifies. HMAC (HS*) is absent on purpose: with a public JWKS the
// "secret" would be public, and accepting it is the classic RS256→HS256 confusion.
enum class JwsAlgorithm { rs256, es256, eddsa };

std::optional<JwsAlgorithm> parse_jws_algorithm(std::string_view name);  // "RS256", ...
std::string_view to_string(JwsAlgorithm alg);

enum class JwkType { rsa, ec_p256, ed25519 };
std::string_view to_string(JwkType type);
// The one key type each algorithm may be used with (no alg confusion).
JwkType key_type_for(JwsAlgorithm alg);

// Document-level problems: not JSON, no "keys" list, no usable key at all.
class JwksError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct JsonWebKey {
    std::string kid;  // "" when the JWK has none
    JwkType type = JwkType::rsa;
    std::optional<JwsAlgorithm> alg;  // the JWK's own "alg", when it states one
    EvpPkeyPtr public_key;
};

// Immutable once parsed; shared between threads as shared_ptr<const JwkSet>.
class JwkSet {
public:
    JwkSet() = default;
    JwkSet(std::vector<JsonWebKey> keys, std::vector<std::string> skipped);

    // The key with this kid, or nullptr.
    const JsonWebKey* find(std::string_view kid) const;
    // For tokens without a kid: the only key that fits `alg`, or nullptr if none or several.
    const JsonWebKey* only_key_for(JwsAlgorithm alg) const;
    const std::vector<JsonWebKey>& keys() const { return keys_; }
    // One line per JWK that was ignored and why (unsupported kty, too-small RSA modulus...).
    const std::vector<std::string>& skipped() const { return skipped_; }

private:
    std::vector<JsonWebKey> keys_;
    std::vector<std::string> skipped_;
};

// Parses one JWK. Throws JwksError with a one-line reason if it is unsupported or malformed:
// kty other than RSA/EC/OKP, curve other than P-256/Ed25519, RSA modulus outside
// [2048, 8192] bits, a point not on the curve, private-key members, "use" other than "sig".
JsonWebKey parse_jwk(const nlohmann::json& jwk);

// Parses a JWKS document. Keys that cannot be used are left out and listed in skipped(), since
// issuers publish encryption and other-algorithm keys beside their signing keys; a document
// that is not a JWKS or has no usable key at all throws JwksError.
JwkSet parse_jwks(std::string_view document);

}  // namespace sluice
