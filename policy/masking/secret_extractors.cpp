// Extractors for credentials: API keys and tokens, JWTs, PEM private keys (extractors.h).
#include "policy/masking/char_class.h"
#include "policy/masking/extractors.h"
#include "policy/masking/text_walk.h"

namespace sluice::masking {

namespace {

// A token that starts `prefix_len` bytes before the end of a fixed-length trigger and runs on
// over `pred` characters; refused when glued to a preceding letter or digit, or when longer
// than kTokenMaxBytes (then it is some other blob).
template <typename Pred>
std::size_t prefixed_token(std::string_view text, std::size_t start, std::size_t min_end, Pred pred,
                           Entity entity, Spans& out) {
    if (is_alnum(before(text, start))) return min_end;
    const std::size_t end = run_right(text, min_end, kTokenMaxBytes + 1, pred);
    if (end - start > kTokenMaxBytes) return end;
    out.push_back({start, end, id_of(entity)});
    return end;
}

}  // namespace

// Trigger: sk-[A-Za-z0-9_-]{20} (also sk-proj-, sk-svcacct-, sk-admin- keys).
std::size_t extract_openai_key(std::string_view text, std::size_t hit_end, Spans& out) {
    return prefixed_token(text, hit_end - 23, hit_end, is_b64url, Entity::openai_key, out);
}

// Trigger: (AKIA|ASIA|...)[A-Z0-9]{16}: exactly 20 characters.
std::size_t extract_aws_access_key(std::string_view text, std::size_t hit_end, Spans& out) {
    const std::size_t start = hit_end - 20;
    if (is_alnum(before(text, start)) || is_aws_id_char(at(text, hit_end))) return hit_end;
    out.push_back({start, hit_end, id_of(Entity::aws_access_key)});
    return hit_end;
}

// Trigger: "secret" (any case). The key is 40 base64 characters starting within
// kAwsSecretWindowBytes after it, mixing upper case, lower case and digits or symbols: the
// keyword keeps arbitrary 40-character identifiers from being masked.
std::size_t extract_aws_secret_key(std::string_view text, std::size_t hit_end, Spans& out) {
    const std::size_t limit = std::min(text.size(), hit_end + kAwsSecretWindowBytes);
    std::size_t i = hit_end;
    while (i < limit) {
        if (!is_b64(text[i]) || is_b64(before(text, i))) {
            ++i;
            continue;
        }
        const std::size_t end = run_right(text, i, kAwsSecretBytes + 1, is_b64);
        if (end - i == kAwsSecretBytes && !is_b64(at(text, end)) && at(text, end) != '=') {
            bool upper = false, lower = false, other = false;
            for (std::size_t k = i; k < end; ++k) {
                upper |= is_upper(text[k]);
                lower |= is_lower(text[k]);
                other |= !is_alpha(text[k]);
            }
            if (upper && lower && other) {
                out.push_back({i, end, id_of(Entity::aws_secret_key)});
                return end;
            }
        }
        i = end;
    }
    return hit_end;
}

// Trigger: gh[pousr]_[A-Za-z0-9]{36}.
std::size_t extract_github_classic(std::string_view text, std::size_t hit_end, Spans& out) {
    return prefixed_token(text, hit_end - 40, hit_end, is_alnum, Entity::github_token, out);
}

// Trigger: github_pat_[A-Za-z0-9_]{22}.
std::size_t extract_github_pat(std::string_view text, std::size_t hit_end, Spans& out) {
    return prefixed_token(text, hit_end - 33, hit_end, is_word, Entity::github_token, out);
}

// Trigger: xox[abposr]-[A-Za-z0-9-]{10}.
std::size_t extract_slack_token(std::string_view text, std::size_t hit_end, Spans& out) {
    return prefixed_token(text, hit_end - 15, hit_end, is_slack_char, Entity::slack_token, out);
}

// Trigger: xapp-\d-[A-Za-z0-9-]{10}.
std::size_t extract_slack_app_token(std::string_view text, std::size_t hit_end, Spans& out) {
    return prefixed_token(text, hit_end - 17, hit_end, is_slack_char, Entity::slack_token, out);
}

// Trigger: eyJ[A-Za-z0-9_-]*\.eyJ; hit_end - 4 is the dot before the payload.
std::size_t extract_jwt(std::string_view text, std::size_t hit_end, Spans& out) {
    const std::size_t dot = hit_end - 4;
    std::size_t begin = dot;
    while (begin > 0 && dot - begin <= kJwtMaxBytes && is_b64url(text[begin - 1])) --begin;
    if (text.substr(begin, 3) != "eyJ" || dot - begin > kJwtMaxBytes) return hit_end;
    if (before(text, begin) == '.') return hit_end;  // a third part of something longer
    std::size_t end = run_right(text, hit_end, kJwtMaxBytes, is_b64url);
    if (at(text, end) != '.') return end;
    end = run_right(text, end + 1, kJwtMaxBytes, is_b64url);
    if (end - begin > kJwtMaxBytes) return end;
    out.push_back({begin, end, id_of(Entity::jwt)});
    return end;
}

namespace {

bool is_pem_base64(char c) { return is_b64(c) || c == '=' || c == '\n' || c == '\r'; }

// What may stand between a BEGIN line and its END line (base64, "Proc-Type: 4,ENCRYPTED"
// headers). The stream hold-back (tail_holdback.cpp) keeps a block open on the same class.
bool is_pem_body(char c) {
    return is_pem_base64(c) || c == ' ' || c == '\t' || c == ':' || c == ',' || c == '-';
}

}  // namespace

// Trigger: -----BEGIN [A-Z0-9 ]*PRIVATE KEY-----. When an END line follows the body, the span
// runs to its closing dashes; otherwise (truncated paste, prose after the key) it covers the
// base64 that follows the BEGIN line, so an unterminated key is masked too.
std::size_t extract_private_key(std::string_view text, std::size_t hit_end, Spans& out) {
    const std::size_t window = hit_end > 80 ? hit_end - 80 : 0;
    const std::size_t begin = text.rfind("-----BEGIN", hit_end);
    if (begin == std::string_view::npos || begin < window) return hit_end;
    const std::size_t limit = std::min(text.size(), begin + kPrivateKeyMaxBytes);
    std::size_t end = hit_end;
    for (std::size_t i = hit_end; i < limit && is_pem_body(text[i]); ++i) {
        if (text.compare(i, 8, "-----END") != 0) continue;
        const std::size_t close = text.substr(0, limit).find("-----", i + 8);
        end = close == std::string_view::npos ? limit : close + 5;
        break;
    }
    if (end == hit_end) {
        while (end < limit && is_pem_base64(text[end])) ++end;
        while (end > hit_end && (text[end - 1] == '\n' || text[end - 1] == '\r')) --end;
    }
    out.push_back({begin, end, id_of(Entity::private_key)});
    return end;
}

}  // namespace sluice::masking
