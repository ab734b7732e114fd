// What sluice requires of a SAML 2.0 sign-in response once lasso has verified its signature
// (saml_login.h): the Web Browser SSO profile's checks (SAML Profiles §4.1.4.3, Core §2.5.1,
// §2.4.1.2), done here on plain values so they are tested without XML or keys.
//
//   - solicited: the response and its bearer confirmation answer the AuthnRequest this browser
//     started (InResponseTo); an unsolicited (IdP-initiated) response is refused;
//   - for us: Destination and the confirmation's Recipient are our ACS URL, and the audience
//     restriction names our entity id;
//   - in time: now within Conditions' NotBefore/NotOnOrAfter and before the confirmation's
//     NotOnOrAfter, give or take kSamlClockSkew;
//   - once: an assertion id is accepted once while it is valid (SeenAssertions).
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

inline constexpr std::chrono::seconds kSamlClockSkew{60};

// The values of a verified response the checks read ("" when absent).
struct SamlResponseFacts {
    std::string response_in_response_to;
    std::string destination;
    std::string assertion_id;
    std::string issuer;
    std::string name_id;
    std::string confirmation_method;
    std::string recipient;
    std::string confirmation_in_response_to;
    std::string confirmation_not_on_or_after;
    std::string not_before;
    std::string not_on_or_after;
    std::vector<std::vector<std::string>> audience_restrictions;  // each one's audiences
    std::map<std::string, std::vector<std::string>> attributes;   // name → values
};

struct SamlExpectations {
    std::string idp_entity_id;  // the assertion's Issuer, when it names one
    std::string sp_entity_id;
    std::string acs_url;
    std::string request_id;  // the AuthnRequest this browser's login sent
};

// xs:dateTime in UTC ("2026-12-07T18:50:00Z", fractions allowed); nullopt otherwise.
std::optional<std::chrono::system_clock::time_point> parse_saml_time(std::string_view text);

// "" when the response is acceptable; otherwise why not (one line, for the log).
std::string check_saml_response(const SamlResponseFacts& facts, const SamlExpectations& expected,
                                std::chrono::system_clock::time_point now);

// When the assertion stops being usable: the earlier of Conditions' and the confirmation's
// NotOnOrAfter (both are required by check_saml_response).
std::chrono::system_clock::time_point saml_assertion_expiry(const SamlResponseFacts& facts);

// Assertion ids already accepted, remembered until they expire. Bounded: when full of unexpired
// ids, a new one is refused (fail closed; only the IdP's own signed answers fill it, and a login
// is good once anyway, so this is the second lock on replay, not the first).
class SeenAssertions {
public:
    static constexpr std::size_t kMaxRemembered = 10000;
    // True the first time `id` is offered while unexpired; false for a replay.
    bool first_use(const std::string& id, std::chrono::system_clock::time_point expires,
                   std::chrono::system_clock::time_point now);

private:
    std::mutex mutex_;
    std::map<std::string, std::chrono::system_clock::time_point> seen_;  // guarded
};

}  // namespace sluice
