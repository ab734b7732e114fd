#include "agent/oidc/jwks.h"

#include <openssl/core_names.h>
#include <openssl/param_build.h>

#include <memory>
#include <set>

#include "agent/oidc/base64url.h"
#include "agent/oidc/oidc_limits.h"

namespace sluice {
namespace {

using ParamBuildPtr =
    std::unique_ptr<OSSL_PARAM_BLD, detail::OpensslDeleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using ParamsPtr = std::unique_ptr<OSSL_PARAM, detail::OpensslDeleter<OSSL_PARAM, OSSL_PARAM_free>>;

constexpr std::size_t kP256CoordinateBytes = 32;
constexpr std::size_t kEd25519KeyBytes = 32;
// Public exponents are 65537 in practice; 8 bytes is generous and keeps BN parsing trivial.
constexpr std::size_t kMaxRsaExponentBytes = 8;
// Longest JWK-supplied text echoed into a log line.
constexpr std::size_t kMaxEchoChars = 40;

[[noreturn]] void reject(const std::string& why) { throw JwksError(why); }

std::string shown(std::string_view text) {
    std::string out;
    for (char c : text.substr(0, kMaxEchoChars)) {
        out += (c >= 0x20 && c < 0x7f) ? c : '?';
    }
    if (text.size() > kMaxEchoChars) out += "...";
    return "'" + out + "'";
}

std::string member_string(const nlohmann::json& jwk, const char* name) {
    auto it = jwk.find(name);
    if (it == jwk.end()) return "";
    if (!it->is_string()) reject(std::string("member '") + name + "' is not a string");
    return it->get<std::string>();
}

std::string member_bytes(const nlohmann::json& jwk, const char* name) {
    auto it = jwk.find(name);
    if (it == jwk.end()) reject(std::string("member '") + name + "' is missing");
    if (!it->is_string()) reject(std::string("member '") + name + "' is not a string");
    auto bytes = decode_base64url(it->get_ref<const std::string&>());
    if (!bytes || bytes->empty()) reject(std::string("member '") + name + "' is not base64url");
    return *bytes;
}

EvpPkeyPtr key_from_params(const char* type_name, OSSL_PARAM_BLD* build) {
    ParamsPtr params(OSSL_PARAM_BLD_to_param(build));
    EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type_name, nullptr));
    EVP_PKEY* raw = nullptr;
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
        drain_openssl_errors();
        reject("OpenSSL refused the key material");
    }
    return EvpPkeyPtr(raw);
}

// RSA and EC keys get OpenSSL's full public-key check (odd modulus and exponent, point on the
// curve and in the right subgroup), so a hostile JWKS cannot plant degenerate keys.
void check_public_key(EVP_PKEY* key) {
    EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
    if (!ctx || EVP_PKEY_public_check(ctx.get()) != 1) {
        drain_openssl_errors();
        reject("the public key fails OpenSSL's validity check");
    }
}

EvpPkeyPtr rsa_key(const nlohmann::json& jwk) {
    const std::string n = member_bytes(jwk, "n");
    const std::string e = member_bytes(jwk, "e");
    if (e.size() > kMaxRsaExponentBytes) reject("RSA exponent is too large");
    if (n.size() * 8 > static_cast<std::size_t>(oidc_limits::kMaxRsaBits) + 8)
        reject("RSA modulus is larger than " + std::to_string(oidc_limits::kMaxRsaBits) + " bits");
    BignumPtr n_bn(BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()),
                             static_cast<int>(n.size()), nullptr));
    BignumPtr e_bn(BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()),
                             static_cast<int>(e.size()), nullptr));
    ParamBuildPtr build(OSSL_PARAM_BLD_new());
    if (!n_bn || !e_bn || !build ||
        OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_N, n_bn.get()) != 1 ||
        OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_E, e_bn.get()) != 1) {
        reject("out of memory building the RSA key");
    }
    EvpPkeyPtr key = key_from_params("RSA", build.get());
    const int bits = EVP_PKEY_get_bits(key.get());
    if (bits < oidc_limits::kMinRsaBits || bits > oidc_limits::kMaxRsaBits) {
        reject("RSA modulus is " + std::to_string(bits) + " bits; " +
               std::to_string(oidc_limits::kMinRsaBits) + " to " +
               std::to_string(oidc_limits::kMaxRsaBits) + " are accepted");
    }
    check_public_key(key.get());
    return key;
}

EvpPkeyPtr ec_key(const nlohmann::json& jwk) {
    const std::string crv = member_string(jwk, "crv");
    if (crv != "P-256") reject("unsupported EC curve " + shown(crv) + " (only P-256)");
    const std::string x = member_bytes(jwk, "x");
    const std::string y = member_bytes(jwk, "y");
    // RFC 7518 §6.2.1.2: coordinates are full-length, leading zeros kept.
    if (x.size() != kP256CoordinateBytes || y.size() != kP256CoordinateBytes)
        reject("P-256 coordinates must be 32 bytes each");
    std::string point = "\x04" + x + y;  // SEC 1 uncompressed point
    ParamBuildPtr build(OSSL_PARAM_BLD_new());
    if (!build ||
        OSSL_PARAM_BLD_push_utf8_string(build.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) !=
            1 ||
        OSSL_PARAM_BLD_push_octet_string(build.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                         point.size()) != 1) {
        reject("out of memory building the EC key");
    }
    EvpPkeyPtr key = key_from_params("EC", build.get());
    check_public_key(key.get());
    return key;
}

EvpPkeyPtr ed25519_key(const nlohmann::json& jwk) {
    const std::string crv = member_string(jwk, "crv");
    if (crv != "Ed25519") reject("unsupported OKP curve " + shown(crv) + " (only Ed25519)");
    const std::string x = member_bytes(jwk, "x");
    if (x.size() != kEd25519KeyBytes) reject("Ed25519 public key must be 32 bytes");
    ParamBuildPtr build(OSSL_PARAM_BLD_new());
    if (!build || OSSL_PARAM_BLD_push_octet_string(build.get(), OSSL_PKEY_PARAM_PUB_KEY, x.data(),
                                                   x.size()) != 1) {
        reject("out of memory building the Ed25519 key");
    }
    return key_from_params("ED25519", build.get());
}

}  // namespace

std::optional<JwsAlgorithm> parse_jws_algorithm(std::string_view name) {
    if (name == "RS256") return JwsAlgorithm::rs256;
    if (name == "ES256") return JwsAlgorithm::es256;
    if (name == "EdDSA") return JwsAlgorithm::eddsa;
    return std::nullopt;
}

std::string_view to_string(JwsAlgorithm alg) {
    switch (alg) {
        case JwsAlgorithm::rs256:
            return "RS256";
        case JwsAlgorithm::es256:
            return "ES256";
        case JwsAlgorithm::eddsa:
            return "EdDSA";
    }
    return "?";
}

std::string_view to_string(JwkType type) {
    switch (type) {
        case JwkType::rsa:
            return "RSA";
        case JwkType::ec_p256:
            return "EC P-256";
        case JwkType::ed25519:
            return "OKP Ed25519";
    }
    return "?";
}

JwkType key_type_for(JwsAlgorithm alg) {
    switch (alg) {
        case JwsAlgorithm::rs256:
            return JwkType::rsa;
        case JwsAlgorithm::es256:
            return JwkType::ec_p256;
        case JwsAlgorithm::eddsa:
            return JwkType::ed25519;
    }
    return JwkType::rsa;
}

JsonWebKey parse_jwk(const nlohmann::json& jwk) {
    if (!jwk.is_object()) reject("a key is not a JSON object");
    // A published private key is an incident at the issuer, not something to use quietly.
    for (const char* private_member : {"d", "p", "q", "dp", "dq", "qi", "k"}) {
        if (jwk.contains(private_member)) reject("contains private key material");
    }
    JsonWebKey key;
    key.kid = member_string(jwk, "kid");
    const std::string use = member_string(jwk, "use");
    if (!use.empty() && use != "sig") reject("use is " + shown(use) + ", not 'sig'");
    if (auto ops = jwk.find("key_ops"); ops != jwk.end()) {
        bool verify = false;
        if (ops->is_array()) {
            for (const auto& op : *ops) verify = verify || (op.is_string() && op == "verify");
        }
        if (!verify) reject("key_ops does not include 'verify'");
    }
    const std::string kty = member_string(jwk, "kty");
    if (kty == "RSA") {
        key.type = JwkType::rsa;
        key.public_key = rsa_key(jwk);
    } else if (kty == "EC") {
        key.type = JwkType::ec_p256;
        key.public_key = ec_key(jwk);
    } else if (kty == "OKP") {
        key.type = JwkType::ed25519;
        key.public_key = ed25519_key(jwk);
    } else {
        reject("unsupported kty " + shown(kty) + " (RSA, EC and OKP are supported)");
    }
    const std::string alg = member_string(jwk, "alg");
    if (!alg.empty()) {
        key.alg = parse_jws_algorithm(alg);
        if (!key.alg) reject("unsupported alg " + shown(alg));
        if (key_type_for(*key.alg) != key.type)
            reject("alg " + shown(alg) + " does not fit a " + std::string(to_string(key.type)) +
                   " key");
    }
    return key;
}

JwkSet::JwkSet(std::vector<JsonWebKey> keys, std::vector<std::string> skipped)
    : keys_(std::move(keys)), skipped_(std::move(skipped)) {}

const JsonWebKey* JwkSet::find(std::string_view kid) const {
    for (const auto& key : keys_) {
        if (key.kid == kid) return &key;
    }
    return nullptr;
}

const JsonWebKey* JwkSet::only_key_for(JwsAlgorithm alg) const {
    const JsonWebKey* found = nullptr;
    for (const auto& key : keys_) {
        if (key.type != key_type_for(alg)) continue;
        if (found != nullptr) return nullptr;
        found = &key;
    }
    return found;
}

JwkSet parse_jwks(std::string_view document) {
    if (document.size() > oidc_limits::kMaxJwksBytes) {
        reject("JWKS is larger than " + std::to_string(oidc_limits::kMaxJwksBytes) + " bytes");
    }
    const nlohmann::json root = nlohmann::json::parse(document, nullptr, false);
    if (root.is_discarded()) reject("JWKS is not valid JSON");
    if (!root.is_object()) reject("JWKS is not a JSON object");
    auto keys_it = root.find("keys");
    if (keys_it == root.end() || !keys_it->is_array()) reject("JWKS has no \"keys\" list");
    if (keys_it->size() > oidc_limits::kMaxJwksKeys) {
        reject("JWKS has more than " + std::to_string(oidc_limits::kMaxJwksKeys) + " keys");
    }
    std::vector<JsonWebKey> keys;
    std::vector<std::string> skipped;
    std::set<std::string> kids;
    for (std::size_t i = 0; i < keys_it->size(); ++i) {
        const nlohmann::json& item = (*keys_it)[i];
        std::string label = "key #" + std::to_string(i);
        if (item.is_object() && item.contains("kid") && item["kid"].is_string())
            label += " (kid " + shown(item["kid"].get<std::string>()) + ")";
        try {
            JsonWebKey key = parse_jwk(item);
            if (!key.kid.empty() && !kids.insert(key.kid).second)
                reject("repeats a kid already in the set");
            keys.push_back(std::move(key));
        } catch (const JwksError& e) {
            skipped.push_back(label + ": " + e.what());
        }
    }
    if (keys.empty()) {
        std::string why = "JWKS has no usable signing key";
        if (!skipped.empty()) why += " (" + skipped.front() + ")";
        reject(why);
    }
    return JwkSet(std::move(keys), std::move(skipped));
}

}  // namespace sluice
