#include "agent/oidc/jwks.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/unit/oidc/jwt_test_support.h"

namespace sluice {
namespace {

using nlohmann::json;

struct Keys {
    EvpPkeyPtr rsa = test::generate_signing_key(JwsAlgorithm::rs256);
    EvpPkeyPtr ec = test::generate_signing_key(JwsAlgorithm::es256);
    EvpPkeyPtr ed = test::generate_signing_key(JwsAlgorithm::eddsa);
    json rsa_jwk = test::public_jwk(rsa.get(), JwsAlgorithm::rs256, "r1", true);
    json ec_jwk = test::public_jwk(ec.get(), JwsAlgorithm::es256, "e1");
    json ed_jwk = test::public_jwk(ed.get(), JwsAlgorithm::eddsa, "d1");
};

const Keys& keys() {
    static const Keys k;
    return k;
}

std::string parse_error(const json& jwk) {
    try {
        parse_jwk(jwk);
    } catch (const JwksError& e) {
        return e.what();
    }
    return "<accepted>";
}

TEST(Jwks, ParsesEachSupportedKeyType) {
    const JwkSet set =
        parse_jwks(test::jwks_document({keys().rsa_jwk, keys().ec_jwk, keys().ed_jwk}));
    ASSERT_EQ(set.keys().size(), 3u);
    EXPECT_TRUE(set.skipped().empty());
    ASSERT_NE(set.find("r1"), nullptr);
    EXPECT_EQ(set.find("r1")->type, JwkType::rsa);
    EXPECT_EQ(set.find("r1")->alg, JwsAlgorithm::rs256);
    EXPECT_EQ(EVP_PKEY_get_bits(set.find("r1")->public_key.get()), 2048);
    EXPECT_EQ(set.find("e1")->type, JwkType::ec_p256);
    EXPECT_FALSE(set.find("e1")->alg.has_value());
    EXPECT_EQ(set.find("d1")->type, JwkType::ed25519);
    EXPECT_EQ(set.find("nope"), nullptr);
    // The parsed keys are the generated ones.
    EXPECT_EQ(EVP_PKEY_eq(set.find("e1")->public_key.get(), keys().ec.get()), 1);
    EXPECT_EQ(EVP_PKEY_eq(set.find("d1")->public_key.get(), keys().ed.get()), 1);
    EXPECT_EQ(EVP_PKEY_eq(set.find("r1")->public_key.get(), keys().rsa.get()), 1);
}

TEST(Jwks, RefusesSmallRsaKeys) {
    EvpPkeyPtr small = test::generate_signing_key(JwsAlgorithm::rs256, 1024);
    EXPECT_EQ(parse_error(test::public_jwk(small.get(), JwsAlgorithm::rs256, "s")),
              "RSA modulus is 1024 bits; 2048 to 8192 are accepted");
}

struct BadJwk {
    const char* name;
    json jwk;
    const char* expected;
};

std::vector<BadJwk> bad_jwks() {
    const json ec = keys().ec_jwk;
    const json ed = keys().ed_jwk;
    const json rsa = keys().rsa_jwk;
    auto with = [](json j, const char* key, json value) {
        j[key] = std::move(value);
        return j;
    };
    auto without = [](json j, const char* key) {
        j.erase(key);
        return j;
    };
    std::string off_curve_y = *decode_base64url(ec["y"].get<std::string>());
    off_curve_y[31] = static_cast<char>(off_curve_y[31] ^ 1);
    return {
        {"Symmetric", {{"kty", "oct"}, {"k", "c2VjcmV0"}}, "contains private key material"},
        {"OctWithoutK", {{"kty", "oct"}}, "unsupported kty 'oct' (RSA, EC and OKP are supported)"},
        {"NoKty", without(ec, "kty"), "unsupported kty '' (RSA, EC and OKP are supported)"},
        {"KtyNotString", with(ec, "kty", 1), "member 'kty' is not a string"},
        {"P384", with(ec, "crv", "P-384"), "unsupported EC curve 'P-384' (only P-256)"},
        {"Ed448", with(ed, "crv", "Ed448"), "unsupported OKP curve 'Ed448' (only Ed25519)"},
        {"X25519", with(ed, "crv", "X25519"), "unsupported OKP curve 'X25519' (only Ed25519)"},
        {"PrivateEc", with(ec, "d", "AAAA"), "contains private key material"},
        {"EncryptionKey", with(rsa, "use", "enc"), "use is 'enc', not 'sig'"},
        {"NoVerifyOp", with(ec, "key_ops", json::array({"encrypt"})),
         "key_ops does not include 'verify'"},
        {"AlgDoesNotFitKty", with(rsa, "alg", "ES256"), "alg 'ES256' does not fit a RSA key"},
        {"UnsupportedAlg", with(rsa, "alg", "RS512"), "unsupported alg 'RS512'"},
        {"HmacAlg", with(ec, "alg", "HS256"), "unsupported alg 'HS256'"},
        {"ShortX", with(ec, "x", "AAAA"), "P-256 coordinates must be 32 bytes each"},
        {"MissingY", without(ec, "y"), "member 'y' is missing"},
        {"BadBase64", with(ec, "x", "not base64!"), "member 'x' is not base64url"},
        {"OffCurve", with(ec, "y", encode_base64url(off_curve_y)),
         "OpenSSL refused the key material"},
        {"ShortEd25519", with(ed, "x", "AAAA"), "Ed25519 public key must be 32 bytes"},
        {"HugeExponent", with(rsa, "e", encode_base64url(std::string(9, '\x01'))),
         "RSA exponent is too large"},
        {"EvenExponent", with(rsa, "e", "Ag"), "the public key fails OpenSSL's validity check"},
        {"NotObject", json::array(), "a key is not a JSON object"},
    };
}

TEST(Jwks, RefusesUnsupportedOrUnsafeKeysWithOneLine) {
    for (const BadJwk& c : bad_jwks()) {
        SCOPED_TRACE(c.name);
        EXPECT_EQ(parse_error(c.jwk), c.expected);
    }
}

TEST(Jwks, SkipsUnusableKeysButKeepsTheRest) {
    json enc = keys().rsa_jwk;
    enc["use"] = "enc";
    enc["kid"] = "enc-1";
    json dup = keys().ed_jwk;  // kid "d1" again
    const JwkSet set = parse_jwks(
        test::jwks_document({enc, keys().ec_jwk, json{{"kty", "oct"}}, keys().ed_jwk, dup}));
    EXPECT_EQ(set.keys().size(), 2u);
    EXPECT_EQ(set.find("enc-1"), nullptr);
    EXPECT_NE(set.find("e1"), nullptr);
    ASSERT_EQ(set.skipped().size(), 3u);
    EXPECT_EQ(set.skipped()[0], "key #0 (kid 'enc-1'): use is 'enc', not 'sig'");
    EXPECT_EQ(set.skipped()[1], "key #2: unsupported kty 'oct' (RSA, EC and OKP are supported)");
    EXPECT_EQ(set.skipped()[2], "key #4 (kid 'd1'): repeats a kid already in the set");
}

TEST(Jwks, RefusesDocumentsThatAreNotKeySets) {
    auto error = [](const std::string& doc) -> std::string {
        try {
            parse_jwks(doc);
        } catch (const JwksError& e) {
            return e.what();
        }
        return "<accepted>";
    };
    EXPECT_EQ(error("not json"), "JWKS is not valid JSON");
    EXPECT_EQ(error("[]"), "JWKS is not a JSON object");
    EXPECT_EQ(error("{}"), "JWKS has no \"keys\" list");
    EXPECT_EQ(error(R"({"keys":{}})"), "JWKS has no \"keys\" list");
    EXPECT_EQ(error(R"({"keys":[]})"), "JWKS has no usable signing key");
    EXPECT_EQ(error(R"({"keys":[{"kty":"oct"}]})"),
              "JWKS has no usable signing key (key #0: unsupported kty 'oct' (RSA, EC and OKP are "
              "supported))");
    EXPECT_EQ(error(std::string(2 * 1024 * 1024, ' ')), "JWKS is larger than 1048576 bytes");
    json many = json::array();
    for (int i = 0; i < 101; ++i) many.push_back(keys().ec_jwk);
    EXPECT_EQ(error(json{{"keys", many}}.dump()), "JWKS has more than 100 keys");
}

TEST(Jwks, KeysWithoutKidAreUsableByAlgorithm) {
    json ec = keys().ec_jwk;
    ec.erase("kid");
    json ed = keys().ed_jwk;
    ed.erase("kid");
    const JwkSet set = parse_jwks(test::jwks_document({ec, ed}));
    ASSERT_EQ(set.keys().size(), 2u);
    ASSERT_NE(set.only_key_for(JwsAlgorithm::es256), nullptr);
    EXPECT_EQ(set.only_key_for(JwsAlgorithm::es256)->type, JwkType::ec_p256);
    EXPECT_EQ(set.only_key_for(JwsAlgorithm::rs256), nullptr);
}

TEST(Jwks, AlgorithmNamesAndKeyTypes) {
    EXPECT_EQ(parse_jws_algorithm("RS256"), JwsAlgorithm::rs256);
    EXPECT_EQ(parse_jws_algorithm("ES256"), JwsAlgorithm::es256);
    EXPECT_EQ(parse_jws_algorithm("EdDSA"), JwsAlgorithm::eddsa);
    for (const char* no : {"HS256", "none", "rs256", "PS256", "ES256K", ""}) {
        EXPECT_FALSE(parse_jws_algorithm(no).has_value()) << no;
    }
    EXPECT_EQ(key_type_for(JwsAlgorithm::rs256), JwkType::rsa);
    EXPECT_EQ(key_type_for(JwsAlgorithm::es256), JwkType::ec_p256);
    EXPECT_EQ(key_type_for(JwsAlgorithm::eddsa), JwkType::ed25519);
}

}  // namespace
}  // namespace sluice
