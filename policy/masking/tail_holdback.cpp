#include "policy/masking/tail_holdback.h"

#include <algorithm>
#include <array>
#include <initializer_list>

#include "policy/masking/char_class.h"
#include "policy/masking/extractors.h"

namespace sluice::masking {

namespace {

using Pred = bool (*)(char);

// Start of the run of `pred` characters that ends the text, scanning back at most `cap`.
std::size_t tail_run(std::string_view text, Pred pred, std::size_t cap) {
    std::size_t i = text.size();
    while (i > 0 && text.size() - i < cap && pred(text[i - 1])) --i;
    return i;
}

// Entities that may start anywhere in a run of their characters (after a separator inside
// it): hold the last `max_len` characters of the run, from the first one that can begin a
// match (a trailing ". " cannot begin a phone number).
std::size_t hold_run(std::string_view text, Pred pred, std::size_t max_len, Pred starts) {
    std::size_t i = tail_run(text, pred, max_len);
    while (i < text.size() && !starts(text[i])) ++i;
    return i;
}

// Entities that must start at the beginning of their run: nothing to hold once the run is
// longer than any match.
std::size_t hold_bounded_run(std::string_view text, Pred pred, std::size_t max_len) {
    const std::size_t start = tail_run(text, pred, max_len + 1);
    return text.size() - start > max_len ? text.size() : start;
}

// True when one of `a`, `b` is a prefix of the other.
bool prefix_compatible(std::string_view a, std::string_view b) {
    const std::size_t n = std::min(a.size(), b.size());
    return a.substr(0, n) == b.substr(0, n);
}

// Tokens that begin with a literal prefix at a non-alphanumeric boundary: hold from the first
// position in the tail run where such a token starts, or could once the prefix is complete.
std::size_t hold_prefixed(std::string_view text, Pred pred, std::size_t max_len,
                          std::initializer_list<std::string_view> prefixes) {
    const std::size_t start = tail_run(text, pred, max_len);
    for (std::size_t p = start; p < text.size(); ++p) {
        if (p > 0 && is_alnum(text[p - 1])) continue;
        const auto rest = text.substr(p);
        for (auto prefix : prefixes)
            if (prefix_compatible(rest, prefix)) return p;
    }
    return text.size();
}

bool is_email_char(char c) { return is_email_local(c) || c == '@'; }
bool starts_phone(char c) { return is_digit(c) || c == '+' || c == '('; }
bool starts_email(char c) { return is_email_local(c) && c != '.'; }
// Numbers are refused when a separator and a digit follow ("4111…1111.5", "415-555-2671/2"),
// so a trailing '.', '/' or '-' keeps the number before it waiting (+2 bytes of look-ahead).
bool is_card_char(char c) { return is_digit(c) || c == ' ' || c == '-' || c == '.' || c == '/'; }
bool is_phone_hold(char c) { return is_phone(c) || c == '/'; }
bool is_iban_char(char c) { return is_upper(c) || is_digit(c) || c == ' '; }
bool is_ipv4_char(char c) { return is_digit(c) || c == '.'; }
bool is_ipv6_char(char c) { return is_hex(c) || c == ':' || c == '.'; }
bool is_jwt_char(char c) { return is_b64url(c) || c == '.'; }
// While no END line has arrived, anything that could still be inside a PEM block (base64,
// header lines such as "Proc-Type: 4,ENCRYPTED") keeps it open.
bool is_pem_body(char c) {
    return is_b64(c) || c == '=' || c == '\n' || c == '\r' || c == ' ' || c == '\t' || c == ':' ||
           c == ',' || c == '-';
}

bool contains_secret_keyword(std::string_view text) {
    for (std::size_t i = 0; i + kSecretWord.size() <= text.size(); ++i)
        if (secret_word_at(text, i)) return true;
    return false;
}

// A 40-character key after a "secret" keyword: hold a short enough base64 run when the
// keyword is close enough before it.
std::size_t hold_aws_secret(std::string_view text) {
    const std::size_t start = hold_bounded_run(text, is_b64, kAwsSecretBytes);
    if (start == text.size()) return start;
    const std::size_t window = kAwsSecretWindowBytes + kSecretWord.size();
    const std::size_t from = start > window ? start - window : 0;
    return contains_secret_keyword(text.substr(from, start - from)) ? start : text.size();
}

// A BEGIN line not yet closed by its END line (or a BEGIN line still arriving).
std::size_t hold_private_key(std::string_view text) {
    static constexpr std::string_view kBegin = "-----BEGIN";
    const std::size_t window =
        text.size() > kPrivateKeyMaxBytes ? text.size() - kPrivateKeyMaxBytes : 0;
    const std::size_t begin = text.rfind(kBegin);
    if (begin != std::string_view::npos && begin >= window) {
        const std::size_t header_close = text.find("-----", begin + kBegin.size());
        if (header_close == std::string_view::npos) return begin;  // header still arriving
        const auto header = text.substr(begin, header_close - begin);
        if (header.find("PRIVATE KEY") != std::string_view::npos) {
            std::size_t i = header_close + 5;
            while (i < text.size() && is_pem_body(text[i])) {
                if (text.compare(i, 8, "-----END") == 0) {
                    // Closed once the END line's own closing dashes are in.
                    if (text.find("-----", i + 8) == std::string_view::npos) return begin;
                    i = text.size() + 1;
                    break;
                }
                ++i;
            }
            if (i == text.size()) return begin;  // body still going
        }
    }
    for (std::size_t k = std::min(kBegin.size(), text.size()); k > 0; --k)
        if (text.substr(text.size() - k) == kBegin.substr(0, k)) return text.size() - k;
    return text.size();
}

}  // namespace

std::size_t builtin_hold_from(std::string_view text, EntitySet enabled, std::size_t from) {
    std::size_t hold = text.size();
    auto on = [&](Entity e) { return enabled.contains(id_of(e)); };
    auto take = [&](std::size_t h) { hold = std::min(hold, h); };
    if (on(Entity::email)) take(hold_run(text, is_email_char, kEmailMaxBytes, starts_email));
    if (on(Entity::phone)) take(hold_run(text, is_phone_hold, kPhoneMaxBytes + 2, starts_phone));
    if (on(Entity::credit_card)) take(hold_run(text, is_card_char, kCardMaxBytes + 2, is_digit));
    if (on(Entity::iban)) take(hold_run(text, is_iban_char, kIbanMaxBytes, is_upper));
    if (on(Entity::us_ssn)) take(hold_run(text, is_card_char, kSsnMaxBytes + 2, is_digit));
    if (on(Entity::ipv4)) take(hold_bounded_run(text, is_ipv4_char, kIpv4MaxBytes + 1));
    if (on(Entity::ipv6)) take(hold_bounded_run(text, is_ipv6_char, kIpv6MaxBytes + 2));
    if (on(Entity::openai_key)) take(hold_prefixed(text, is_b64url, kTokenMaxBytes, {"sk-"}));
    if (on(Entity::aws_access_key))
        take(hold_prefixed(text, is_aws_id_char, 20,
                           {"AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AROA", "AIPA", "ANPA",
                            "ANVA", "APKA"}));
    if (on(Entity::aws_secret_key)) take(hold_aws_secret(text));
    if (on(Entity::github_token))
        take(hold_prefixed(text, is_word, kTokenMaxBytes,
                           {"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"}));
    if (on(Entity::slack_token))
        take(hold_prefixed(text, is_slack_char, kTokenMaxBytes,
                           {"xoxa-", "xoxb-", "xoxp-", "xoxo-", "xoxs-", "xoxr-", "xapp-"}));
    if (on(Entity::jwt)) take(hold_prefixed(text, is_jwt_char, kJwtMaxBytes, {"eyJ"}));
    if (on(Entity::private_key)) take(hold_private_key(text));
    return std::max(hold, from);
}

}  // namespace sluice::masking
