// Budget settlement reads the answer's usage from its JSON text by a scan
// (token_usage_from_text) instead of a tree (token_usage_from_json). Generated usage objects —
// every count member, escaped names, repeats, negatives, fractions, integers past int64_t and
// uint64_t, wrong types, nesting — must settle the same tokens either way.
#include <gtest/gtest.h>

#include <random>

#include "policy/budget_ledger.h"

namespace sluice {
namespace {

const std::vector<std::string> kNames = {
    "input_tokens",       "output_tokens", "prompt_tokens",
    "completion_tokens",  "total_tokens",  "\\u0069nput_tokens",
    "total\\u005ftokens", "cached_tokens", "prompt_tokens_details"};
const std::vector<std::string> kValues = {"0",
                                          "7",
                                          "1200",
                                          "-3",
                                          "-0",
                                          "1.5",
                                          "1e2",
                                          "2E1",
                                          "9223372036854775807",
                                          "9223372036854775808",
                                          "18446744073709551615",
                                          "18446744073709551616",
                                          "-9223372036854775809",
                                          "\"7\"",
                                          "null",
                                          "true",
                                          "{\"input_tokens\":5}",
                                          "[1]"};

std::string generated_usage(std::mt19937& rng) {
    auto pick = [&](std::size_t n) {
        return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng);
    };
    std::string out = "{";
    const std::size_t members = pick(6);
    for (std::size_t i = 0; i < members; ++i)
        out += (i ? "," : "") + ("\"" + kNames[pick(kNames.size())] + "\": ") +
               kValues[pick(kValues.size())];
    return out + "}";
}

void expect_same_usage(const std::string& text) {
    SCOPED_TRACE(text);
    const auto parsed = nlohmann::json::parse(text, nullptr, false);
    const auto from_tree = parsed.is_discarded() ? std::nullopt : token_usage_from_json(parsed);
    const auto from_text = token_usage_from_text(text);
    ASSERT_EQ(from_text.has_value(), from_tree.has_value());
    if (!from_text) return;
    EXPECT_EQ(from_text->input_tokens, from_tree->input_tokens);
    EXPECT_EQ(from_text->output_tokens, from_tree->output_tokens);
}

TEST(TokenUsageText, GeneratedUsageSettlesAsTheTreeReadIt) {
    std::mt19937 rng(15);
    for (int i = 0; i < 20000; ++i) expect_same_usage(generated_usage(rng));
}

TEST(TokenUsageText, TextThatIsNoObjectSettlesNothing) {
    for (std::string text : {"", "[]", "7", "null", "{\"total_tokens\":3", "{\"total_tokens\":3}x",
                             "\"total_tokens\""})
        EXPECT_FALSE(token_usage_from_text(text)) << text;
}

TEST(TokenUsageText, ChatAndResponsesCountsAreRead) {
    const auto chat =
        token_usage_from_text(R"({"prompt_tokens":12,"completion_tokens":30,"total_tokens":42,)"
                              R"("prompt_tokens_details":{"cached_tokens":2}})");
    ASSERT_TRUE(chat);
    EXPECT_EQ(chat->input_tokens, 12);
    EXPECT_EQ(chat->output_tokens, 30);
    const auto responses = token_usage_from_text(R"({"input_tokens":5,"output_tokens":9})");
    ASSERT_TRUE(responses);
    EXPECT_EQ(responses->total(), 14);
}

}  // namespace
}  // namespace sluice
