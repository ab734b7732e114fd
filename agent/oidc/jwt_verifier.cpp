#include "agent/oidc/jwt_verifier.h"

#include <openssl/ecdsa.h>

#include <memory>

#include "agent/oidc/base64url.h"
#include "agent/oidc/oidc_limits.h"

namespace sluice {
namespace {

using EvpMdCtxPtr =
    std::unique_ptr<EVP_MD_CTX, detail::OpensslDeleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, detail::OpensslDeleter<ECDSA_SIG, ECDSA_SIG_free>>;

constexpr std::size_t kEs256SignatureBytes = 64;  // r || s, 32 bytes each (RFC 7518 §3.4)

JwtVerification refuse(JwtError error, std::string reason) {
    JwtVerification out;
    out.error = error;
    out.reason = std::move(reason);
    return out;
}

JwtVerification malformed() {
    return refuse(JwtError::malformed, "the token is not a well-formed JWT");
}

struct DecodedJws {
    std::string_view signing_input;  // "<header>.<payload>" exactly as sent
    nlohmann::json header;
    nlohmann::json payload;
    std::string signature;
};

std::optional<nlohmann::json> decode_json_object(std::string_view segment) {
    auto bytes = decode_base64url(segment);
    if (!bytes) return std::nullopt;
    nlohmann::json value = nlohmann::json::parse(*bytes, nullptr, false);
    if (value.is_discarded() || !value.is_object()) return std::nullopt;
    return value;
}

// Splits and decodes; nullopt when the token is not three base64url segments whose first two
// are JSON objects. The signature may be empty here (alg none) so the caller can say why.
std::optional<DecodedJws> decode_jws(std::string_view token) {
    if (token.size() > oidc_limits::kMaxTokenBytes) return std::nullopt;
    const std::size_t first = token.find('.');
    if (first == std::string_view::npos) return std::nullopt;
    const std::size_t second = token.find('.', first + 1);
    if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos)
        return std::nullopt;
    DecodedJws jws;
    jws.signing_input = token.substr(0, second);
    auto header = decode_json_object(token.substr(0, first));
    auto payload = decode_json_object(token.substr(first + 1, second - first - 1));
    auto signature = decode_base64url(token.substr(second + 1));
    if (!header || !payload || !signature) return std::nullopt;
    jws.header = std::move(*header);
    jws.payload = std::move(*payload);
    jws.signature = std::move(*signature);
    return jws;
}

// ES256 signatures are raw r||s on the wire; EVP_DigestVerify wants an ASN.1 DER ECDSA-Sig.
std::optional<std::string> es256_signature_to_der(std::string_view raw) {
    if (raw.size() != kEs256SignatureBytes) return std::nullopt;
    const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
    BignumPtr r(BN_bin2bn(bytes, kEs256SignatureBytes / 2, nullptr));
    BignumPtr s(BN_bin2bn(bytes + kEs256SignatureBytes / 2, kEs256SignatureBytes / 2, nullptr));
    EcdsaSigPtr sig(ECDSA_SIG_new());
    if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return std::nullopt;
    r.release();  // owned by sig now
    s.release();
    unsigned char* der = nullptr;
    const int len = i2d_ECDSA_SIG(sig.get(), &der);
    if (len <= 0) return std::nullopt;
    std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
    OPENSSL_free(der);
    return out;
}

bool signature_valid(JwsAlgorithm alg, EVP_PKEY* key, std::string_view signing_input,
                     std::string_view signature) {
    std::string der;
    if (alg == JwsAlgorithm::es256) {
        auto converted = es256_signature_to_der(signature);
        if (!converted) return false;
        der = std::move(*converted);
        signature = der;
    }
    // Ed25519 hashes internally: EVP_DigestVerify with no digest (one-shot only).
    const EVP_MD* md = alg == JwsAlgorithm::eddsa ? nullptr : EVP_sha256();
    EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    const bool ok =
        ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key) == 1 &&
        EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                         signature.size(),
                         reinterpret_cast<const unsigned char*>(signing_input.data()),
                         signing_input.size()) == 1;
    ERR_clear_error();  // a failed verify leaves errors that would confuse the next SSL call
    return ok;
}

std::optional<std::string> string_claim(const nlohmann::json& payload, const std::string& name) {
    auto it = payload.find(name);
    if (it == payload.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
}

// A string claim as one value, an array claim as its string elements; nothing else.
std::vector<std::string> flattened_strings(const nlohmann::json& value) {
    std::vector<std::string> out;
    if (value.is_string()) {
        out.push_back(value.get<std::string>());
    } else if (value.is_array()) {
        for (const auto& item : value) {
            if (item.is_string()) out.push_back(item.get<std::string>());
        }
    }
    return out;
}

bool audience_matches(const nlohmann::json& payload, const std::vector<std::string>& expected) {
    auto it = payload.find("aud");
    if (it == payload.end()) return false;
    if (!it->is_string() && !it->is_array()) return false;
    for (const std::string& aud : flattened_strings(*it)) {
        for (const std::string& want : expected) {
            if (aud == want) return true;
        }
    }
    return false;
}

OidcIdentity identity_from(const nlohmann::json& payload, const JwtExpectations& expected,
                           std::string subject) {
    OidcIdentity identity;
    identity.issuer = expected.issuer;
    identity.subject = std::move(subject);
    // An address the IdP has not verified could be anyone's; policy must not match on it.
    auto verified = payload.find("email_verified");
    const bool unverified = verified != payload.end() && verified->is_boolean() && !*verified;
    if (!unverified)
        identity.email = string_claim(payload, expected.claim_names.email).value_or("");
    if (auto groups = payload.find(expected.claim_names.groups); groups != payload.end()) {
        identity.groups = flattened_strings(*groups);
    }
    for (const auto& [name, value] : payload.items()) {
        std::vector<std::string> values = flattened_strings(value);
        if (value.is_string() || value.is_array()) identity.claims.emplace(name, std::move(values));
    }
    return identity;
}

}  // namespace

JwtExpectations expectations_for(const OidcIssuerConfig& issuer) {
    JwtExpectations out;
    out.issuer = issuer.issuer;
    out.audiences = issuer.audiences;
    out.algorithms.clear();
    for (const std::string& name : issuer.algorithms) {
        if (auto alg = parse_jws_algorithm(name)) out.algorithms.push_back(*alg);
    }
    out.clock_skew = std::chrono::seconds(issuer.clock_skew_s);
    out.claim_names = issuer.claims;
    return out;
}

std::string_view to_string(JwtError error) {
    switch (error) {
        case JwtError::none:
            return "none";
        case JwtError::malformed:
            return "malformed";
        case JwtError::unsupported_algorithm:
            return "unsupported_algorithm";
        case JwtError::unknown_key:
            return "unknown_key";
        case JwtError::key_mismatch:
            return "key_mismatch";
        case JwtError::bad_signature:
            return "bad_signature";
        case JwtError::wrong_issuer:
            return "wrong_issuer";
        case JwtError::wrong_audience:
            return "wrong_audience";
        case JwtError::expired:
            return "expired";
        case JwtError::not_yet_valid:
            return "not_yet_valid";
        case JwtError::missing_claim:
            return "missing_claim";
    }
    return "?";
}

std::optional<UnverifiedJwtHeader> peek_jwt(std::string_view token) {
    auto jws = decode_jws(token);
    if (!jws) return std::nullopt;
    UnverifiedJwtHeader out;
    out.issuer = string_claim(jws->payload, "iss").value_or("");
    out.kid = string_claim(jws->header, "kid").value_or("");
    return out;
}

JwtVerification verify_jwt(std::string_view token, const JwtExpectations& expected,
                           const JwkSet& keys, std::chrono::system_clock::time_point now) {
    if (token.size() > oidc_limits::kMaxTokenBytes) {
        return refuse(
            JwtError::malformed,
            "the token is larger than " + std::to_string(oidc_limits::kMaxTokenBytes) + " bytes");
    }
    auto jws = decode_jws(token);
    if (!jws) return malformed();

    // --- header: which algorithm and key, before any claim is trusted ---
    const std::string alg_name = string_claim(jws->header, "alg").value_or("");
    if (alg_name.empty() || alg_name == "none" || alg_name == "None" || alg_name == "NONE") {
        return refuse(JwtError::unsupported_algorithm,
                      "unsigned tokens (alg none) are not accepted");
    }
    if (alg_name.rfind("HS", 0) == 0) {
        return refuse(JwtError::unsupported_algorithm, "HMAC-signed tokens are not accepted");
    }
    const auto alg = parse_jws_algorithm(alg_name);
    bool allowed = false;
    for (JwsAlgorithm a : expected.algorithms) allowed = allowed || (alg && a == *alg);
    if (!allowed) {
        return refuse(JwtError::unsupported_algorithm,
                      "the token's signing algorithm is not accepted for this issuer");
    }
    // RFC 7515 §4.1.11: a "crit" extension we do not implement makes the token invalid.
    if (jws->header.contains("crit")) {
        return refuse(JwtError::malformed, "the token has critical header extensions");
    }
    // jku, x5u and jwk header members are ignored on purpose: keys come only from the issuer's
    // configured source, never from the token that is to be verified.
    const JsonWebKey* key = nullptr;
    if (auto kid = jws->header.find("kid"); kid != jws->header.end()) {
        if (!kid->is_string()) return malformed();
        key = keys.find(kid->get_ref<const std::string&>());
    } else {
        key = keys.only_key_for(*alg);
    }
    if (key == nullptr) {
        return refuse(JwtError::unknown_key,
                      "the token is signed with a key the issuer does not publish");
    }
    if (key->type != key_type_for(*alg) || (key->alg && *key->alg != *alg)) {
        return refuse(JwtError::key_mismatch,
                      "the token's algorithm does not match the key it names");
    }
    if (!signature_valid(*alg, key->public_key.get(), jws->signing_input, jws->signature)) {
        return refuse(JwtError::bad_signature, "the token's signature is not valid");
    }

    // --- claims: only now, with the signature good ---
    const nlohmann::json& claims = jws->payload;
    if (string_claim(claims, "iss") != expected.issuer) {
        return refuse(JwtError::wrong_issuer, "the token's issuer is not trusted");
    }
    if (!audience_matches(claims, expected.audiences)) {
        return refuse(JwtError::wrong_audience, "the token is not meant for this service (aud)");
    }
    const double now_s = std::chrono::duration<double>(now.time_since_epoch()).count();
    const double skew_s = static_cast<double>(expected.clock_skew.count());
    auto exp = claims.find("exp");
    if (exp == claims.end() || !exp->is_number()) {
        return refuse(JwtError::missing_claim, "the token has no expiry (exp)");
    }
    // RFC 7519 §4.1.4: the current time must be before exp.
    if (now_s >= exp->get<double>() + skew_s)
        return refuse(JwtError::expired, "the token has expired");
    if (auto nbf = claims.find("nbf"); nbf != claims.end()) {
        if (!nbf->is_number()) return malformed();
        if (now_s + skew_s < nbf->get<double>())
            return refuse(JwtError::not_yet_valid, "the token is not valid yet (nbf)");
    }
    if (auto iat = claims.find("iat"); iat != claims.end()) {
        if (!iat->is_number()) return malformed();
        if (now_s + skew_s < iat->get<double>())
            return refuse(JwtError::not_yet_valid, "the token was issued in the future (iat)");
    }
    auto subject = string_claim(claims, expected.claim_names.subject);
    if (!subject || subject->empty()) {
        return refuse(JwtError::missing_claim, "the token has no subject claim");
    }

    JwtVerification out;
    out.identity = identity_from(claims, expected, std::move(*subject));
    return out;
}

}  // namespace sluice
