// Reversible tokens of one masking session: each distinct value becomes a stable placeholder
// "<EMAIL_1>" upstream and is put back when the placeholder comes back in the answer. Lives
// only in memory, for one session; never logged.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace sluice::masking {

class TokenVault {
public:
    // Bounds memory per session; past it values are redacted instead of tokenized.
    static constexpr std::size_t kMaxEntries = 4096;
    // "<" + label (<= 64) + "_" + number + ">".
    static constexpr std::size_t kMaxPlaceholderBytes = 80;

    // The placeholder for `value` of entity `label`, created on first use; nullopt when full.
    std::optional<std::string> placeholder_for(std::string_view label, std::string_view value);
    // The original value behind a placeholder this vault issued, or nullptr.
    const std::string* value_for(std::string_view placeholder) const;
    bool empty() const { return by_placeholder_.empty(); }
    std::size_t size() const { return by_placeholder_.size(); }

private:
    std::unordered_map<std::string, std::string> by_value_;  // label '\0' value -> placeholder
    std::unordered_map<std::string, std::string> by_placeholder_;
    std::unordered_map<std::string, std::size_t> counters_;  // label -> last number
};

// Replaces every placeholder the vault issued in `text`; returns how many were replaced.
std::size_t restore_placeholders(const TokenVault& vault, std::string& text);

// Where a trailing, possibly unfinished placeholder starts (text.size() if none): a '<'
// followed only by placeholder characters, short enough to still be one.
std::size_t placeholder_tail(std::string_view text);

}  // namespace sluice::masking
