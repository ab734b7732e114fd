// Extractors for personal data: email, phone, card, IBAN, SSN, IP addresses (extractors.h).
#include <algorithm>
#include <cstring>
#include <string>

#include "policy/masking/char_class.h"
#include "policy/masking/extractors.h"
#include "policy/masking/text_walk.h"
#include "policy/masking/validators.h"

namespace sluice::masking {

namespace {

bool domain_valid(std::string_view domain) {
    if (domain.size() > 253) return false;
    int labels = 0;
    std::size_t start = 0;
    while (start <= domain.size()) {
        auto dot = domain.find('.', start);
        if (dot == std::string_view::npos) dot = domain.size();
        auto label = domain.substr(start, dot - start);
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
            return false;
        ++labels;
        if (dot == domain.size()) {
            if (label.size() < 2) return false;
            for (char c : label)
                if (!is_alpha(c)) return false;
            break;
        }
        start = dot + 1;
    }
    return labels >= 2;
}

}  // namespace

// Trigger: [local]@[alnum]; hit_end - 2 is the '@'.
std::size_t extract_email(std::string_view text, std::size_t hit_end, Spans& out) {
    const std::size_t at_sign = hit_end - 2;
    std::size_t local = run_left(text, at_sign, 65, is_email_local);
    if (at_sign - local > 64) return hit_end;  // a run too long to be a local part
    while (local < at_sign && text[local] == '.') ++local;
    auto local_part = text.substr(local, at_sign - local);
    if (local_part.empty() || local_part.back() == '.' ||
        local_part.find("..") != std::string_view::npos)
        return hit_end;
    std::size_t end = run_right(text, at_sign + 1, 254, is_domain);
    const std::size_t examined = end;
    while (end > at_sign + 1 && (text[end - 1] == '.' || text[end - 1] == '-')) --end;
    if (is_domain(at(text, examined)) || end - local > kEmailMaxBytes) return examined;
    if (!domain_valid(text.substr(at_sign + 1, end - at_sign - 1))) return examined;
    out.push_back({local, end, id_of(Entity::email)});
    return examined;
}

namespace {

bool is_sep(char c) { return c == ' ' || c == '-' || c == '.'; }

// Counts digits of `text[p..)` through a run of digits; returns the position after them.
std::size_t digits_at(std::string_view text, std::size_t p, int& count) {
    while (p < text.size() && is_digit(text[p])) {
        ++p;
        ++count;
    }
    return p;
}

// A digit or a separator-then-digit right after `end` means the number goes on.
bool continues(std::string_view text, std::size_t end) {
    char c = at(text, end);
    if (is_alnum(c)) return true;
    return (is_sep(c) || c == '/') && is_digit(at(text, end + 1)) && c != ' ';
}

// E.164 with optional grouping: "+14155552671", "+44 20 7946 0958", "+44 (0)20 7946 0958".
// The longest grouping that ends cleanly wins, so what follows (". 10.0.0.1") cannot veto it.
std::size_t parse_e164(std::string_view text, std::size_t p) {
    if (at(text, p) != '+' || at(text, p + 1) < '1' || at(text, p + 1) > '9') return 0;
    int count = 0;
    std::size_t i = digits_at(text, p + 1, count);
    if (count > 15) return 0;
    auto ok = [&](std::size_t end) {
        return count >= 8 && count <= 15 && end - p <= kPhoneMaxBytes && !continues(text, end);
    };
    std::size_t best = ok(i) ? i : 0;
    while (count <= 15 && i - p <= kPhoneMaxBytes) {
        std::size_t j = i;
        if (is_sep(at(text, j))) ++j;
        if (at(text, j) == '(') {
            int inner = 0;
            std::size_t k = digits_at(text, j + 1, inner);
            if (inner == 0 || inner > 4 || at(text, k) != ')') break;
            count += inner;
            j = k + 1;
            if (at(text, j) == ' ') ++j;
        }
        if (!is_digit(at(text, j))) break;
        i = digits_at(text, j, count);
        if (ok(i)) best = i;
    }
    return best;
}

// NANP: "(415) 555-2671", "415-555-2671", "415.555.2671", "415 555 2671", "1-415-555-2671".
std::size_t parse_nanp(std::string_view text, std::size_t p) {
    std::size_t i = p;
    if (at(text, i) == '1' && is_sep(at(text, i + 1)) &&
        (at(text, i + 2) == '(' || is_digit(at(text, i + 2))))
        i += 2;
    auto three = [&](std::size_t q) {
        return is_digit(at(text, q)) && is_digit(at(text, q + 1)) && is_digit(at(text, q + 2));
    };
    char area_first;
    if (at(text, i) == '(') {
        if (!three(i + 1) || at(text, i + 4) != ')') return 0;
        area_first = text[i + 1];
        i += 5;
        if (at(text, i) == ' ' || at(text, i) == '-') ++i;
    } else {
        if (!three(i) || !is_sep(at(text, i + 3))) return 0;
        area_first = text[i];
        i += 4;
    }
    if (!three(i) || !is_sep(at(text, i + 3))) return 0;
    const char exchange_first = text[i];
    i += 4;
    if (!three(i) || !is_digit(at(text, i + 3))) return 0;
    i += 4;
    if (area_first < '2' || exchange_first < '2' || continues(text, i)) return 0;
    return i;
}

// National numbers with a trunk 0 and grouping: "020 7946 0958", "06 12 34 56 78",
// "030-1234-5678". 10 or 11 digits, one kind of separator.
std::size_t parse_trunk(std::string_view text, std::size_t p) {
    if (at(text, p) != '0') return 0;
    int count = 0;
    std::size_t i = digits_at(text, p, count);
    if (count < 2 || count > 5) return 0;
    const char sep = at(text, i);
    if (sep != ' ' && sep != '-') return 0;
    int groups = 1;
    std::size_t best = 0;
    while (at(text, i) == sep && is_digit(at(text, i + 1))) {
        int group = 0;
        std::size_t j = digits_at(text, i + 1, group);
        if (group < 2 || group > 4 || count + group > 11) break;
        count += group;
        ++groups;
        i = j;
        if (groups >= 3 && count >= 10 && !continues(text, i)) best = i;
    }
    return best;
}

}  // namespace

std::size_t extract_phone(std::string_view text, std::size_t hit_end, Spans& out) {
    const std::size_t left = run_left(text, hit_end, 2 * kPhoneMaxBytes, is_phone);
    const std::size_t right = run_right(text, hit_end, 2 * kPhoneMaxBytes, is_phone);
    std::size_t p = left;
    while (p < right) {
        const char c = text[p];
        const char prev = before(text, p);
        const bool can_start = (c == '+' || c == '(' || is_digit(c)) && !is_alnum(prev) &&
                               prev != '+' &&
                               !((prev == '-' || prev == '.') && is_digit(before(text, p - 1)));
        std::size_t end = 0;
        if (can_start) {
            end = std::max({parse_e164(text, p), parse_nanp(text, p), parse_trunk(text, p)});
        }
        // Every parse is a candidate: resolution picks leftmost-longest, so the outcome does
        // not depend on where this window happened to start.
        if (end) out.push_back({p, end, id_of(Entity::phone)});
        ++p;
    }
    return right;
}

namespace {

bool is_card_char(char c) { return is_digit(c) || c == ' ' || c == '-'; }

struct DigitGroup {
    std::size_t begin, end;
};

// The runs of digits in text[left, right), at most N of them.
template <std::size_t N>
std::size_t digit_groups(std::string_view text, std::size_t left, std::size_t right,
                         DigitGroup (&groups)[N]) {
    std::size_t count = 0;
    for (std::size_t i = left; i < right && count < N;) {
        if (!is_digit(text[i])) {
            ++i;
            continue;
        }
        std::size_t j = i;
        while (j < right && is_digit(text[j])) ++j;
        groups[count++] = {i, j};
        i = j;
    }
    return count;
}

}  // namespace

// Trigger: \d{4}[ -]?\d{4}[ -]?\d{2}. Groups of digits separated by single spaces or dashes
// are tried from each group on, longest valid card first.
std::size_t extract_card(std::string_view text, std::size_t hit_end, Spans& out) {
    std::size_t left = run_left(text, hit_end, 2 * kCardMaxBytes + 8, is_card_char);
    const std::size_t right = run_right(text, hit_end, 2 * kCardMaxBytes + 8, is_card_char);
    DigitGroup groups[32];
    const std::size_t ngroups = digit_groups(text, left, right, groups);
    std::size_t g = 0;
    while (g < ngroups) {
        const std::size_t start = groups[g].begin;
        // The same rule wherever this window starts: a card may follow another number only
        // after a space (cards in a list), never inside a dashed or dotted number.
        const char prev = before(text, start);
        const bool after_number = start >= 2 && is_digit(text[start - 2]);
        // Every issuer's range starts with 2-6 (card_issuer_valid).
        bool start_ok = !is_alnum(prev) && text[start] >= '2' && text[start] <= '6';
        if ((prev == '-' || prev == '.' || prev == ',') && after_number) start_ok = false;
        std::size_t best = ngroups;
        if (start_ok) {
            char digit_buffer[20];  // a card has at most 19 digits
            std::size_t ndigits = 0;
            char sep = 0;
            for (std::size_t k = g; k < ngroups; ++k) {
                const std::size_t len = groups[k].end - groups[k].begin;
                if (k > g) {
                    if (groups[k - 1].end + 1 != groups[k].begin) break;  // not one separator
                    const char s = text[groups[k].begin - 1];
                    if (sep && s != sep) break;
                    sep = s;
                    const std::size_t prev_len = groups[k - 1].end - groups[k - 1].begin;
                    if (prev_len < 4 || prev_len > 6) break;
                }
                if (len > 19 || ndigits + len > 19) break;
                std::memcpy(digit_buffer + ndigits, text.data() + groups[k].begin, len);
                ndigits += len;
                const std::string_view digits(digit_buffer, ndigits);
                if (k > g && (len < 2 || len > 6)) continue;
                const bool after_ok = !continues(text, groups[k].end) ||
                                      (k + 1 < ngroups && text[groups[k].end] == ' ');
                if (digits.size() >= 13 && after_ok && card_issuer_valid(digits) &&
                    luhn_valid(digits))
                    best = k;
            }
        }
        if (best < ngroups) out.push_back({start, groups[best].end, id_of(Entity::credit_card)});
        ++g;  // overlapping candidates are settled by resolution, independent of the window
    }
    return right;
}

// Digit scanner: `start` is where two capitals and two digits begin.
std::size_t extract_iban(std::string_view text, std::size_t start, Spans& out) {
    if (start + 8 > text.size() || is_alnum(before(text, start))) return start + 1;
    const bool spaced = text[start + 4] == ' ';
    const int length = iban_length(text.substr(start, 2));
    if (length == 0) return start + 1;
    char compact[34];
    int count = 0;
    std::size_t i = start;
    while (count < length) {
        const char c = at(text, i);
        if (!is_upper(c) && !is_digit(c)) return start + 1;
        compact[count++] = c;
        ++i;
        if (spaced && count % 4 == 0 && count < length) {
            if (at(text, i) != ' ') return start + 1;
            ++i;
        }
    }
    if (is_alnum(at(text, i)) ||
        !iban_valid(std::string_view(compact, static_cast<std::size_t>(count))))
        return start + 1;
    out.push_back({start, i, id_of(Entity::iban)});
    return i;
}

// Digit scanner: groups of 3, 2 and 4 digits joined by one kind of separator ('-' or ' ').
std::size_t extract_ssn(std::string_view text, std::size_t hit_end, Spans& out) {
    const std::size_t left = run_left(text, hit_end, 32, is_card_char);
    const std::size_t right = run_right(text, hit_end, 32, is_card_char);
    DigitGroup groups[16];
    const std::size_t ngroups = digit_groups(text, left, right, groups);
    for (std::size_t g = 0; g + 2 < ngroups; ++g) {
        const auto len = [&](std::size_t k) { return groups[k].end - groups[k].begin; };
        if (len(g) != 3 || len(g + 1) != 2 || len(g + 2) != 4) continue;
        if (groups[g].end + 1 != groups[g + 1].begin ||
            groups[g + 1].end + 1 != groups[g + 2].begin)
            continue;
        const char sep = text[groups[g].end];
        if (text[groups[g + 1].end] != sep) continue;
        const std::size_t start = groups[g].begin, end = groups[g + 2].end;
        const char prev = before(text, start);
        if (is_alnum(prev) || ((prev == '-' || prev == '.') && is_digit(before(text, start - 1))))
            continue;
        if (continues(text, end)) continue;
        char digits[9];
        std::memcpy(digits, text.data() + start, 3);
        std::memcpy(digits + 3, text.data() + groups[g + 1].begin, 2);
        std::memcpy(digits + 5, text.data() + groups[g + 2].begin, 4);
        if (!ssn_valid(std::string_view(digits, 9))) continue;
        out.push_back({start, end, id_of(Entity::us_ssn)});
    }
    return right;
}

NumericShape numeric_shape(std::string_view text, std::size_t pos) {
    // The whole run (up to kNumericRunCap each way) is wider than any extractor's window (ipv4:
    // 64 either side, plus a phone number starting inside it), so the counts are an upper bound.
    NumericShape shape;
    shape.begin = run_left(text, pos, kNumericRunCap, is_phone);
    // Lengths of the last three digit groups, to spot 3-3-4 (NANP) and 3-2-4 (SSN) anywhere.
    int g1 = 0, g2 = 0, group = 0;
    auto end_group = [&] {
        if (group == 0) return;
        shape.nanp_groups |= g2 == 3 && g1 == 3 && group == 4;
        shape.ssn_groups |= g2 == 3 && g1 == 2 && group == 4;
        g2 = g1;
        g1 = group;
        group = 0;
    };
    const std::size_t limit = std::min(text.size(), pos + kNumericRunCap);
    std::size_t i = shape.begin;
    for (; i < limit && is_phone(text[i]); ++i) {
        const char c = text[i];
        if (is_digit(c)) {
            shape.zero_group |= group == 0 && c == '0';
            ++group;
            ++shape.digits;
            continue;
        }
        end_group();
        shape.dots += c == '.';
        shape.plus |= c == '+';
    }
    end_group();
    shape.end = i;
    shape.whole = !is_phone(before(text, shape.begin)) && !is_phone(at(text, shape.end));
    return shape;
}

namespace {
bool is_ipv4_char(char c) { return is_digit(c) || c == '.'; }
bool is_ipv6_char(char c) { return is_hex(c) || c == ':' || c == '.'; }
}  // namespace

std::size_t extract_ipv4(std::string_view text, std::size_t hit_end, Spans& out) {
    const std::size_t left = run_left(text, hit_end, 64, is_ipv4_char);
    const std::size_t right = run_right(text, hit_end, 64, is_ipv4_char);
    std::size_t end = right;
    while (end > left && text[end - 1] == '.') --end;
    if (is_alnum(before(text, left)) || is_alnum(at(text, right)) || end - left > kIpv4MaxBytes)
        return right;
    if (ipv4_valid(text.substr(left, end - left))) out.push_back({left, end, id_of(Entity::ipv4)});
    return right;
}

std::size_t extract_ipv6(std::string_view text, std::size_t hit_end, Spans& out) {
    const std::size_t left = run_left(text, hit_end, 64, is_ipv6_char);
    const std::size_t right = run_right(text, hit_end, 64, is_ipv6_char);
    std::size_t begin = left;
    std::size_t end = right;
    while (end > begin && text[end - 1] == '.') --end;
    if (end - begin >= 2 && text[end - 1] == ':' && text[end - 2] != ':') --end;
    const char prev = before(text, begin);
    if (is_alnum(prev) || prev == '_' || is_alnum(at(text, right)) || at(text, right) == '_' ||
        end - begin > kIpv6MaxBytes)
        return right;
    if (ipv6_valid(text.substr(begin, end - begin)))
        out.push_back({begin, end, id_of(Entity::ipv6)});
    return right;
}

}  // namespace sluice::masking
