#include "policy/budget_ledger.h"

#include <array>
#include <string>

#include "policy/json_scan.h"

namespace sluice {

namespace {

enum UsageCount : std::size_t { input, output, prompt, completion, total, kUsageCounts };
constexpr std::array<std::string_view, kUsageCounts> kUsageCountNames = {
    "input_tokens", "output_tokens", "prompt_tokens", "completion_tokens", "total_tokens"};

// A count as token_usage_from_json reads it from nlohmann::json: integers only (an integer
// past uint64_t is a float there), negatives as 0, and an unsigned past INT64_MAX, which
// nlohmann converts to a negative int64_t, as 0 too.
std::optional<int64_t> count_literal(std::string_view literal) {
    if (literal.find_first_of(".eE") != std::string_view::npos) return std::nullopt;
    if (auto value = json_int64(literal)) return *value < 0 ? 0 : *value;
    if (literal.starts_with('-')) return std::nullopt;
    uint64_t value = 0;
    for (char c : literal) {
        const auto digit = static_cast<uint64_t>(c - '0');
        if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
        value = value * 10 + digit;
    }
    return 0;
}

// Reads the five counts (the last of a repeated member, as nlohmann keeps); false if the text
// is not one JSON object.
bool read_counts(std::string_view text, std::array<std::optional<int64_t>, kUsageCounts>& counts) {
    std::size_t current = kUsageCounts;  // the top-level member being read
    bool object = false;
    const bool valid = scan_json(
        text, kJsonMaxDepth,
        [&](const JsonValue& v) {
            if (v.depth == 0) {
                object = v.kind == JsonKind::object;
                return;
            }
            if (v.depth != 1) return;
            if (v.kind == JsonKind::key) {
                const std::string_view raw = text.substr(v.begin, v.end - v.begin);
                const std::string name = v.escaped ? decode_json_string(raw)
                                                   : std::string(raw.substr(1, raw.size() - 2));
                current = kUsageCounts;
                for (std::size_t i = 0; i < kUsageCounts; ++i)
                    if (name == kUsageCountNames[i]) current = i;
                return;
            }
            if (current == kUsageCounts) return;
            counts[current] = v.kind == JsonKind::number
                                  ? count_literal(text.substr(v.begin, v.end - v.begin))
                                  : std::nullopt;
        },
        JsonScanOptions{.report_keys = true}, nullptr);
    return valid && object;
}

TokenUsage usage_of(const std::array<std::optional<int64_t>, kUsageCounts>& counts, bool& found) {
    found = true;
    TokenUsage result;
    if (counts[input]) {
        result.input_tokens = *counts[input];
        result.output_tokens = counts[output].value_or(0);
    } else if (counts[prompt]) {
        result.input_tokens = *counts[prompt];
        if (counts[completion])
            result.output_tokens = *counts[completion];
        else if (counts[total] && *counts[total] > *counts[prompt])
            result.output_tokens = *counts[total] - *counts[prompt];
    } else if (counts[total]) {
        result.input_tokens = *counts[total];
    } else {
        found = false;
    }
    return result;
}

std::optional<int64_t> count(const nlohmann::json& usage, const char* key) {
    auto it = usage.find(key);
    if (it == usage.end() || !it->is_number_integer()) return std::nullopt;
    auto value = it->get<int64_t>();
    return value < 0 ? 0 : value;
}

}  // namespace

std::optional<TokenUsage> token_usage_from_json(const nlohmann::json& usage) {
    if (!usage.is_object()) return std::nullopt;
    std::array<std::optional<int64_t>, kUsageCounts> counts;
    for (std::size_t i = 0; i < kUsageCounts; ++i)
        counts[i] = count(usage, kUsageCountNames[i].data());
    bool found = false;
    const TokenUsage result = usage_of(counts, found);
    return found ? std::optional(result) : std::nullopt;
}

std::optional<TokenUsage> token_usage_from_text(std::string_view usage_json) {
    std::array<std::optional<int64_t>, kUsageCounts> counts;
    if (!read_counts(usage_json, counts)) return std::nullopt;
    bool found = false;
    const TokenUsage result = usage_of(counts, found);
    return found ? std::optional(result) : std::nullopt;
}

}  // namespace sluice
