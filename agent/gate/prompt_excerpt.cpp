#include "agent/gate/prompt_excerpt.h"

#include "agent/gate/audit_text.h"
#include "policy/json_view.h"
#include "policy/prompt_text.h"

namespace sluice {

namespace {

// The longest prefix of `text` no longer than `bytes` that ends on a UTF-8 character boundary.
std::string_view utf8_prefix(std::string_view text, std::size_t bytes) {
    if (text.size() <= bytes) return text;
    std::size_t end = bytes;
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
    return text.substr(0, end);
}

}  // namespace

std::string masked_prompt_excerpt(const Policy* policy, std::string_view body,
                                  std::string_view path) {
    JsonView json;
    if (!read_json_view(body, json)) return "";
    const std::vector<std::string> texts = extract_prompt_texts(json, path);
    if (texts.empty()) return "";
    const std::string masked =
        audit_safe_text(policy, utf8_prefix(texts.back(), kPromptExcerptScanBytes));
    std::string excerpt(utf8_prefix(masked, kPromptExcerptBytes));
    if (excerpt.size() < masked.size()) excerpt += "…";
    return excerpt;
}

}  // namespace sluice
