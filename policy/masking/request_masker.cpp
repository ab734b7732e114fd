#include "policy/masking/request_masker.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "policy/function_ref.h"
#include "policy/json_append.h"
#include "policy/masking/char_class.h"
#include "policy/text_fold.h"
#include "policy/text_splice.h"

namespace sluice::masking {

namespace {

using Edit = TextSplice;

bool unreserved(char c) { return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~'; }

// A changed text in the encoding of the layer that holds it.
void append_encoded(std::string& out, const BodyText& node, std::string_view text) {
    switch (node.encoding) {
        case TextEncoding::json_string:
            append_json_string(out, text);
            return;
        case TextEncoding::base64:
            append_base64(out, text);
            return;
        case TextEncoding::percent:
            static constexpr char kHex[] = "0123456789ABCDEF";
            for (char c : text) {
                if (unreserved(c)) {
                    out.push_back(c);
                } else {
                    const auto u = static_cast<unsigned char>(c);
                    out.push_back('%');
                    out.push_back(kHex[u >> 4]);
                    out.push_back(kHex[u & 15]);
                }
            }
            return;
    }
}

// The unit's spans on its folded view: each part alone and, for a run, the parts joined. A
// value split across a join is found only joined; one that ends a part may read differently
// joined (glued to the next part's first word it can stop matching), so both are kept and
// overlapping spans are merged: a run masks at least what its parts mask alone.
bool find_unit_spans(std::string_view view, const std::vector<std::size_t>& view_starts,
                     Direction direction, TextMasker& masker, Spans& spans) {
    spans.clear();
    thread_local Spans found;
    for (std::size_t k = 0; k < view_starts.size(); ++k) {
        const std::size_t end = k + 1 < view_starts.size() ? view_starts[k + 1] : view.size();
        found.clear();
        if (!masker.find(view.substr(view_starts[k], end - view_starts[k]), direction, found))
            return false;
        for (auto span : found) {
            span.begin += view_starts[k];
            span.end += view_starts[k];
            spans.push_back(span);
        }
    }
    if (view_starts.size() > 1) {
        found.clear();
        if (!masker.find(view, direction, found)) return false;
        spans.insert(spans.end(), found.begin(), found.end());
        std::sort(spans.begin(), spans.end(),
                  [](const auto& a, const auto& b) { return a.begin < b.begin; });
        std::size_t kept = 0;
        for (std::size_t i = 0; i < spans.size(); ++i) {
            if (kept && spans[i].begin < spans[kept - 1].end) {
                auto& merged = spans[kept - 1];
                if (spans[i].end - spans[i].begin > merged.end - merged.begin)
                    merged.entity = spans[i].entity;  // the longest match names the value
                merged.end = std::max(merged.end, spans[i].end);
                continue;
            }
            spans[kept++] = spans[i];
        }
        spans.resize(kept);
    }
    return true;
}

// Records, per part of `joined` (parts begin at `starts`), the original bytes each span
// covers: a span across a join is replaced in its first part and cut from the others.
bool find_part_edits(std::string_view joined, const std::vector<std::size_t>& starts,
                     Direction direction, TextMasker& masker,
                     FunctionRef<void(std::size_t part, Edit edit)> add) {
    thread_local FoldedText folded;
    const MatchView text(joined, folded);
    const std::string_view view = text.view();
    thread_local std::vector<std::size_t> view_starts;
    view_starts.clear();
    for (const std::size_t start : starts) view_starts.push_back(text.to_view(start));
    thread_local Spans spans;
    if (!find_unit_spans(view, view_starts, direction, masker, spans)) return false;
    for (const auto& span : spans) {
        const auto [begin, end] = text.text_range(span.begin, span.end);
        std::string replacement;
        masker.append_replacement(view.substr(span.begin, span.end - span.begin), span.entity,
                                  direction, replacement);
        for (std::size_t k = 0; k < starts.size(); ++k) {
            const std::size_t piece_begin = starts[k];
            const std::size_t piece_end = k + 1 < starts.size() ? starts[k + 1] : joined.size();
            if (piece_begin >= end || begin >= piece_end || piece_begin == piece_end) continue;
            add(k, {std::max(begin, piece_begin) - piece_begin,
                    std::min(end, piece_end) - piece_begin, std::move(replacement)});
            replacement.clear();  // the first piece carries the mask, the rest are cut
        }
    }
    return true;
}

bool find_edits(const RequestReading& reading, const ScanUnit& unit, TextMasker& masker,
                std::vector<std::vector<Edit>>& edits) {
    const auto add = [&](std::size_t part, Edit edit) {
        edits[static_cast<std::size_t>(unit.nodes[part])].push_back(std::move(edit));
    };
    // Per thread and kept: a request has a unit per member name and value.
    thread_local std::vector<std::size_t> starts;
    starts.assign(1, 0);
    if (unit.nodes.size() == 1)
        return find_part_edits(reading.texts[static_cast<std::size_t>(unit.nodes[0])].text, starts,
                               Direction::request, masker, add);
    std::string joined;
    starts.clear();
    for (int node : unit.nodes) {
        starts.push_back(joined.size());
        joined += reading.texts[static_cast<std::size_t>(node)].text;
    }
    return find_part_edits(joined, starts, Direction::request, masker, add);
}

}  // namespace

BodyStatus mask_request_reading(std::string& body, std::string_view path,
                                const RequestReading& reading, TextMasker& masker) {
    const std::size_t count = reading.texts.size();
    std::vector<std::vector<Edit>> edits(count);
    for (const ScanUnit& unit : scan_units(reading, false))
        if (!find_edits(reading, unit, masker, edits)) return BodyStatus::failed;
    // Children follow their parent: walking backwards re-encodes each changed text into its
    // parent before the parent itself is rewritten.
    std::vector<Edit> body_edits;
    for (std::size_t i = count; i-- > 0;) {
        if (edits[i].empty()) continue;
        const BodyText& node = reading.texts[i];
        const std::string text = apply_splices(node.text, edits[i]);
        Edit up{node.begin, node.end, {}};
        append_encoded(up.replacement, node, text);
        (node.parent < 0 ? body_edits : edits[static_cast<std::size_t>(node.parent)])
            .push_back(std::move(up));
    }
    if (body_edits.empty()) return BodyStatus::unchanged;
    std::string masked = apply_splices(body, body_edits);
    // A masked member name may now equal a neighbour's: a body that no longer reads strictly
    // is not sent.
    if (!read_request_body(masked, path, false).readable()) {
        if (masker.stats().failure.empty())
            masker.stats().failure = "request body: masked member names collide";
        return BodyStatus::failed;
    }
    body.swap(masked);
    return BodyStatus::masked;
}

bool mask_text_folded(std::string& text, Direction direction, TextMasker& masker) {
    std::vector<Edit> edits;
    if (!find_part_edits(text, {0}, direction, masker,
                         [&](std::size_t, Edit edit) { edits.push_back(std::move(edit)); }))
        return false;
    if (!edits.empty()) text = apply_splices(text, edits);
    return true;
}

BodyStatus mask_request_body(std::string& body, std::string_view path, TextMasker& masker) {
    const RequestReading reading = read_request_body(body, path);
    if (!reading.readable()) return BodyStatus::not_json;
    return mask_request_reading(body, path, reading, masker);
}

}  // namespace sluice::masking
