#include "policy/json_append.h"

#include <charconv>
#include <cmath>
#include <cstdint>

#include "policy/plain_run.h"

namespace sluice {

namespace {

constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";  // U+FFFD

void append_escaped_ascii(std::string& out, unsigned char c) {
    switch (c) {
        case '"':
            out += "\\\"";
            return;
        case '\\':
            out += "\\\\";
            return;
        case '\b':
            out += "\\b";
            return;
        case '\t':
            out += "\\t";
            return;
        case '\n':
            out += "\\n";
            return;
        case '\f':
            out += "\\f";
            return;
        case '\r':
            out += "\\r";
            return;
        default:
            break;
    }
    static constexpr char kHex[] = "0123456789abcdef";
    const char escaped[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
    out.append(escaped, sizeof escaped);
}

// The length of the well-formed UTF-8 sequence starting at text[i] (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF), or 0 with `bad_at` set to how many bytes
// form the ill-formed prefix that one U+FFFD replaces (at least 1).
std::size_t utf8_sequence_length(std::string_view text, std::size_t i, std::size_t& bad_at) {
    const auto lead = static_cast<unsigned char>(text[i]);
    std::size_t length = 0;
    unsigned char low = 0x80, high = 0xBF;  // allowed range of the second byte
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        if (lead == 0xE0) low = 0xA0;
        if (lead == 0xED) high = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        if (lead == 0xF0) low = 0x90;
        if (lead == 0xF4) high = 0x8F;
    } else {
        bad_at = 1;
        return 0;
    }
    for (std::size_t k = 1; k < length; ++k) {
        if (i + k >= text.size()) {
            bad_at = k;
            return 0;
        }
        const auto byte = static_cast<unsigned char>(text[i + k]);
        if (byte < (k == 1 ? low : 0x80) || byte > (k == 1 ? high : 0xBF)) {
            bad_at = k;  // the offending byte is read again as the start of what follows
            return 0;
        }
    }
    return length;
}

}  // namespace

void append_json_string(std::string& out, std::string_view text) {
    out.push_back('"');
    std::size_t i = 0;
    while (i < text.size()) {
        // Runs of plain ASCII, the usual case, are copied in one go.
        const std::size_t run = plain_run_end<0x20, false>(text, i);
        out.append(text.data() + i, run - i);
        i = run;
        if (i == text.size()) break;
        const auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x80) {
            append_escaped_ascii(out, c);
            ++i;
            continue;
        }
        std::size_t bad_at = 0;
        if (const std::size_t length = utf8_sequence_length(text, i, bad_at)) {
            out.append(text.data() + i, length);
            i += length;
        } else {
            out += kReplacementCharacter;
            i += bad_at;
        }
    }
    out.push_back('"');
}

void append_json_double(std::string& out, double value) {
    if (!std::isfinite(value)) {
        out += "null";
        return;
    }
    char buf[32];
    const auto result = std::to_chars(buf, buf + sizeof buf, value);
    const std::string_view digits(buf, static_cast<std::size_t>(result.ptr - buf));
    out += digits;
    // Keep it a floating-point number when read back, as nlohmann writes it ("3.0", not "3").
    if (digits.find_first_of(".e") == std::string_view::npos) out += ".0";
}

void append_json_key(std::string& out, std::string_view name) {
    out.push_back('"');
    out += name;
    out += "\":";
}

void append_json_text_member(std::string& out, std::string_view name, std::string_view value) {
    append_json_key(out, name);
    append_json_string(out, value);
    out.push_back(',');
}

void append_json_number_member(std::string& out, std::string_view name, uint64_t value) {
    append_json_key(out, name);
    out += std::to_string(value);
    out.push_back(',');
}

void append_json_bool_member(std::string& out, std::string_view name, bool value) {
    append_json_key(out, name);
    out += value ? "true," : "false,";
}

void append_json_double_member(std::string& out, std::string_view name, double value) {
    append_json_key(out, name);
    append_json_double(out, value);
    out.push_back(',');
}

}  // namespace sluice
