// Keys, JWKS documents and signed tokens for OIDC tests and the test-jwt-mint tool: real
// OpenSSL keys generated on the spot, nothing checked in. No gtest here, so tools can use it.
#pragma once

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "agent/oidc/base64url.h"
#include "agent/oidc/jwks.h"
#include "agent/tls/openssl_handles.h"

namespace sluice::test {

inline EvpPkeyPtr generate_signing_key(JwsAlgorithm alg, size_t rsa_bits = 2048) {
    EVP_PKEY* key = nullptr;
    switch (alg) {
        case JwsAlgorithm::rs256:
            key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", rsa_bits);
            break;
        case JwsAlgorithm::es256:
            key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
            break;
        case JwsAlgorithm::eddsa:
            key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
            break;
    }
    if (key == nullptr)
        throw std::runtime_error("key generation failed: " + drain_openssl_errors());
    return EvpPkeyPtr(key);
}

inline std::string bignum_param(EVP_PKEY* key, const char* name, int pad_to = 0) {
    BIGNUM* bn = nullptr;
    if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) throw std::runtime_error("no key param");
    BignumPtr owned(bn);
    std::string out(static_cast<size_t>(pad_to > 0 ? pad_to : BN_num_bytes(bn)), '\0');
    BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size()));
    return out;
}

// The public JWK for `key` (kty/crv by algorithm), with kid and, if `with_alg`, alg.
inline nlohmann::json public_jwk(EVP_PKEY* key, JwsAlgorithm alg, const std::string& kid,
                                 bool with_alg = false) {
    nlohmann::json jwk;
    switch (alg) {
        case JwsAlgorithm::rs256:
            jwk["kty"] = "RSA";
            jwk["n"] = encode_base64url(bignum_param(key, OSSL_PKEY_PARAM_RSA_N));
            jwk["e"] = encode_base64url(bignum_param(key, OSSL_PKEY_PARAM_RSA_E));
            break;
        case JwsAlgorithm::es256:
            jwk["kty"] = "EC";
            jwk["crv"] = "P-256";
            jwk["x"] = encode_base64url(bignum_param(key, OSSL_PKEY_PARAM_EC_PUB_X, 32));
            jwk["y"] = encode_base64url(bignum_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, 32));
            break;
        case JwsAlgorithm::eddsa: {
            std::string raw(32, '\0');
            size_t len = raw.size();
            EVP_PKEY_get_raw_public_key(key, reinterpret_cast<unsigned char*>(raw.data()), &len);
            jwk["kty"] = "OKP";
            jwk["crv"] = "Ed25519";
            jwk["x"] = encode_base64url(raw);
            break;
        }
    }
    if (!kid.empty()) jwk["kid"] = kid;
    jwk["use"] = "sig";
    if (with_alg) jwk["alg"] = std::string(to_string(alg));
    return jwk;
}

inline std::string jwks_document(const std::vector<nlohmann::json>& keys) {
    return nlohmann::json{{"keys", keys}}.dump();
}

// Signs `signing_input` as JWS `alg` does: RSA PKCS#1 v1.5 SHA-256, ECDSA P-256 as raw r||s,
// or Ed25519.
inline std::string jws_signature(EVP_PKEY* key, JwsAlgorithm alg,
                                 const std::string& signing_input) {
    using MdCtx = std::unique_ptr<EVP_MD_CTX, detail::OpensslDeleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
    MdCtx ctx(EVP_MD_CTX_new());
    const EVP_MD* md = alg == JwsAlgorithm::eddsa ? nullptr : EVP_sha256();
    size_t len = 0;
    const auto* in = reinterpret_cast<const unsigned char*>(signing_input.data());
    if (EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, key) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &len, in, signing_input.size()) != 1) {
        throw std::runtime_error("signing failed: " + drain_openssl_errors());
    }
    std::string sig(len, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, in,
                       signing_input.size()) != 1) {
        throw std::runtime_error("signing failed: " + drain_openssl_errors());
    }
    sig.resize(len);
    if (alg != JwsAlgorithm::es256) return sig;
    const auto* der = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* parsed = d2i_ECDSA_SIG(nullptr, &der, static_cast<long>(sig.size()));
    if (parsed == nullptr) throw std::runtime_error("bad ECDSA signature");
    std::string raw(64, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(parsed), reinterpret_cast<unsigned char*>(raw.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(parsed), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
    ECDSA_SIG_free(parsed);
    return raw;
}

// A compact JWS of exactly these header and payload JSON texts.
inline std::string sign_jwt_text(const std::string& header_json, const std::string& payload_json,
                                 EVP_PKEY* key, JwsAlgorithm alg) {
    const std::string input = encode_base64url(header_json) + "." + encode_base64url(payload_json);
    return input + "." + encode_base64url(jws_signature(key, alg, input));
}

// `header` gets alg (and kid unless empty) added when it lacks them.
inline std::string sign_jwt(nlohmann::json header, const nlohmann::json& payload, EVP_PKEY* key,
                            JwsAlgorithm alg, const std::string& kid) {
    if (!header.contains("alg")) header["alg"] = std::string(to_string(alg));
    if (!kid.empty() && !header.contains("kid")) header["kid"] = kid;
    return sign_jwt_text(header.dump(), payload.dump(), key, alg);
}

// An HS256 token whose "secret" is `secret`: the RS256→HS256 confusion attack uses the
// issuer's public key bytes here.
inline std::string hs256_jwt(const nlohmann::json& header, const nlohmann::json& payload,
                             const std::string& secret) {
    const std::string input =
        encode_base64url(header.dump()) + "." + encode_base64url(payload.dump());
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &mac_len);
    return input + "." + encode_base64url(std::string(reinterpret_cast<char*>(mac), mac_len));
}

}  // namespace sluice::test
