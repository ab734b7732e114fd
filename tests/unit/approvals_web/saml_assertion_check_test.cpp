// What a SAML sign-in must satisfy once lasso has verified its signature: a good response
// passes, and every single spoiled property (generated from one table) is refused with a reason
// naming it; xs:dateTime parsing; an assertion id accepted once.
#include <gtest/gtest.h>

#include "agent/approvals_web/saml_assertion_check.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::system_clock;

const Clock::time_point kNow = *parse_saml_time("2026-12-07T18:00:00Z");

SamlExpectations expected() {
    return {"https://idp.test/metadata", "https://approvals.test/saml/metadata",
            "https://approvals.test/saml/acs", "_request42"};
}

SamlResponseFacts good() {
    SamlResponseFacts f;
    f.response_in_response_to = "_request42";
    f.destination = "https://approvals.test/saml/acs";
    f.assertion_id = "_assertion1";
    f.issuer = "https://idp.test/metadata";
    f.name_id = "dana";
    f.confirmation_method = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
    f.recipient = "https://approvals.test/saml/acs";
    f.confirmation_in_response_to = "_request42";
    f.confirmation_not_on_or_after = "2026-12-07T18:05:00Z";
    f.not_before = "2026-12-07T17:59:00Z";
    f.not_on_or_after = "2026-12-07T18:05:00Z";
    f.audience_restrictions = {{"https://approvals.test/saml/metadata"}};
    return f;
}

TEST(SamlAssertionCheck, AcceptsAGoodResponse) {
    EXPECT_EQ(check_saml_response(good(), expected(), kNow), "");
    SamlResponseFacts no_destination = good();
    no_destination.destination.clear();  // optional when the assertion is signed
    EXPECT_EQ(check_saml_response(no_destination, expected(), kNow), "");
}

struct Spoil {
    const char* name;
    void (*apply)(SamlResponseFacts&);
    const char* reason;  // a part of the refusal
};

TEST(SamlAssertionCheck, RefusesEachSpoiledProperty) {
    const Spoil spoils[] = {
        {"unsolicited", [](SamlResponseFacts& f) { f.response_in_response_to.clear(); },
         "unsolicited"},
        {"another request", [](SamlResponseFacts& f) { f.response_in_response_to = "_other"; },
         "another sign-in"},
        {"destination", [](SamlResponseFacts& f) { f.destination = "https://evil.test/acs"; },
         "addressed elsewhere"},
        {"no assertion id", [](SamlResponseFacts& f) { f.assertion_id.clear(); }, "no ID"},
        {"other issuer", [](SamlResponseFacts& f) { f.issuer = "https://evil.test"; },
         "another IdP"},
        {"no subject", [](SamlResponseFacts& f) { f.name_id.clear(); }, "NameID"},
        {"holder-of-key",
         [](SamlResponseFacts& f) {
             f.confirmation_method = "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key";
         },
         "not bearer"},
        {"recipient", [](SamlResponseFacts& f) { f.recipient = "https://other.test/acs"; },
         "another recipient"},
        {"confirmation for another request",
         [](SamlResponseFacts& f) { f.confirmation_in_response_to = "_other"; }, "another sign-in"},
        {"confirmation without InResponseTo",
         [](SamlResponseFacts& f) { f.confirmation_in_response_to.clear(); }, "another sign-in"},
        {"no audience restriction", [](SamlResponseFacts& f) { f.audience_restrictions.clear(); },
         "no audience"},
        {"wrong audience",
         [](SamlResponseFacts& f) { f.audience_restrictions = {{"https://other-sp.test"}}; },
         "another audience"},
        {"a second restriction without us",
         [](SamlResponseFacts& f) { f.audience_restrictions.push_back({"https://other.test"}); },
         "another audience"},
        {"expired conditions",
         [](SamlResponseFacts& f) { f.not_on_or_after = "2026-12-07T17:58:59Z"; }, "expired"},
        {"expired confirmation",
         [](SamlResponseFacts& f) { f.confirmation_not_on_or_after = "2026-12-07T17:58:59Z"; },
         "expired"},
        {"no NotOnOrAfter", [](SamlResponseFacts& f) { f.not_on_or_after.clear(); },
         "NotOnOrAfter"},
        {"no confirmation NotOnOrAfter",
         [](SamlResponseFacts& f) { f.confirmation_not_on_or_after.clear(); }, "NotOnOrAfter"},
        {"not yet valid", [](SamlResponseFacts& f) { f.not_before = "2026-12-07T18:01:01Z"; },
         "not valid yet"},
        {"garbled NotBefore", [](SamlResponseFacts& f) { f.not_before = "yesterday"; },
         "NotBefore"},
    };
    for (const Spoil& spoil : spoils) {
        SamlResponseFacts facts = good();
        spoil.apply(facts);
        const std::string why = check_saml_response(facts, expected(), kNow);
        EXPECT_NE(why.find(spoil.reason), std::string::npos) << spoil.name << ": " << why;
    }
    SamlExpectations no_request = expected();
    no_request.request_id.clear();
    SamlResponseFacts unsolicited = good();
    unsolicited.response_in_response_to.clear();
    unsolicited.confirmation_in_response_to.clear();
    EXPECT_NE(check_saml_response(unsolicited, no_request, kNow), "")
        << "no login and no InResponseTo is still unsolicited";
}

TEST(SamlAssertionCheck, AllowsOneMinuteOfClockSkewAndNoMore) {
    SamlResponseFacts facts = good();
    EXPECT_EQ(check_saml_response(facts, expected(), kNow + 5min + 59s), "");
    EXPECT_NE(check_saml_response(facts, expected(), kNow + 6min), "");
    EXPECT_EQ(check_saml_response(facts, expected(), kNow - 2min), "");
    EXPECT_NE(check_saml_response(facts, expected(), kNow - 2min - 1s), "");
}

TEST(SamlTime, ParsesUtcDateTimesAndRefusesTheRest) {
    EXPECT_EQ(parse_saml_time("1970-01-01T00:00:10Z"), Clock::from_time_t(10));
    EXPECT_EQ(parse_saml_time("1970-01-01T00:00:10.123Z"), Clock::from_time_t(10));
    for (const char* bad :
         {"", "1970-01-01T00:00:10", "1970-01-01 00:00:10Z", "1970-01-01T00:00:10+01:00",
          "1970-13-01T00:00:10Z", "1970-01-01T24:00:10Z", "197O-01-01T00:00:10Z",
          "1970-01-01T00:00:10.Z", "1970-01-01T00:00:10.12345678901Z", "1970-01-01T00:00:1xZ"})
        EXPECT_FALSE(parse_saml_time(bad)) << bad;
}

TEST(SeenAssertions, AcceptsAnIdOnceUntilItExpires) {
    SeenAssertions seen;
    EXPECT_TRUE(seen.first_use("_a", kNow + 5min, kNow));
    EXPECT_FALSE(seen.first_use("_a", kNow + 5min, kNow + 1min)) << "a replay";
    EXPECT_TRUE(seen.first_use("_b", kNow + 5min, kNow + 1min));
    EXPECT_TRUE(seen.first_use("_a", kNow + 11min, kNow + 6min))
        << "forgotten once expired (and then refused by its own NotOnOrAfter)";
    EXPECT_EQ(saml_assertion_expiry(good()), kNow + 5min + kSamlClockSkew);
}

TEST(SeenAssertions, WhenFullRefusesRatherThanForgets) {
    SeenAssertions seen;
    for (std::size_t i = 0; i < SeenAssertions::kMaxRemembered; ++i)
        ASSERT_TRUE(seen.first_use("_" + std::to_string(i), kNow + 5min, kNow));
    EXPECT_FALSE(seen.first_use("_new", kNow + 5min, kNow));
    EXPECT_FALSE(seen.first_use("_0", kNow + 5min, kNow)) << "still remembered";
    EXPECT_TRUE(seen.first_use("_new", kNow + 11min, kNow + 6min)) << "room once they expire";
}

}  // namespace
}  // namespace sluice
