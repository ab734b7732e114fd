// Incremental masking of one logical text channel of a stream (one choice's content, one
// tool call's arguments, one Responses output part): text arrives in deltas of any size, split
// anywhere, and leaves masked as soon as it is final.
//
// Hold-back: after each delta only the shortest tail that could still become (part of) a match
// is kept (RecognizerSet::hold_from), plus, when tokens are restored, an unfinished placeholder
// "<EMAIL_". Everything before it is masked and released; at the end of the channel the tail
// is masked and released too. A window of already released raw text is kept as left context
// so a value is recognized the same way whatever the split (never re-emitted). Values are
// matched on the folded view (text_fold.h), as in bodies.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "policy/masking/text_masker.h"

namespace sluice::masking {

class TextStreamMasker {
public:
    // Raw text kept as left context; covers every extractor's look-behind.
    static constexpr std::size_t kContextBytes = 256;
    // No tail grows past this (the longest hold is a 64 KiB PEM block plus a custom
    // pattern's max_length); past it the channel fails rather than buffer without bound.
    static constexpr std::size_t kMaxHeldBytes = 128 * 1024;

    TextStreamMasker(TextMasker& masker, Direction direction, bool restore_tokens)
        : masker_(masker), direction_(direction), restore_(restore_tokens) {}

    // Appends the text that became final to `out`. False on a scan failure or the hold limit:
    // the channel is then failed and must not be continued.
    [[nodiscard]] bool feed(std::string_view delta, std::string& out);
    // End of the channel: appends the rest.
    [[nodiscard]] bool finish(std::string& out);

    std::size_t held_bytes() const { return pending_.size() + restore_pending_.size(); }

private:
    bool release(bool at_end, std::string& out);
    void restore(std::string_view masked, bool at_end, std::string& out);

    TextMasker& masker_;
    Direction direction_;
    bool restore_;
    std::string context_;          // raw text already released (tail of it)
    std::string pending_;          // raw text not yet released
    std::string restore_pending_;  // masked text waiting for a placeholder to complete
    std::string work_;
    FoldedText folded_;  // work_'s view, when it differs
    Spans spans_;
};

// A cut at `pos` must not split a UTF-8 sequence: moves it back to a character start, but not
// below `floor`.
std::size_t utf8_boundary(std::string_view text, std::size_t pos, std::size_t floor);

}  // namespace sluice::masking
