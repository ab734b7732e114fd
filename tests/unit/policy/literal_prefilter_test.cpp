// The literal prefilter may only say "cannot match" of texts no pattern matches: generated
// texts (literals in every case, split, adjacent, non-ASCII look-alikes that RE2's case folding
// matches) against patterns with and without required literals.
#include "policy/literal_prefilter.h"

#include <gtest/gtest.h>

#include <random>

namespace sluice {
namespace {

const std::vector<std::string> kPatterns = {R"(EMP-\d{6})",
                                            R"((?i)proj-[a-z]{3})",
                                            R"(ACME|Globex-\d+)",
                                            R"((?i)kelvin\d)",
                                            R"(-----BEGIN [A-Z ]*PRIVATE KEY-----)",
                                            R"((?i)ignore (all |any )?previous instructions)"};

TEST(LiteralPrefilter, SaysCannotMatchOnlyWhereNoPatternMatches) {
    auto prefilter = LiteralPrefilter::build(kPatterns, re2::RE2::Options());
    ASSERT_TRUE(prefilter);
    std::vector<std::unique_ptr<re2::RE2>> alone;
    for (const auto& p : kPatterns) alone.push_back(std::make_unique<re2::RE2>(p));
    const std::vector<std::string> pieces = {"EMP-123456",
                                             "emp-123456",
                                             "EMP-",
                                             "123456",
                                             "PROJ-abc",
                                             "pRoJ-xyz",
                                             "ACME",
                                             "acme",
                                             "Globex-7",
                                             "KELVIN1",
                                             "\xe2\x84\xaa"
                                             "elvin2",
                                             "-----BEGIN ",
                                             "RSA PRIVATE KEY-----",
                                             "Ignore all ",
                                             "PREVIOUS INSTRUCTIONS",
                                             "lorem ipsum ",
                                             " ",
                                             "-"};
    std::mt19937 rng(9);
    int skipped = 0;
    for (int round = 0; round < 20000; ++round) {
        std::string text;
        const int n = std::uniform_int_distribution<int>(1, 5)(rng);
        for (int i = 0; i < n; ++i)
            text += pieces[std::uniform_int_distribution<std::size_t>(0, pieces.size() - 1)(rng)];
        for (std::size_t k = 0; k < kPatterns.size(); ++k) {
            const bool possible =
                prefilter->possible(text, [&](int index) { return index == static_cast<int>(k); });
            if (re2::RE2::PartialMatch(text, *alone[k])) {
                EXPECT_TRUE(possible) << kPatterns[k] << " in " << text;
            }
            skipped += !possible;
        }
    }
    EXPECT_GT(skipped, 10000) << "the prefilter skips texts that lack the literals";
}

TEST(LiteralPrefilter, PlainProseSkipsEveryPatternThatNeedsALiteral) {
    auto prefilter = LiteralPrefilter::build(kPatterns, re2::RE2::Options());
    ASSERT_TRUE(prefilter);
    EXPECT_FALSE(prefilter->possible("Lorem ipsum dolor sit amet, mail jane@example.com.",
                                     [](int) { return true; }));
    EXPECT_TRUE(prefilter->possible("see emp-000001", [](int) { return true; }));
}

TEST(LiteralPrefilter, PatternsWithoutLiteralsAlwaysMightMatch) {
    auto prefilter = LiteralPrefilter::build({R"(\d{3}-\d{2})"}, re2::RE2::Options());
    ASSERT_TRUE(prefilter);
    EXPECT_TRUE(prefilter->possible("no digits here", [](int) { return true; }));
}

}  // namespace
}  // namespace sluice
