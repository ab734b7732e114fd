#include "policy/masking/json_text_unescape.h"

#include <cstdint>
#include <optional>

namespace sluice::masking {

namespace {

std::optional<uint32_t> hex4(std::string_view s) {
    uint32_t v = 0;
    for (char c : s) {
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= static_cast<uint32_t>(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= static_cast<uint32_t>(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= static_cast<uint32_t>(c - 'A' + 10);
        else
            return std::nullopt;
    }
    return v;
}

void append_utf8(uint32_t cp, std::string& out) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

// Unescapes `in` into `out`; returns how many bytes were consumed. Unless `final`, stops
// before an escape that `in` may have cut (it could still become a surrogate pair).
std::size_t unescape(std::string_view in, bool final, std::string& out) {
    std::size_t i = 0;
    while (i < in.size()) {
        const std::size_t slash = in.find('\\', i);
        if (slash == std::string_view::npos) {
            out.append(in.substr(i));
            return in.size();
        }
        out.append(in.substr(i, slash - i));
        i = slash;
        const std::string_view rest = in.substr(i);
        if (rest.size() < 2) return final ? (out.append(rest), in.size()) : i;
        if (rest[1] == '/') {
            out += '/';
            i += 2;
            continue;
        }
        if (rest[1] != 'u') {  // \" \\ \n ...: a pair that keeps its escape
            out.append(rest.substr(0, 2));
            i += 2;
            continue;
        }
        if (rest.size() < 6) return final ? (out.append(rest), in.size()) : i;
        const auto unit = hex4(rest.substr(2, 4));
        if (!unit) {
            out.append(rest.substr(0, 2));
            i += 2;
            continue;
        }
        if (*unit >= 0xD800 && *unit <= 0xDBFF) {
            if (rest.size() < 12 && !final) return i;
            std::optional<uint32_t> low;
            if (rest.size() >= 12 && rest[6] == '\\' && rest[7] == 'u')
                low = hex4(rest.substr(8, 4));
            if (low && *low >= 0xDC00 && *low <= 0xDFFF) {
                append_utf8(0x10000 + ((*unit - 0xD800) << 10) + (*low - 0xDC00), out);
                i += 12;
                continue;
            }
        }
        const bool keep =
            *unit < 0x20 || *unit == '"' || *unit == '\\' || (*unit >= 0xD800 && *unit <= 0xDFFF);
        if (keep)
            out.append(rest.substr(0, 6));
        else
            append_utf8(*unit, out);
        i += 6;
    }
    return i;
}

}  // namespace

void JsonTextUnescaper::feed(std::string_view in, std::string& out) {
    if (held_.empty() && in.find('\\') == std::string_view::npos) {
        out.append(in);
        return;
    }
    work_.assign(held_).append(in);
    const std::size_t used = unescape(work_, false, out);
    held_.assign(work_, used);
}

void JsonTextUnescaper::finish(std::string& out) {
    unescape(held_, true, out);
    held_.clear();
}

std::string unescape_json_text(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    unescape(text, true, out);
    return out;
}

}  // namespace sluice::masking
