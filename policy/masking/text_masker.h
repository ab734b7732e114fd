// Applies a control's actions to the spans found in one text: the unit every other masker
// (JSON bodies, streams) is built from. Counts what it masks in MaskStats, never the values.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "policy/masking/candidate.h"
#include "policy/masking/masking_control.h"
#include "policy/masking/token_vault.h"
#include "policy/text_fold.h"

namespace sluice::masking {

struct MaskStats {
    std::array<std::array<uint32_t, kMaxEntities>, 2> counts{};  // [direction][entity]
    uint32_t restored = 0;             // placeholders put back into answers
    std::string failure;               // first reason masking could not run ("" when it always did)
    std::vector<std::string> skipped;  // bodies left unmasked, e.g. "request: not JSON"
    void add(Direction d, EntityId id) { ++counts[static_cast<int>(d)][id]; }
};

class TextMasker {
public:
    // Borrows everything: the session that owns vault and stats outlives its maskers.
    TextMasker(const MaskingControl& control, std::string_view hash_key, TokenVault& vault,
               MaskStats& stats)
        : control_(control), hash_key_(hash_key), vault_(vault), stats_(stats) {}

    // Masks `text` in place, matching on its folded view (text_fold.h: fullwidth digits and
    // zero-width characters do not hide a value); sets *changed when a span was replaced. False
    // if a scan engine failed; `text` is then unchanged and must not be passed on.
    [[nodiscard]] bool mask(std::string& text, Direction direction, bool* changed = nullptr);

    // Finds spans of the direction's entities (see RecognizerSet::find).
    [[nodiscard]] bool find(std::string_view text, Direction direction, Spans& spans,
                            std::size_t from = 0) const {
        return control_.recognizers().find(text, control_.enabled(direction), spans, from);
    }

    // Appends text[begin, end) to `out` with each span in it replaced by its masked form. Spans
    // are sorted view positions; the text bytes behind each are replaced (spans not inside the
    // range are skipped), and the masked form is made from the view's characters, so a value
    // hashes and tokenizes alike however it was spelled.
    void apply(const MatchView& text, std::size_t begin, std::size_t end, const Spans& spans,
               Direction direction, std::string& out);

    // Appends the masked form of one value.
    void append_replacement(std::string_view value, EntityId entity, Direction direction,
                            std::string& out);

    const MaskingControl& control() const { return control_; }
    const TokenVault& vault() const { return vault_; }
    MaskStats& stats() { return stats_; }

private:
    const MaskingControl& control_;
    std::string_view hash_key_;
    TokenVault& vault_;
    MaskStats& stats_;
};

}  // namespace sluice::masking
