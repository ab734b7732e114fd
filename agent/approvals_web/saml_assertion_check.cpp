#include "agent/approvals_web/saml_assertion_check.h"

#include <algorithm>
#include <charconv>
#include <ctime>

namespace sluice {

namespace {

using TimePoint = std::chrono::system_clock::time_point;

bool digits(std::string_view text, std::size_t at, std::size_t count, int& out) {
    if (at + count > text.size()) return false;
    const char* begin = text.data() + at;
    auto [end, ec] = std::from_chars(begin, begin + count, out);
    return ec == std::errc{} && end == begin + count;
}

std::string check_time_window(const SamlResponseFacts& facts, TimePoint now) {
    const auto confirmation_end = parse_saml_time(facts.confirmation_not_on_or_after);
    if (!confirmation_end) return "the bearer confirmation has no valid NotOnOrAfter";
    if (now >= *confirmation_end + kSamlClockSkew) return "the bearer confirmation has expired";
    const auto end = parse_saml_time(facts.not_on_or_after);
    if (!end) return "the assertion's Conditions have no valid NotOnOrAfter";
    if (now >= *end + kSamlClockSkew) return "the assertion has expired (NotOnOrAfter)";
    if (!facts.not_before.empty()) {
        const auto begin = parse_saml_time(facts.not_before);
        if (!begin) return "the assertion's NotBefore is not a valid time";
        if (now + kSamlClockSkew < *begin) return "the assertion is not valid yet (NotBefore)";
    }
    return "";
}

}  // namespace

std::optional<TimePoint> parse_saml_time(std::string_view text) {
    // YYYY-MM-DDThh:mm:ss[.fraction]Z
    std::tm tm{};
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    if (text.size() < 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' ||
        text[13] != ':' || text[16] != ':' || text.back() != 'Z')
        return std::nullopt;
    if (!digits(text, 0, 4, year) || !digits(text, 5, 2, month) || !digits(text, 8, 2, day) ||
        !digits(text, 11, 2, hour) || !digits(text, 14, 2, minute) || !digits(text, 17, 2, second))
        return std::nullopt;
    std::string_view rest = text.substr(19, text.size() - 20);
    if (!rest.empty()) {
        if (rest.front() != '.' || rest.size() < 2 || rest.size() > 10) return std::nullopt;
        if (!std::all_of(rest.begin() + 1, rest.end(), [](char c) { return c >= '0' && c <= '9'; }))
            return std::nullopt;
    }
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60)
        return std::nullopt;
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    const std::time_t seconds = ::timegm(&tm);
    if (seconds == static_cast<std::time_t>(-1)) return std::nullopt;
    return std::chrono::system_clock::from_time_t(seconds);
}

std::string check_saml_response(const SamlResponseFacts& facts, const SamlExpectations& expected,
                                TimePoint now) {
    if (expected.request_id.empty() || facts.response_in_response_to.empty())
        return "an unsolicited response (no InResponseTo): sign-in must start here";
    if (facts.response_in_response_to != expected.request_id)
        return "the response answers another sign-in (InResponseTo)";
    if (!facts.destination.empty() && facts.destination != expected.acs_url)
        return "the response is addressed elsewhere (Destination " + facts.destination + ")";
    if (facts.assertion_id.empty()) return "the assertion has no ID";
    if (!facts.issuer.empty() && facts.issuer != expected.idp_entity_id)
        return "the assertion was issued by another IdP (" + facts.issuer + ")";
    if (facts.name_id.empty()) return "the assertion names no subject (NameID)";
    if (facts.confirmation_method != "urn:oasis:names:tc:SAML:2.0:cm:bearer")
        return "the subject confirmation is not bearer";
    if (facts.recipient != expected.acs_url)
        return "the bearer confirmation is for another recipient";
    if (facts.confirmation_in_response_to != expected.request_id)
        return "the bearer confirmation answers another sign-in (InResponseTo)";
    if (facts.audience_restrictions.empty()) return "the assertion has no audience restriction";
    for (const auto& audiences : facts.audience_restrictions) {
        if (std::find(audiences.begin(), audiences.end(), expected.sp_entity_id) == audiences.end())
            return "the assertion is for another audience";
    }
    return check_time_window(facts, now);
}

TimePoint saml_assertion_expiry(const SamlResponseFacts& facts) {
    const auto a = parse_saml_time(facts.not_on_or_after);
    const auto b = parse_saml_time(facts.confirmation_not_on_or_after);
    TimePoint end = TimePoint::max() - kSamlClockSkew;
    if (a) end = std::min(end, *a);
    if (b) end = std::min(end, *b);
    return end + kSamlClockSkew;
}

bool SeenAssertions::first_use(const std::string& id, TimePoint expires, TimePoint now) {
    const std::lock_guard lock(mutex_);
    std::erase_if(seen_, [&](const auto& item) { return item.second <= now; });
    if (seen_.contains(id)) return false;
    if (seen_.size() >= kMaxRemembered) return false;
    seen_.emplace(id, expires);
    return true;
}

}  // namespace sluice
