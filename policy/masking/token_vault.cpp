#include "policy/masking/token_vault.h"

#include "policy/masking/char_class.h"

namespace sluice::masking {

namespace {
bool is_placeholder_char(char c) { return is_upper(c) || is_digit(c) || c == '_'; }
}  // namespace

std::optional<std::string> TokenVault::placeholder_for(std::string_view label,
                                                       std::string_view value) {
    std::string key;
    key.reserve(label.size() + 1 + value.size());
    key.append(label).push_back('\0');
    key.append(value);
    if (auto it = by_value_.find(key); it != by_value_.end()) return it->second;
    if (by_placeholder_.size() >= kMaxEntries) return std::nullopt;
    const std::size_t n = ++counters_[std::string(label)];
    // Appended rather than "<" + ...: GCC 12 at -O3 (BUILD_TYPE=Release) reports a false
    // -Wrestrict overlap for a literal plus a string.
    std::string placeholder;
    placeholder.append("<").append(label).append("_").append(std::to_string(n)).append(">");
    by_placeholder_.emplace(placeholder, std::string(value));
    by_value_.emplace(std::move(key), placeholder);
    return placeholder;
}

const std::string* TokenVault::value_for(std::string_view placeholder) const {
    auto it = by_placeholder_.find(std::string(placeholder));
    return it == by_placeholder_.end() ? nullptr : &it->second;
}

std::size_t restore_placeholders(const TokenVault& vault, std::string& text) {
    if (vault.empty() || text.find('<') == std::string::npos) return 0;
    std::string out;
    std::size_t restored = 0;
    std::size_t copied = 0;
    std::size_t i = 0;
    while ((i = text.find('<', i)) != std::string::npos) {
        std::size_t j = i + 1;
        while (j < text.size() && j - i < TokenVault::kMaxPlaceholderBytes &&
               is_placeholder_char(text[j]))
            ++j;
        if (j < text.size() && text[j] == '>') {
            if (const auto* value = vault.value_for(std::string_view(text).substr(i, j + 1 - i))) {
                out.append(text, copied, i - copied).append(*value);
                copied = j + 1;
                ++restored;
                i = j + 1;
                continue;
            }
        }
        ++i;
    }
    if (restored == 0) return 0;
    out.append(text, copied, std::string::npos);
    text.swap(out);
    return restored;
}

std::size_t placeholder_tail(std::string_view text) {
    const std::size_t lt = text.rfind('<');
    if (lt == std::string_view::npos || text.size() - lt >= TokenVault::kMaxPlaceholderBytes)
        return text.size();
    for (std::size_t i = lt + 1; i < text.size(); ++i)
        if (!is_placeholder_char(text[i])) return text.size();
    return lt;
}

}  // namespace sluice::masking
