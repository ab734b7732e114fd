#include "policy/masking/text_stream_masker.h"

#include <algorithm>

namespace sluice::masking {

std::size_t utf8_boundary(std::string_view text, std::size_t pos, std::size_t floor) {
    while (pos > floor && pos < text.size() &&
           (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80)
        --pos;
    return pos;
}

bool TextStreamMasker::feed(std::string_view delta, std::string& out) {
    pending_.append(delta);
    return release(false, out);
}

bool TextStreamMasker::finish(std::string& out) { return release(true, out); }

bool TextStreamMasker::release(bool at_end, std::string& out) {
    if (pending_.empty() && (!at_end || restore_pending_.empty())) return true;
    work_.assign(context_).append(pending_);
    const std::size_t from = context_.size();
    const MatchView text(work_, folded_);
    const std::string_view view = text.view();
    const std::size_t view_from = text.to_view(from);
    spans_.clear();
    if (!masker_.find(view, direction_, spans_, view_from)) return false;
    std::size_t hold = work_.size();
    if (!at_end) {
        const auto& control = masker_.control();
        std::size_t view_hold =
            control.recognizers().hold_from(view, control.enabled(direction_), view_from);
        // A span reaching into the held tail waits with it, whole.
        for (const auto& span : spans_)
            if (span.begin < view_hold && span.end > view_hold) view_hold = span.begin;
        hold = utf8_boundary(work_, std::max(text.to_text(view_hold), from), from);
    }
    std::string masked;
    masker_.apply(text, from, hold, spans_, direction_, masked);
    restore(masked, at_end, out);

    const std::size_t keep_from =
        utf8_boundary(work_, hold > kContextBytes ? hold - kContextBytes : 0, 0);
    context_.assign(work_, keep_from, hold - keep_from);
    pending_.assign(work_, hold, std::string::npos);
    return held_bytes() <= kMaxHeldBytes;
}

void TextStreamMasker::restore(std::string_view masked, bool at_end, std::string& out) {
    if (!restore_) {
        out.append(masked);
        return;
    }
    restore_pending_.append(masked);
    std::size_t cut = at_end ? restore_pending_.size() : placeholder_tail(restore_pending_);
    std::string ready = restore_pending_.substr(0, cut);
    restore_pending_.erase(0, cut);
    masker_.stats().restored += static_cast<uint32_t>(restore_placeholders(masker_.vault(), ready));
    out.append(ready);
}

}  // namespace sluice::masking
