#include "policy/masking/text_masker.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace sluice::masking {

namespace {

// Largest output buffer a thread keeps between bodies.
constexpr std::size_t kKeptBufferBytes = 8u << 20;

std::string keyed_hash(std::string_view key, std::string_view label, std::string_view value) {
    std::string message;
    message.reserve(label.size() + 1 + value.size());
    message.append(label).push_back(':');
    message.append(value);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &length);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (int i = 0; i < 4; ++i) {
        out.push_back(kHex[digest[i] >> 4]);
        out.push_back(kHex[digest[i] & 15]);
    }
    return out;
}

}  // namespace

void TextMasker::append_replacement(std::string_view value, EntityId entity, Direction direction,
                                    std::string& out) {
    const std::string& label = control_.recognizers().label(entity);
    const auto action = control_.action(entity, direction).value_or(MaskAction::redact);
    stats_.add(direction, entity);
    switch (action) {
        case MaskAction::partial: {
            const std::size_t keep = std::min<std::size_t>(4, value.size() / 2);
            out.append("****").append(value.substr(value.size() - keep));
            return;
        }
        case MaskAction::hash:
            out.append("[").append(label).append(":");
            out.append(keyed_hash(hash_key_, label, value)).append("]");
            return;
        case MaskAction::token:
            if (auto placeholder = vault_.placeholder_for(label, value)) {
                out.append(*placeholder);
                return;
            }
            break;  // vault full: redact rather than let the value through
        case MaskAction::redact:
            break;
    }
    out.append("[").append(label).append("]");
}

void TextMasker::apply(const MatchView& text, std::size_t begin, std::size_t end,
                       const Spans& spans, Direction direction, std::string& out) {
    const std::string_view source = text.text(), view = text.view();
    std::size_t pos = begin;
    for (const auto& span : spans) {
        const auto [span_begin, span_end] = text.text_range(span.begin, span.end);
        if (span_begin < pos || span_end > end) continue;
        out.append(source.substr(pos, span_begin - pos));
        append_replacement(view.substr(span.begin, span.end - span.begin), span.entity, direction,
                           out);
        pos = span_end;
    }
    out.append(source.substr(pos, end - pos));
}

bool TextMasker::mask(std::string& text, Direction direction, bool* changed) {
    thread_local Spans spans;
    thread_local FoldedText folded;
    spans.clear();
    const MatchView view(text, folded);
    if (!find(view.view(), direction, spans)) return false;
    if (spans.empty()) return true;
    // The output goes into a per-thread buffer that then takes over `text`'s old storage: a
    // fresh buffer per body costs a page fault per 4 KiB, more than the masking itself.
    thread_local std::string out;
    out.clear();
    out.reserve(text.size() + 64);
    apply(view, 0, text.size(), spans, direction, out);
    text.swap(out);
    if (out.capacity() > kKeptBufferBytes) std::string().swap(out);
    if (changed) *changed = true;
    return true;
}

}  // namespace sluice::masking
