#include "policy/text_fold.h"

#include <algorithm>
#include <cstring>

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

namespace sluice {

namespace {

enum class Fold : uint8_t { keep, drop, space, replace };

// What to do with one code point; `replacement` is set for Fold::replace.
Fold fold_code_point(UChar32 c, std::string& replacement) {
    if (u_hasBinaryProperty(c, UCHAR_DEFAULT_IGNORABLE_CODE_POINT) ||
        u_charType(c) == U_FORMAT_CHAR)
        return Fold::drop;
    const int8_t type = u_charType(c);
    if (type == U_SPACE_SEPARATOR || type == U_LINE_SEPARATOR || type == U_PARAGRAPH_SEPARATOR)
        return Fold::space;
    UErrorCode status = U_ZERO_ERROR;
    static const icu::Normalizer2* nfkc = icu::Normalizer2::getNFKCInstance(status);
    if (!nfkc || nfkc->isInert(c)) return Fold::keep;
    status = U_ZERO_ERROR;
    const icu::UnicodeString folded = nfkc->normalize(icu::UnicodeString(c), status);
    if (U_FAILURE(status) || folded == icu::UnicodeString(c)) return Fold::keep;
    replacement.clear();
    folded.toUTF8String(replacement);
    return Fold::replace;
}

// Eight bytes a step: every text a request or answer carries passes here first, and almost all
// are ASCII (a byte loop was ~2% of a masked request's instructions).
bool all_ascii(std::string_view s) {
    constexpr uint64_t kHighBits = 0x8080808080808080u;
    std::size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
        uint64_t word;
        std::memcpy(&word, s.data() + i, sizeof word);
        if (word & kHighBits) return false;
    }
    for (; i < s.size(); ++i)
        if (static_cast<unsigned char>(s[i]) >= 0x80) return false;
    return true;
}

}  // namespace

bool fold_for_matching(std::string_view source, FoldedText& out) {
    if (all_ascii(source)) return false;
    std::string text;
    std::vector<uint32_t> from, to;
    text.reserve(source.size());
    from.reserve(source.size());
    to.reserve(source.size());
    bool changed = false;
    std::string replacement;
    const auto* bytes = reinterpret_cast<const uint8_t*>(source.data());
    const auto length = static_cast<int32_t>(source.size());
    int32_t i = 0;
    auto emit = [&](std::string_view piece, uint32_t begin, uint32_t end) {
        text.append(piece);
        from.insert(from.end(), piece.size(), begin);
        to.insert(to.end(), piece.size(), end);
    };
    while (i < length) {
        const auto begin = static_cast<uint32_t>(i);
        if (bytes[i] < 0x80) {
            ++i;
            emit(source.substr(begin, 1), begin, begin + 1);
            continue;
        }
        UChar32 c;
        U8_NEXT(bytes, i, length, c);
        const auto end = static_cast<uint32_t>(i);
        const std::string_view original = source.substr(begin, end - begin);
        if (c < 0) {  // not UTF-8: the bytes stand for themselves
            emit(original, begin, end);
            continue;
        }
        switch (fold_code_point(c, replacement)) {
            case Fold::keep:
                emit(original, begin, end);
                break;
            case Fold::drop:
                changed = true;
                break;
            case Fold::space:
                changed = true;
                emit(" ", begin, end);
                break;
            case Fold::replace:
                changed = true;
                emit(replacement, begin, end);
                break;
        }
    }
    if (!changed) return false;
    out.text = std::move(text);
    out.from = std::move(from);
    out.to = std::move(to);
    return true;
}

std::size_t MatchView::to_view(std::size_t text_pos) const {
    if (!folded_) return text_pos;
    return static_cast<std::size_t>(
        std::lower_bound(folded_->from.begin(), folded_->from.end(), text_pos) -
        folded_->from.begin());
}

std::size_t MatchView::to_text(std::size_t view_pos) const {
    if (!folded_) return view_pos;
    return view_pos < folded_->from.size() ? folded_->from[view_pos] : text_.size();
}

}  // namespace sluice
