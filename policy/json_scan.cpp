#include "policy/json_scan.h"

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "policy/masking/char_class.h"

namespace sluice {

namespace {

using masking::is_digit;
using masking::is_hex;
using masking::valid_utf8;

// The one-letter escapes of RFC 8259 §7: raw byte and the letter after the backslash
// (json_append.h writes them).
constexpr std::pair<char, char> kEscapes[] = {{'"', '"'},  {'\\', '\\'}, {'\b', 'b'}, {'\f', 'f'},
                                              {'\n', 'n'}, {'\r', 'r'},  {'\t', 't'}};

// The byte a one-letter escape stands for ('/' stands for itself), or 0 for no such escape.
char unescaped(char letter) {
    for (const auto& [byte, escape] : kEscapes)
        if (escape == letter) return byte;
    return letter == '/' ? '/' : 0;
}

// Steps kept for the path; deeper values are still validated and reported, with their path
// cut at this length (the callers only look at shallow members).
constexpr int kPathSteps = 8;

class Scanner {
public:
    Scanner(std::string_view text, int max_depth, FunctionRef<void(const JsonValue&)> visit,
            bool report_keys = false)
        : text_(text), max_depth_(max_depth), visit_(visit), report_keys_(report_keys) {}

    bool run() {
        if (text_.substr(0, 3) == "\xEF\xBB\xBF") return fail(JsonScanError::byte_order_mark);
        skip_space();
        if (!value(0)) return false;
        skip_space();
        return pos_ == text_.size() || fail(JsonScanError::trailing_data);
    }

    JsonScanFailure failure() const { return {error_, error_at_}; }

private:
    // Records the first (innermost) problem; every caller passes the false on.
    bool fail(JsonScanError error) {
        if (error_ == JsonScanError::none) {
            error_ = error;
            error_at_ = pos_;
        }
        return false;
    }

    char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }

    void skip_space() {
        while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                       text_[pos_] == '\n' || text_[pos_] == '\r'))
            ++pos_;
    }

    void report(JsonKind kind, std::size_t begin, int depth, bool escaped = false) {
        visit_({kind, begin, pos_, path_.data(), depth, escaped});
    }

    bool value(int depth) {
        if (depth > max_depth_) return fail(JsonScanError::too_deep);
        const std::size_t begin = pos_;
        switch (peek()) {
            case '{':
                return object(depth);
            case '[':
                return array(depth);
            case '"': {
                bool escaped = false;
                if (!string(escaped)) return false;
                report(JsonKind::string, begin, depth, escaped);
                return true;
            }
            case 't':
                return literal("true", JsonKind::boolean, depth);
            case 'f':
                return literal("false", JsonKind::boolean, depth);
            case 'n':
                return literal("null", JsonKind::null, depth);
            default:
                if (!number()) return false;
                report(JsonKind::number, begin, depth);
                return true;
        }
    }

    bool literal(std::string_view word, JsonKind kind, int depth) {
        const std::size_t begin = pos_;
        if (text_.substr(pos_, word.size()) != word) return fail(JsonScanError::syntax);
        pos_ += word.size();
        report(kind, begin, depth);
        return true;
    }

    bool digits() {
        const std::size_t start = pos_;
        while (is_digit(peek())) ++pos_;
        return pos_ > start;
    }

    bool number() {
        const std::size_t begin = pos_;
        if (!number_grammar()) return fail(JsonScanError::syntax);
        const std::string_view literal = text_.substr(begin, pos_ - begin);
        // nlohmann::json refuses a number past double's range (1e400); so does the scan. Only
        // literals that are no plain 64-bit integer can be, and they are rare: strtod on a copy.
        if (literal.size() > 19 || literal.find_first_of(".eE") != std::string_view::npos) {
            const std::string copy(literal);
            if (std::isinf(std::strtod(copy.c_str(), nullptr))) {
                pos_ = begin;
                return fail(JsonScanError::number_out_of_range);
            }
        }
        return true;
    }

    bool number_grammar() {
        if (peek() == '-') ++pos_;
        if (peek() == '0') {
            ++pos_;
        } else if (!digits()) {
            return false;
        }
        if (peek() == '.') {
            ++pos_;
            if (!digits()) return false;
        }
        if (peek() == 'e' || peek() == 'E') {
            ++pos_;
            if (peek() == '+' || peek() == '-') ++pos_;
            if (!digits()) return false;
        }
        return true;
    }

    bool hex4(unsigned& code) {
        code = 0;
        for (int i = 0; i < 4; ++i) {
            const char c = peek();
            if (!is_hex(c)) return false;
            code = code * 16 + static_cast<unsigned>(is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10);
            ++pos_;
        }
        return true;
    }

    // Skips string bytes that need no attention (not a quote, a backslash or a control byte),
    // 16 at a time with SSE2 (8 without); true if any skipped byte is not ASCII, so the string's
    // UTF-8 must be checked. Answer and request bodies are mostly string content.
    bool skip_plain_string_bytes() {
        bool non_ascii = false;
#if defined(__SSE2__)
        const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'),
                      last_control = _mm_set1_epi8(0x1f);
        while (pos_ + 16 <= text_.size()) {
            const __m128i v =
                _mm_loadu_si128(reinterpret_cast<const __m128i*>(text_.data() + pos_));
            const __m128i control = _mm_cmpeq_epi8(_mm_min_epu8(v, last_control), v);  // v <= 0x1f
            const __m128i special = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)), control);
            const unsigned stop = static_cast<unsigned>(_mm_movemask_epi8(special));
            const unsigned high = static_cast<unsigned>(_mm_movemask_epi8(v));
            if (stop != 0) {
                non_ascii |= (high & ((stop & -stop) - 1)) != 0;  // only the bytes before the stop
                pos_ += static_cast<std::size_t>(__builtin_ctz(stop));
                return non_ascii;
            }
            non_ascii |= high != 0;
            pos_ += 16;
        }
#endif
        constexpr uint64_t kOnes = 0x0101010101010101ull, kHigh = 0x8080808080808080ull;
        auto has_zero = [](uint64_t v) { return (v - kOnes) & ~v & kHigh; };
        while (pos_ + 8 <= text_.size()) {
            uint64_t v;
            std::memcpy(&v, text_.data() + pos_, 8);
            // Bytes below 0x20 (high bit clear), '"' and '\\'.
            const uint64_t control = (v - kOnes * 0x20) & ~v & kHigh;
            if (control | has_zero(v ^ (kOnes * '"')) | has_zero(v ^ (kOnes * '\\')))
                return non_ascii;
            non_ascii |= (v & kHigh) != 0;
            pos_ += 8;
        }
        return non_ascii;
    }

    bool string(bool& escaped) {
        const std::size_t begin = ++pos_;
        bool non_ascii = false;
        for (;;) {
            non_ascii |= skip_plain_string_bytes();
            if (pos_ >= text_.size()) return fail(JsonScanError::syntax);
            const auto c = static_cast<unsigned char>(text_[pos_]);
            if (c == '"') break;
            if (c < 0x20) return fail(JsonScanError::control_character);
            if (c != '\\') {
                non_ascii |= c >= 0x80;
                ++pos_;
                continue;
            }
            escaped = true;
            ++pos_;
            const char e = peek();
            ++pos_;
            if (e == 'u') {
                unsigned code;
                if (!hex4(code)) return fail(JsonScanError::invalid_escape);
                if (code >= 0xDC00 && code <= 0xDFFF)  // low half alone
                    return fail(JsonScanError::lone_surrogate);
                if (code >= 0xD800 && code <= 0xDBFF) {
                    if (peek() != '\\' || pos_ + 1 >= text_.size() || text_[pos_ + 1] != 'u')
                        return fail(JsonScanError::lone_surrogate);
                    pos_ += 2;
                    if (!hex4(code)) return fail(JsonScanError::invalid_escape);
                    if (code < 0xDC00 || code > 0xDFFF) return fail(JsonScanError::lone_surrogate);
                }
            } else if (!unescaped(e)) {
                return fail(JsonScanError::invalid_escape);
            }
        }
        if (non_ascii && !valid_utf8(text_.data() + begin, pos_ - begin)) {
            pos_ = begin;
            return fail(JsonScanError::invalid_utf8);
        }
        ++pos_;
        return true;
    }

    // An object or array; `element` reads one member or element, its separators aside.
    template <typename Element>
    bool container(int depth, char close, JsonKind kind, Element element) {
        const std::size_t begin = pos_++;
        skip_space();
        if (peek() != close) {
            for (std::size_t index = 0;; ++index) {
                skip_space();
                if (!element(index)) return false;
                skip_space();
                if (peek() != ',') break;
                ++pos_;
            }
            if (peek() != close) return fail(JsonScanError::syntax);
        }
        ++pos_;
        report(kind, begin, depth);
        return true;
    }

    bool object(int depth) {
        return container(depth, '}', JsonKind::object, [&](std::size_t) {
            const std::size_t key_begin = pos_;
            bool escaped = false;
            if (peek() != '"') return fail(JsonScanError::syntax);
            if (!string(escaped)) return false;
            if (depth < kPathSteps)
                path_[depth] = {text_.substr(key_begin + 1, pos_ - key_begin - 2), 0, false,
                                escaped};
            if (report_keys_) report(JsonKind::key, key_begin, depth + 1, escaped);
            skip_space();
            if (peek() != ':') return fail(JsonScanError::syntax);
            ++pos_;
            skip_space();
            return value(depth + 1);
        });
    }

    bool array(int depth) {
        return container(depth, ']', JsonKind::array, [&](std::size_t index) {
            if (depth < kPathSteps) path_[depth] = {{}, index, true, false};
            return value(depth + 1);
        });
    }

    std::string_view text_;
    int max_depth_;
    FunctionRef<void(const JsonValue&)> visit_;
    bool report_keys_ = false;
    JsonScanError error_ = JsonScanError::none;
    std::size_t error_at_ = 0;
    std::size_t pos_ = 0;
    std::array<JsonStep, kPathSteps> path_{};
};

void append_utf8(std::string& out, unsigned code) {
    if (code < 0x80) {
        out.push_back(static_cast<char>(code));
    } else if (code < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (code >> 6)));
        out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else if (code < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (code >> 12)));
        out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (code >> 18)));
        out.push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    }
}

unsigned read_hex4(std::string_view s, std::size_t at) {
    unsigned code = 0;
    for (std::size_t i = at; i < at + 4; ++i) {
        const char c = s[i];
        code = code * 16 + static_cast<unsigned>(is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return code;
}

}  // namespace

bool scan_json(std::string_view text, int max_depth, FunctionRef<void(const JsonValue&)> visit) {
    return Scanner(text, max_depth, visit).run();
}

bool scan_json(std::string_view text, int max_depth, FunctionRef<void(const JsonValue&)> visit,
               const JsonScanOptions& options, JsonScanFailure* failure) {
    Scanner scanner(text, max_depth, visit, options.report_keys);
    const bool ok = scanner.run();
    if (failure) *failure = ok ? JsonScanFailure{} : scanner.failure();
    return ok;
}

std::string_view to_string(JsonScanError error) {
    switch (error) {
        case JsonScanError::none:
            return "valid";
        case JsonScanError::syntax:
            return "not JSON (RFC 8259 grammar)";
        case JsonScanError::byte_order_mark:
            return "starts with a byte order mark";
        case JsonScanError::invalid_utf8:
            return "a string is not valid UTF-8";
        case JsonScanError::lone_surrogate:
            return "a \\u escape is an unpaired surrogate";
        case JsonScanError::control_character:
            return "a string holds a raw control character";
        case JsonScanError::invalid_escape:
            return "a string holds an invalid escape";
        case JsonScanError::number_out_of_range:
            return "a number is out of range";
        case JsonScanError::too_deep:
            return "nested too deeply";
        case JsonScanError::trailing_data:
            return "more than one JSON value";
    }
    return "unknown";
}

std::string decode_json_string(std::string_view literal) {
    const std::string_view body = literal.substr(1, literal.size() - 2);
    std::string out;
    out.reserve(body.size());
    for (std::size_t i = 0; i < body.size(); ++i) {
        if (body[i] != '\\') {
            out.push_back(body[i]);
            continue;
        }
        const char e = body[++i];
        if (e != 'u') {
            out.push_back(unescaped(e));
            continue;
        }
        unsigned code = read_hex4(body, i + 1);
        i += 4;
        if (code >= 0xD800 && code <= 0xDBFF) {  // validated: a low half follows
            code = 0x10000 + ((code - 0xD800) << 10) + (read_hex4(body, i + 3) - 0xDC00);
            i += 6;
        }
        append_utf8(out, code);
    }
    return out;
}

std::optional<int64_t> json_int64(std::string_view literal) {
    std::size_t i = 0;
    const bool negative = !literal.empty() && literal[0] == '-';
    if (negative) ++i;
    if (i == literal.size()) return std::nullopt;
    uint64_t value = 0;
    for (; i < literal.size(); ++i) {
        if (!is_digit(literal[i])) return std::nullopt;  // fraction or exponent: not an integer
        const auto digit = static_cast<uint64_t>(literal[i] - '0');
        if (value > (uint64_t{INT64_MAX} + (negative ? 1 : 0) - digit) / 10) return std::nullopt;
        value = value * 10 + digit;
    }
    if (negative)
        return value == uint64_t{INT64_MAX} + 1 ? INT64_MIN : -static_cast<int64_t>(value);
    return static_cast<int64_t>(value);
}

}  // namespace sluice
