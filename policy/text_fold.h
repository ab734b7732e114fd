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

// A text and the view its recognizers run on: positions found in the view map back to the
// text's bytes. `storage` holds the folded view, if any, and must outlive this.
class MatchView {
public:
    MatchView(std::string_view text, FoldedText& storage)
        : text_(text), folded_(fold_for_matching(text, storage) ? &storage : nullptr) {}

    std::string_view text() const { return text_; }
    std::string_view view() const { return folded_ ? std::string_view(folded_->text) : text_; }

    // The first view byte that comes from text at or after `text_pos`.
    std::size_t to_view(std::size_t text_pos) const;
    // The text byte where view byte `view_pos`'s character starts (the view's end: the text's).
    std::size_t to_text(std::size_t view_pos) const;
    // The text bytes behind view[begin, end).
    std::pair<std::size_t, std::size_t> text_range(std::size_t begin, std::size_t end) const {
        return folded_ ? folded_->source_range(begin, end) : std::pair{begin, end};
    }

private:
    std::string_view text_;
    const FoldedText* folded_;
};

}  // namespace sluice
