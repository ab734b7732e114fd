#include "policy/budget_ledger.h"

namespace sluice {

namespace {

std::optional<int64_t> count(const nlohmann::json& usage, const char* key) {
    auto it = usage.find(key);
    if (it == usage.end() || !it->is_number_integer()) return std::nullopt;
    auto value = it->get<int64_t>();
    return value < 0 ? 0 : value;
}

}  // namespace

std::optional<TokenUsage> token_usage_from_json(const nlohmann::json& usage) {
    if (!usage.is_object()) return std::nullopt;
    TokenUsage result;
    if (auto input = count(usage, "input_tokens")) {
        result.input_tokens = *input;
        result.output_tokens = count(usage, "output_tokens").value_or(0);
        return result;
    }
    if (auto prompt = count(usage, "prompt_tokens")) {
        result.input_tokens = *prompt;
        if (auto completion = count(usage, "completion_tokens")) {
            result.output_tokens = *completion;
        } else if (auto total = count(usage, "total_tokens"); total && *total > *prompt) {
            result.output_tokens = *total - *prompt;
        }
        return result;
    }
    if (auto total = count(usage, "total_tokens")) {
        result.input_tokens = *total;
        return result;
    }
    return std::nullopt;
}

}  // namespace sluice
