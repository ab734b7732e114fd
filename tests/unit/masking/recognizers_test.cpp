// Tables of true and false positives per recognizer: what must be found (with its exact
// extent) and look-alikes that must be left alone.
#include "policy/masking/recognizers.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "policy/masking/validators.h"

namespace sluice::masking {
namespace {

EntitySet all_builtins() {
    EntitySet set;
    for (std::size_t i = 0; i < kBuiltinEntityCount; ++i) set.add(static_cast<EntityId>(i));
    return set;
}

// The entity names and matched texts found in `text`.
std::vector<std::pair<std::string, std::string>> found(const std::string& text,
                                                       EntitySet enabled = all_builtins()) {
    Spans spans;
    EXPECT_TRUE(RecognizerSet::builtin()->find(text, enabled, spans));
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& s : spans)
        out.emplace_back(RecognizerSet::builtin()->config_name(s.entity),
                         text.substr(s.begin, s.end - s.begin));
    return out;
}

struct Case {
    const char* entity;
    const char* text;   // surrounded by prose in the test
    const char* match;  // expected extent; nullptr: nothing found
};

const Case kCases[] = {
    // email
    {"email", "mail john.doe+tag@example.co.uk now", "john.doe+tag@example.co.uk"},
    {"email", "<a_b-c@sub.example.org>.", "a_b-c@sub.example.org"},
    {"email", "ends with a dot: x@example.com.", "x@example.com"},
    {"email", "no tld: user@localhost", nullptr},
    {"email", "numeric tld: user@example.123", nullptr},
    {"email", "double dot: user@example..com", nullptr},
    {"email", "twitter @handle and a@b", nullptr},
    {"email", "dots in local: a..b@example.com", nullptr},
    // phone
    {"phone", "call +1 415 555 2671 today", "+1 415 555 2671"},
    {"phone", "call +14155552671.", "+14155552671"},
    {"phone", "uk +44 (0)20 7946 0958 office", "+44 (0)20 7946 0958"},
    {"phone", "de +49 30 12345678 ok", "+49 30 12345678"},
    {"phone", "us (415) 555-2671 ok", "(415) 555-2671"},
    {"phone", "us 415-555-2671 ok", "415-555-2671"},
    {"phone", "us 415.555.2671 ok", "415.555.2671"},
    {"phone", "us 1-800-555-0199 ok", "1-800-555-0199"},
    {"phone", "uk 020 7946 0958 ok", "020 7946 0958"},
    {"phone", "fr 06 12 34 56 78 ok", "06 12 34 56 78"},
    {"phone", "date 2024-10-12 ok", nullptr},
    // Found by masker-fuzz: a dotted number right after must not veto the shorter grouping.
    {"phone", "uk +44 20 7946 0958 0.0.0.1 next", "+44 20 7946 0958"},
    {"phone", "area code 1xx: 115-555-2671", nullptr},
    {"phone", "too short +1234", nullptr},
    {"phone", "version 1.2.3 and 10 000 people", nullptr},
    {"phone", "math 3+4=7", nullptr},
    // credit cards (Luhn + issuer)
    {"credit_card", "visa 4111 1111 1111 1111 exp", "4111 1111 1111 1111"},
    {"credit_card", "visa 4111-1111-1111-1111.", "4111-1111-1111-1111"},
    {"credit_card", "visa 4111111111111111,", "4111111111111111"},
    {"credit_card", "mc 5555555555554444 ok", "5555555555554444"},
    {"credit_card", "amex 3782 822463 10005 ok", "3782 822463 10005"},
    {"credit_card", "amex 378282246310005 ok", "378282246310005"},
    {"credit_card", "discover 6011111111111117 ok", "6011111111111117"},
    {"credit_card", "bad luhn 4111 1111 1111 1112 ok", nullptr},
    {"credit_card", "unknown issuer 9111111111111111", nullptr},
    {"credit_card", "glued ID4111111111111111", nullptr},
    {"credit_card", "too long 41111111111111111111111", nullptr},
    {"credit_card", "decimal 3.4111111111111111", nullptr},
    {"credit_card", "mixed seps 4111 1111-1111 1111", nullptr},
    // IBAN (mod-97)
    {"iban", "iban DE89 3704 0044 0532 0130 00 ok", "DE89 3704 0044 0532 0130 00"},
    {"iban", "iban DE89370400440532013000.", "DE89370400440532013000"},
    {"iban", "iban GB82WEST12345698765432 ok", "GB82WEST12345698765432"},
    {"iban", "iban FR1420041010050500013M02606 ok", "FR1420041010050500013M02606"},
    {"iban", "bad checksum DE89370400440532013001", nullptr},
    {"iban", "wrong length DE8937040044053201300", nullptr},
    {"iban", "unknown country ZZ89370400440532013000", nullptr},
    // SSN
    {"us_ssn", "ssn 123-45-6789 ok", "123-45-6789"},
    {"us_ssn", "ssn 078 05 1120 ok", "078 05 1120"},
    {"us_ssn", "area 000: 000-12-3456", nullptr},
    {"us_ssn", "area 666: 666-12-3456", nullptr},
    {"us_ssn", "area 9xx: 912-12-3456", nullptr},
    {"us_ssn", "group 00: 123-00-4567", nullptr},
    {"us_ssn", "serial 0000: 123-45-0000", nullptr},
    {"us_ssn", "mixed seps 123-45 6789", nullptr},
    {"us_ssn", "longer 1-123-45-6789-2", nullptr},
    // IPv4
    {"ipv4", "host 192.168.1.20 up", "192.168.1.20"},
    {"ipv4", "dns 8.8.8.8.", "8.8.8.8"},
    {"ipv4", "bind 10.0.0.1:8080", "10.0.0.1"},
    {"ipv4", "octet 256.1.1.1", nullptr},
    {"ipv4", "leading zero 01.2.3.4", nullptr},
    {"ipv4", "version 1.2.3.4.5", nullptr},
    {"ipv4", "glued v1.2.3.4", nullptr},
    // IPv6
    {"ipv6", "addr 2001:db8::8a2e:370:7334 up", "2001:db8::8a2e:370:7334"},
    {"ipv6", "link fe80::1 up", "fe80::1"},
    {"ipv6", "full 2001:0db8:0000:0000:0000:ff00:0042:8329.",
     "2001:0db8:0000:0000:0000:ff00:0042:8329"},
    {"ipv6", "url [2001:db8::1]:443", "2001:db8::1"},
    {"ipv6", "mapped ::ffff:192.0.2.1 ok", "::ffff:192.0.2.1"},
    {"ipv6", "c++ std::vector<int>", nullptr},
    {"ipv6", "time 10:30:45", nullptr},
    {"ipv6", "mac 00:1a:2b:3c:4d:5e", nullptr},
    {"ipv6", "loopback ::1", nullptr},
    // OpenAI keys
    {"openai_key", "key sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789 ok",
     "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"},
    {"openai_key", "OPENAI_API_KEY=sk-abcdefghijklmnopqrstuvwxyz12",
     "sk-abcdefghijklmnopqrstuvwxyz12"},
    {"openai_key", "short sk-abc123", nullptr},
    {"openai_key", "glued task-abcdefghijklmnopqrstuvwxyz12", nullptr},
    // AWS
    {"aws_access_key", "id AKIAIOSFODNN7EXAMPLE ok", "AKIAIOSFODNN7EXAMPLE"},
    {"aws_access_key", "longer AKIAIOSFODNN7EXAMPLEX", nullptr},
    {"aws_secret_key", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
     "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
    {"aws_secret_key", "\"SecretAccessKey\": \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\"",
     "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
    {"aws_secret_key", "no keyword wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", nullptr},
    {"aws_secret_key", "secret but 41 wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEYZ", nullptr},
    // GitHub
    {"github_token", "token ghp_abcdefghijklmnopqrstuvwxyz0123456789 ok",
     "ghp_abcdefghijklmnopqrstuvwxyz0123456789"},
    {"github_token",
     "pat "
     "github_pat_11ABCDEFG0123456789abc_"
     "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVW ok",
     "github_pat_11ABCDEFG0123456789abc_"
     "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVW"},
    {"github_token", "short ghp_abc", nullptr},
    // Slack
    {"slack_token", "bot xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx ok",
     "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"},
    {"slack_token", "app xapp-1-A0123456789-1234567890123-abcdef ok",
     "xapp-1-A0123456789-1234567890123-abcdef"},
    {"slack_token", "short xoxb-123", nullptr},
    // JWT
    {"jwt",
     "auth "
     "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U "
     "ok",
     "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_"
     "XgL0n3I9PlFUP0THsR8U"},
    {"jwt", "unsigned eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0. ok",
     "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."},
    {"jwt", "two parts eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0 only", nullptr},
    // PEM private keys
    {"private_key",
     "key:\n-----BEGIN RSA PRIVATE "
     "KEY-----"
     "\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\nKUpRKfFLfRYC9AIKjbJTWit+"
     "CqvjWYzvQwECAwEAAQ==\n-----END RSA PRIVATE KEY-----\nthanks",
     "-----BEGIN RSA PRIVATE "
     "KEY-----"
     "\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\nKUpRKfFLfRYC9AIKjbJTWit+"
     "CqvjWYzvQwECAwEAAQ==\n-----END RSA PRIVATE KEY-----"},
    {"private_key", "truncated -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n",
     "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC"},
    {"private_key", "cert -----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----", nullptr},
};

TEST(Recognizers, TruePositivesAndLookAlikesPerEntity) {
    for (const auto& c : kCases) {
        const std::string text = std::string("Before. ") + c.text + " After.";
        EntitySet only;
        only.add(*RecognizerSet::builtin()->find_entity(c.entity));
        auto result = found(text, only);
        if (c.match == nullptr) {
            EXPECT_TRUE(result.empty()) << c.entity << ": '" << c.text << "' found '"
                                        << (result.empty() ? "" : result[0].second) << "'";
        } else {
            ASSERT_EQ(result.size(), 1u) << c.entity << ": '" << c.text << "'";
            EXPECT_EQ(result[0].second, c.match) << c.entity;
        }
    }
}

TEST(Recognizers, AllRecognizersOnGiveTheSameAnswerForTruePositives) {
    for (const auto& c : kCases) {
        if (!c.match) continue;
        auto result = found(std::string("Before. ") + c.text + " After.");
        bool seen = false;
        for (const auto& [entity, match] : result) seen |= entity == c.entity && match == c.match;
        EXPECT_TRUE(seen) << c.entity << ": '" << c.text << "'";
    }
}

TEST(Recognizers, SecretsWinOverOverlappingPii) {
    // The AWS secret key contains digit runs; the JWT contains "::"-free hex; the key wins.
    auto result = found("aws secret: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
    ASSERT_EQ(result.size(), 1u);
    EXPECT_EQ(result[0].first, "aws_secret_key");
}

// Numbers inside a token are skipped, not the numbers next to it; an IBAN's inner groups are
// not also reported as a phone or card.
TEST(Recognizers, NumbersBesideTokensAndIbansAreStillFound) {
    auto result = found(
        "key xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx 4111 1111 1111 1111 and "
        "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789 +1 415 555 2671, "
        "IBAN DE89 3704 0044 0532 0130 00 then 123-45-6789");
    ASSERT_EQ(result.size(), 6u);
    EXPECT_EQ(result[0].first, "slack_token");
    EXPECT_EQ(result[1],
              (std::pair<std::string, std::string>{"credit_card", "4111 1111 1111 1111"}));
    EXPECT_EQ(result[2].first, "openai_key");
    EXPECT_EQ(result[3], (std::pair<std::string, std::string>{"phone", "+1 415 555 2671"}));
    EXPECT_EQ(result[4],
              (std::pair<std::string, std::string>{"iban", "DE89 3704 0044 0532 0130 00"}));
    EXPECT_EQ(result[5], (std::pair<std::string, std::string>{"us_ssn", "123-45-6789"}));
}

TEST(Recognizers, CleanProseHasNoMatches) {
    EXPECT_TRUE(found("The quick brown fox jumps over the lazy dog. In 2023, 45 people met at "
                      "10:30 to discuss std::map, version 1.2.3 and C++20 features: a + b = c.")
                    .empty());
}

TEST(Recognizers, SeveralEntitiesInOneText) {
    auto result = found("Mail a@example.com or call 415-555-2671; card 4111111111111111.");
    ASSERT_EQ(result.size(), 3u);
    EXPECT_EQ(result[0].first, "email");
    EXPECT_EQ(result[1].first, "phone");
    EXPECT_EQ(result[2].first, "credit_card");
}

TEST(Recognizers, CustomPatternsAreFoundAndRankedAboveGenericPii) {
    std::string error;
    auto set = RecognizerSet::compile(
        {{"employee_id", R"(EMP-\d{6})", 16}, {"ticket", R"(TICKET-[0-9]+)", 32}}, error);
    ASSERT_TRUE(set) << error;
    EntitySet enabled;
    enabled.add(*set->find_entity("employee_id"));
    enabled.add(*set->find_entity("ticket"));
    Spans spans;
    ASSERT_TRUE(set->find("id EMP-123456 and TICKET-42, EMP-12", enabled, spans));
    ASSERT_EQ(spans.size(), 2u);
    EXPECT_EQ(set->label(spans[0].entity), "EMPLOYEE_ID");
    EXPECT_EQ(set->label(spans[1].entity), "TICKET");
}

TEST(Recognizers, BadCustomPatternsAreRefused) {
    std::string error;
    EXPECT_FALSE(RecognizerSet::compile({{"bad", "(unclosed", 16}}, error));
    EXPECT_NE(error.find("bad"), std::string::npos);
    EXPECT_FALSE(RecognizerSet::compile({{"empty", "a*", 16}}, error));
    EXPECT_NE(error.find("empty string"), std::string::npos);
}

// Found by masker-fuzz: what a run of numbers yields must not depend on where a trigger
// window starts, so masking already-masked text changes nothing.
TEST(Recognizers, RedactionIsAFixedPoint) {
    const std::string text =
        "DE80 3704 0044 0532 0130 00 +44 20 7946 0958 0.0.0.1 kex 1234 4111 1111 1111 1111 "
        "123-45-6789-123-45-6789 415-555-2671 415-555-2671";
    Spans first;
    ASSERT_TRUE(RecognizerSet::builtin()->find(text, all_builtins(), first));
    std::string masked;
    std::size_t pos = 0;
    for (const auto& s : first) {
        masked += text.substr(pos, s.begin - pos) + "[X]";
        pos = s.end;
    }
    masked += text.substr(pos);
    Spans second;
    ASSERT_TRUE(RecognizerSet::builtin()->find(masked, all_builtins(), second));
    EXPECT_TRUE(second.empty()) << masked;
}

TEST(Validators, Checksums) {
    EXPECT_TRUE(luhn_valid("4111111111111111"));
    EXPECT_FALSE(luhn_valid("4111111111111112"));
    EXPECT_TRUE(iban_valid("GB82WEST12345698765432"));
    EXPECT_FALSE(iban_valid("GB82WEST12345698765433"));
    EXPECT_FALSE(iban_valid("GB82west12345698765432"));
    EXPECT_TRUE(ssn_valid("123456789"));
    EXPECT_FALSE(ssn_valid("000456789"));
    EXPECT_TRUE(ipv4_valid("0.0.0.0"));
    EXPECT_FALSE(ipv4_valid("1.2.3"));
    EXPECT_TRUE(ipv6_valid("2001:db8::1"));
    EXPECT_FALSE(ipv6_valid("2001:db8:::1"));
}

}  // namespace
}  // namespace sluice::masking
