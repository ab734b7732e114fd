// The view of a text that prompt patterns and recognizers match on: what a reader (or a model)
// takes to be the same characters is made the same bytes, and each byte of the view remembers
// which bytes of the original it came from, so a match masks exactly the original characters.
//
// Per code point (so spans map back one to one): compatibility forms become their plain form
// (NFKC of the code point alone: fullwidth ＡＢＣ１２３＠ → ABC123@, ligatures, superscript and
// circled digits, mathematical letters); format characters (Unicode Cf: zero-width space and
// joiners, word joiner, soft hyphen, BOM, bidi controls, tag characters) and other default
// ignorable code points (variation selectors, Hangul fillers) are dropped; space separators
// (Zs: no-break, narrow no-break, ideographic, em/en spaces) and line/paragraph separators
// become an ASCII space. Not folded: letter case, look-alikes from other scripts (Cyrillic
// а for Latin a), combining marks (é spelled e + U+0301 stays two code points) — see
// docs/masking.md. Bytes that are not valid UTF-8 pass through as they are.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice {

struct FoldedText {
    std::string text;
    // Per byte of `text`: the source bytes [from, to) of the code point it came from.
    std::vector<uint32_t> from, to;

    // The source bytes behind text[begin, end) (begin < end).
    std::pair<std::size_t, std::size_t> source_range(std::size_t begin, std::size_t end) const {
        return {from[begin], to[end - 1]};
    }
};

// Folds `source` into `out`; false (and `out` untouched) when the view is the source itself —
// plain ASCII always is, so the common case costs one pass over the bytes.
bool fold_for_matching(std::string_view source, FoldedText& out);

}  // namespace sluice
