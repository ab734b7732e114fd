// Daily budget accounting: what an account has used today and what in-flight requests hold.
// A request is admitted only if used + reserved + its estimate stays within the limit, so a
// concurrent burst can never overshoot (the check and the reservation happen under one lock in
// PolicyState). Settlement replaces the estimate with the real usage.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

namespace sluice {

struct TokenUsage {
    int64_t input_tokens = 0;
    int64_t output_tokens = 0;
    int64_t total() const { return input_tokens + output_tokens; }
};

// Reads an OpenAI `usage` object: Chat (prompt_tokens/completion_tokens), Responses
// (input_tokens/output_tokens), embeddings (prompt_tokens/total_tokens). nullopt if neither.
std::optional<TokenUsage> token_usage_from_json(const nlohmann::json& usage);
// The same reading of a usage object's JSON text (usage.h keeps it as text), by a validating
// scan: settling a budget parsed it into a tree to read two numbers (docs/benchmarks.md).
// nullopt also when the text is not JSON.
std::optional<TokenUsage> token_usage_from_text(std::string_view usage_json);

struct BudgetAmount {
    int64_t tokens = 0;
    int64_t cost_pico = 0;  // USD × 1e12
};

struct BudgetAccount {
    int64_t day = 0;        // local day (days since epoch) `used` belongs to
    BudgetAmount used;      // settled today
    BudgetAmount reserved;  // held by requests still in flight; carried across midnight

    // Starts a new day: settled usage resets, in-flight reservations stay held.
    void roll_to(int64_t today) {
        if (today > day) {
            day = today;
            used = {};
        }
    }
};

}  // namespace sluice
