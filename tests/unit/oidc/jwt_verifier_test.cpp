#include "agent/oidc/jwt_verifier.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "tests/unit/oidc/jwt_test_support.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::system_clock;
using nlohmann::json;

constexpr int64_t kNow = 1'800'000'000;  // a fixed "now" for every test
const Clock::time_point kNowTime = Clock::time_point(std::chrono::seconds(kNow));
constexpr const char* kIssuer = "https://idp.example.com";
constexpr const char* kAudience = "sluice";

// Keys are generated once per process: RSA keygen is the slow part of this suite.
struct Keys {
    EvpPkeyPtr rsa = test::generate_signing_key(JwsAlgorithm::rs256);
    EvpPkeyPtr ec = test::generate_signing_key(JwsAlgorithm::es256);
    EvpPkeyPtr ed = test::generate_signing_key(JwsAlgorithm::eddsa);
    EvpPkeyPtr stranger = test::generate_signing_key(JwsAlgorithm::es256);  // in no JWKS
    JwkSet set = parse_jwks(test::jwks_document({
        test::public_jwk(rsa.get(), JwsAlgorithm::rs256, "rsa-1"),
        test::public_jwk(ec.get(), JwsAlgorithm::es256, "ec-1"),
        test::public_jwk(ed.get(), JwsAlgorithm::eddsa, "ed-1"),
    }));

    EVP_PKEY* for_alg(JwsAlgorithm alg) const {
        return alg == JwsAlgorithm::rs256   ? rsa.get()
               : alg == JwsAlgorithm::es256 ? ec.get()
                                            : ed.get();
    }
    static std::string kid_for(JwsAlgorithm alg) {
        return alg == JwsAlgorithm::rs256 ? "rsa-1" : alg == JwsAlgorithm::es256 ? "ec-1" : "ed-1";
    }
};

const Keys& keys() {
    static const Keys k;
    return k;
}

JwtExpectations expectations() {
    JwtExpectations e;
    e.issuer = kIssuer;
    e.audiences = {kAudience};
    return e;
}

json good_claims() {
    return json{{"iss", kIssuer},
                {"aud", kAudience},
                {"sub", "user-42"},
                {"email", "ada@example.com"},
                {"groups", {"ml-team", "admins"}},
                {"exp", kNow + 600},
                {"iat", kNow - 10},
                {"nbf", kNow - 10}};
}

std::string token(const json& claims, JwsAlgorithm alg = JwsAlgorithm::es256,
                  json header = json::object()) {
    return test::sign_jwt(std::move(header), claims, keys().for_alg(alg), alg, Keys::kid_for(alg));
}

JwtVerification verify(const std::string& jwt, const JwtExpectations& e = expectations(),
                       Clock::time_point now = kNowTime) {
    return verify_jwt(jwt, e, keys().set, now);
}

// Every refusal: no identity, the expected error, and a reason that never echoes the token.
void expect_refused(const std::string& jwt, JwtError error,
                    const JwtExpectations& e = expectations(), Clock::time_point now = kNowTime) {
    const JwtVerification v = verify(jwt, e, now);
    EXPECT_FALSE(v.ok());
    EXPECT_FALSE(v.identity.has_value());
    EXPECT_EQ(v.error, error) << "got " << to_string(v.error) << ": " << v.reason;
    EXPECT_FALSE(v.reason.empty());
    EXPECT_EQ(v.reason.find('\n'), std::string::npos);
    if (jwt.size() > 8) {
        for (size_t at = 0; at + 8 <= jwt.size(); at += 8) {
            ASSERT_EQ(v.reason.find(jwt.substr(at, 8)), std::string::npos) << v.reason;
        }
    }
}

class AcceptsEachAlgorithm : public ::testing::TestWithParam<JwsAlgorithm> {};

TEST_P(AcceptsEachAlgorithm, AndMapsClaimsToIdentity) {
    const JwtVerification v = verify(token(good_claims(), GetParam()));
    ASSERT_TRUE(v.ok()) << v.reason;
    EXPECT_EQ(v.error, JwtError::none);
    EXPECT_EQ(v.identity->issuer, kIssuer);
    EXPECT_EQ(v.identity->subject, "user-42");
    EXPECT_EQ(v.identity->email, "ada@example.com");
    EXPECT_EQ(v.identity->groups, (std::vector<std::string>{"ml-team", "admins"}));
    EXPECT_EQ(v.identity->claims.at("sub"), (std::vector<std::string>{"user-42"}));
    EXPECT_EQ(v.identity->claims.at("groups"), (std::vector<std::string>{"ml-team", "admins"}));
    EXPECT_EQ(v.identity->claims.count("exp"), 0u);  // numbers are not string claims
}

INSTANTIATE_TEST_SUITE_P(Jws, AcceptsEachAlgorithm,
                         ::testing::Values(JwsAlgorithm::rs256, JwsAlgorithm::es256,
                                           JwsAlgorithm::eddsa),
                         [](const auto& info) { return std::string(to_string(info.param)); });

TEST(JwtVerifier, AudienceMayBeAListContainingOurs) {
    json claims = good_claims();
    claims["aud"] = {"other", kAudience};
    EXPECT_TRUE(verify(token(claims)).ok());
}

TEST(JwtVerifier, AnyConfiguredAudienceMatches) {
    JwtExpectations e = expectations();
    e.audiences = {"first", kAudience};
    EXPECT_TRUE(verify(token(good_claims()), e).ok());
}

TEST(JwtVerifier, ClaimNamesAreConfigurable) {
    json claims = good_claims();
    claims["preferred_username"] = "ada";
    claims["mail"] = "ada@corp.example";
    claims["roles"] = "operator";  // a single string becomes one group
    JwtExpectations e = expectations();
    e.claim_names = OidcClaimNames{"preferred_username", "mail", "roles"};
    const JwtVerification v = verify(token(claims), e);
    ASSERT_TRUE(v.ok()) << v.reason;
    EXPECT_EQ(v.identity->subject, "ada");
    EXPECT_EQ(v.identity->email, "ada@corp.example");
    EXPECT_EQ(v.identity->groups, (std::vector<std::string>{"operator"}));
}

TEST(JwtVerifier, UnverifiedEmailIsNotUsed) {
    json claims = good_claims();
    claims["email_verified"] = false;
    const JwtVerification v = verify(token(claims));
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(v.identity->email, "");
}

TEST(JwtVerifier, MissingOptionalClaimsAreEmpty) {
    json claims = good_claims();
    claims.erase("email");
    claims.erase("groups");
    claims.erase("nbf");
    claims.erase("iat");
    const JwtVerification v = verify(token(claims));
    ASSERT_TRUE(v.ok()) << v.reason;
    EXPECT_EQ(v.identity->email, "");
    EXPECT_TRUE(v.identity->groups.empty());
}

TEST(JwtVerifier, TokenWithoutKidUsesTheOnlyKeyOfItsType) {
    const std::string jwt =
        test::sign_jwt(json::object(), good_claims(), keys().ec.get(), JwsAlgorithm::es256, "");
    EXPECT_TRUE(verify(jwt).ok());
}

// --- algorithm and key checks ---

TEST(JwtVerifier, RefusesAlgNone) {
    const std::string unsigned_jwt =
        encode_base64url(R"({"alg":"none"})") + "." + encode_base64url(good_claims().dump()) + ".";
    expect_refused(unsigned_jwt, JwtError::unsupported_algorithm);
    // Same, with a signature tacked on and the kid of a real key.
    json header = {{"alg", "none"}, {"kid", "ec-1"}};
    const std::string with_sig = token(good_claims(), JwsAlgorithm::es256, header);
    expect_refused(with_sig, JwtError::unsupported_algorithm);
    EXPECT_EQ(verify(with_sig).reason, "unsigned tokens (alg none) are not accepted");
}

TEST(JwtVerifier, RefusesHs256EvenKeyedWithThePublicKey) {
    // The classic confusion: HMAC "secret" = the RSA public key material from the JWKS.
    const json jwk = test::public_jwk(keys().rsa.get(), JwsAlgorithm::rs256, "rsa-1");
    const std::string jwt =
        test::hs256_jwt({{"alg", "HS256"}, {"kid", "rsa-1"}}, good_claims(), jwk.dump());
    expect_refused(jwt, JwtError::unsupported_algorithm);
    EXPECT_EQ(verify(jwt).reason, "HMAC-signed tokens are not accepted");
}

TEST(JwtVerifier, RefusesAlgorithmsOutsideTheAllowlist) {
    expect_refused(token(good_claims(), JwsAlgorithm::es256, {{"alg", "PS256"}}),
                   JwtError::unsupported_algorithm);
    expect_refused(token(good_claims(), JwsAlgorithm::es256, {{"alg", "ES384"}}),
                   JwtError::unsupported_algorithm);
    JwtExpectations rs_only = expectations();
    rs_only.algorithms = {JwsAlgorithm::rs256};
    EXPECT_TRUE(verify(token(good_claims(), JwsAlgorithm::rs256), rs_only).ok());
    expect_refused(token(good_claims(), JwsAlgorithm::es256), JwtError::unsupported_algorithm,
                   rs_only);
    expect_refused(token(good_claims(), JwsAlgorithm::eddsa), JwtError::unsupported_algorithm,
                   rs_only);
}

TEST(JwtVerifier, RefusesRsaKeyNamedByAnEs256Header) {
    // Header says ES256 but names the RSA key: signed with the EC key (or anything) it must not
    // be checked against the RSA key as if it were EC, nor vice versa.
    const std::string jwt = test::sign_jwt({{"alg", "ES256"}, {"kid", "rsa-1"}}, good_claims(),
                                           keys().ec.get(), JwsAlgorithm::es256, "");
    expect_refused(jwt, JwtError::key_mismatch);
    const std::string other_way = test::sign_jwt({{"alg", "RS256"}, {"kid", "ec-1"}}, good_claims(),
                                                 keys().rsa.get(), JwsAlgorithm::rs256, "");
    expect_refused(other_way, JwtError::key_mismatch);
    const std::string ed_as_es = test::sign_jwt({{"alg", "EdDSA"}, {"kid", "ec-1"}}, good_claims(),
                                                keys().ed.get(), JwsAlgorithm::eddsa, "");
    expect_refused(ed_as_es, JwtError::key_mismatch);
}

TEST(JwtVerifier, RefusesKeyWhoseOwnAlgDiffers) {
    // Such a JWK cannot even be parsed (alg must fit kty), so there is nothing to confuse.
    json jwk = test::public_jwk(keys().rsa.get(), JwsAlgorithm::rs256, "r");
    jwk["alg"] = "ES256";
    EXPECT_THROW(parse_jwk(jwk), JwksError);
}

TEST(JwtVerifier, RefusesUnknownKid) {
    const std::string jwt = test::sign_jwt(json::object(), good_claims(), keys().stranger.get(),
                                           JwsAlgorithm::es256, "ec-2");
    expect_refused(jwt, JwtError::unknown_key);
}

TEST(JwtVerifier, IgnoresKeysTheTokenBringsAlong) {
    // jku/jwk in the header would let the token choose its own key: never followed.
    json header = {
        {"kid", "attacker"},
        {"jku", "https://attacker.example/jwks"},
        {"jwk", test::public_jwk(keys().stranger.get(), JwsAlgorithm::es256, "attacker")}};
    const std::string jwt =
        test::sign_jwt(header, good_claims(), keys().stranger.get(), JwsAlgorithm::es256, "");
    expect_refused(jwt, JwtError::unknown_key);
}

TEST(JwtVerifier, RefusesSignatureByAnotherKeyUnderAKnownKid) {
    const std::string jwt = test::sign_jwt(json::object(), good_claims(), keys().stranger.get(),
                                           JwsAlgorithm::es256, "ec-1");
    expect_refused(jwt, JwtError::bad_signature);
}

class BadSignature : public ::testing::TestWithParam<JwsAlgorithm> {};

TEST_P(BadSignature, FlippedBitIsRefused) {
    std::string jwt = token(good_claims(), GetParam());
    const size_t sig_at = jwt.rfind('.') + 1;
    // Flip a bit inside the signature (not the last char, whose low bits may be padding).
    jwt[sig_at + 5] = jwt[sig_at + 5] == 'A' ? 'B' : 'A';
    expect_refused(jwt, JwtError::bad_signature);
}

TEST_P(BadSignature, ChangedPayloadIsRefused) {
    const std::string original = token(good_claims(), GetParam());
    json claims = good_claims();
    claims["sub"] = "admin";
    const std::string forged = token(claims, GetParam());
    const std::string spliced =
        forged.substr(0, forged.rfind('.')) + original.substr(original.rfind('.'));
    expect_refused(spliced, JwtError::bad_signature);
}

TEST_P(BadSignature, TruncatedSignatureIsRefused) {
    const std::string jwt = token(good_claims(), GetParam());
    const size_t dot = jwt.rfind('.');
    std::string sig = *decode_base64url(jwt.substr(dot + 1));
    sig.pop_back();
    expect_refused(jwt.substr(0, dot + 1) + encode_base64url(sig), JwtError::bad_signature);
}

INSTANTIATE_TEST_SUITE_P(Jws, BadSignature,
                         ::testing::Values(JwsAlgorithm::rs256, JwsAlgorithm::es256,
                                           JwsAlgorithm::eddsa),
                         [](const auto& info) { return std::string(to_string(info.param)); });

// --- time, issuer, audience ---

TEST(JwtVerifier, RefusesExpired) {
    json claims = good_claims();
    claims["exp"] = kNow - 61;
    expect_refused(token(claims), JwtError::expired);
    EXPECT_EQ(verify(token(claims)).reason, "the token has expired");
}

TEST(JwtVerifier, ExpiryWithinSkewIsAccepted) {
    json claims = good_claims();
    claims["exp"] = kNow - 59;
    EXPECT_TRUE(verify(token(claims)).ok());
    JwtExpectations strict = expectations();
    strict.clock_skew = 0s;
    expect_refused(token(claims), JwtError::expired, strict);
    claims["exp"] = kNow;  // RFC 7519: now must be before exp
    expect_refused(token(claims), JwtError::expired, strict);
}

TEST(JwtVerifier, FractionalTimesAreAccepted) {
    json claims = good_claims();
    claims["exp"] = static_cast<double>(kNow) + 0.5;
    JwtExpectations strict = expectations();
    strict.clock_skew = 0s;
    EXPECT_TRUE(verify(token(claims), strict).ok());
}

TEST(JwtVerifier, RefusesNotYetValid) {
    json claims = good_claims();
    claims["nbf"] = kNow + 61;
    expect_refused(token(claims), JwtError::not_yet_valid);
    claims["nbf"] = kNow + 59;
    EXPECT_TRUE(verify(token(claims)).ok());
}

TEST(JwtVerifier, RefusesIssuedInTheFuture) {
    json claims = good_claims();
    claims["iat"] = kNow + 3600;
    expect_refused(token(claims), JwtError::not_yet_valid);
}

TEST(JwtVerifier, RequiresExp) {
    json claims = good_claims();
    claims.erase("exp");
    expect_refused(token(claims), JwtError::missing_claim);
    claims["exp"] = std::to_string(kNow + 600);  // a string is not a NumericDate
    expect_refused(token(claims), JwtError::missing_claim);
}

TEST(JwtVerifier, RequiresSubject) {
    json claims = good_claims();
    claims.erase("sub");
    expect_refused(token(claims), JwtError::missing_claim);
    claims["sub"] = 42;
    expect_refused(token(claims), JwtError::missing_claim);
}

TEST(JwtVerifier, RefusesWrongIssuer) {
    json claims = good_claims();
    claims["iss"] = "https://idp.example.com.evil";
    expect_refused(token(claims), JwtError::wrong_issuer);
    claims["iss"] = "https://idp.example.com/";  // exact match only
    expect_refused(token(claims), JwtError::wrong_issuer);
    claims.erase("iss");
    expect_refused(token(claims), JwtError::wrong_issuer);
}

TEST(JwtVerifier, RefusesWrongAudience) {
    json claims = good_claims();
    claims["aud"] = "someone-else";
    expect_refused(token(claims), JwtError::wrong_audience);
    claims["aud"] = {"a", "b"};
    expect_refused(token(claims), JwtError::wrong_audience);
    claims["aud"] = json::array();
    expect_refused(token(claims), JwtError::wrong_audience);
    claims["aud"] = 7;
    expect_refused(token(claims), JwtError::wrong_audience);
    claims.erase("aud");
    expect_refused(token(claims), JwtError::wrong_audience);
}

// --- malformed input ---

struct MalformedCase {
    const char* name;
    std::string jwt;
};

std::vector<MalformedCase> malformed_cases() {
    const std::string header = encode_base64url(R"({"alg":"ES256","kid":"ec-1"})");
    const std::string payload = encode_base64url(good_claims().dump());
    const std::string good = token(good_claims());
    const std::string sig = good.substr(good.rfind('.') + 1);
    return {
        {"Empty", ""},
        {"OneSegment", header},
        {"TwoSegments", header + "." + payload},
        {"FourSegments", header + "." + payload + "." + sig + "." + sig},
        {"EmptyHeader", "." + payload + "." + sig},
        {"EmptyPayload", header + ".." + sig},
        {"BadBase64InHeader", header + "!." + payload + "." + sig},
        {"StandardBase64Chars", header + "." + payload + "+/." + sig},
        {"Padding", header + "=." + payload + "." + sig},
        {"BadBase64InSignature", header + "." + payload + "." + sig + "*"},
        {"HeaderNotJson", encode_base64url("not json") + "." + payload + "." + sig},
        {"HeaderJsonArray", encode_base64url("[1,2]") + "." + payload + "." + sig},
        {"PayloadNotJson", header + "." + encode_base64url("{\"sub\":") + "." + sig},
        {"PayloadJsonString", header + "." + encode_base64url("\"x\"") + "." + sig},
        {"KidNotString",
         encode_base64url(R"({"alg":"ES256","kid":7})") + "." + payload + "." + sig},
        {"CritHeader", encode_base64url(R"({"alg":"ES256","kid":"ec-1","crit":["exp"]})") + "." +
                           payload + "." + sig},
        {"Oversized", header + "." + std::string(20000, 'A') + "." + sig},
    };
}

TEST(JwtVerifier, RefusesMalformedTokens) {
    for (const MalformedCase& c : malformed_cases()) {
        SCOPED_TRACE(c.name);
        expect_refused(c.jwt, JwtError::malformed);
    }
}

TEST(JwtVerifier, EveryTruncationIsRefusedCleanly) {
    const std::string jwt = token(good_claims(), JwsAlgorithm::eddsa);
    for (size_t len = 0; len < jwt.size(); ++len) {
        const JwtVerification v = verify(jwt.substr(0, len));
        ASSERT_FALSE(v.ok()) << len;
        ASSERT_NE(v.error, JwtError::none) << len;
    }
}

TEST(JwtVerifier, PeekReadsIssuerAndKidWithoutVerifying) {
    auto peeked = peek_jwt(token(good_claims()));
    ASSERT_TRUE(peeked.has_value());
    EXPECT_EQ(peeked->issuer, kIssuer);
    EXPECT_EQ(peeked->kid, "ec-1");
    EXPECT_FALSE(peek_jwt("sk-dummy").has_value());
}

TEST(JwtVerifier, ExpectationsFromConfig) {
    OidcIssuerConfig config;
    config.issuer = kIssuer;
    config.audiences = {"a", "b"};
    config.algorithms = {"EdDSA"};
    config.clock_skew_s = 5;
    config.claims.subject = "uid";
    const JwtExpectations e = expectations_for(config);
    EXPECT_EQ(e.issuer, kIssuer);
    EXPECT_EQ(e.audiences, (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(e.algorithms, (std::vector<JwsAlgorithm>{JwsAlgorithm::eddsa}));
    EXPECT_EQ(e.clock_skew, 5s);
    EXPECT_EQ(e.claim_names.subject, "uid");
}

}  // namespace
}  // namespace sluice
