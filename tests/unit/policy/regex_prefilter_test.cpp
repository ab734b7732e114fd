// The prefilter in front of the RE2 sets must never say "no" where RE2 matches: a blocked prompt
// or a custom masking entity would pass. Generated patterns and texts over an alphabet chosen
// for where RE2 and Hyperscan could read a pattern differently (Unicode case folding, ASCII
// word boundaries next to non-ASCII letters, newlines against `.` and anchors, multi-byte code
// points against `.` and negated classes).
#include "policy/regex_prefilter.h"

#include <gtest/gtest.h>
#include <re2/re2.h>

#include <random>
#include <string>
#include <vector>

#include "policy/prompt_patterns.h"

namespace sluice {
namespace {

const std::vector<std::string> kLetters = {"a",
                                           "b",
                                           "k",
                                           "s",
                                           "K",
                                           "S",
                                           "\xC3\xA9" /* é */,
                                           "\xC3\x89" /* É */,
                                           "\xCF\x83" /* σ */,
                                           "\xCE\xA3" /* Σ */,
                                           "\xCF\x82" /* ς */,
                                           "\xE2\x84\xAA" /* Kelvin sign */,
                                           "\xC5\xBF" /* long s */,
                                           " ",
                                           "\n",
                                           "-",
                                           ".",
                                           "_",
                                           "1",
                                           "\xF0\x9F\x98\x80" /* emoji */};

const std::vector<std::string> kAtoms = {"a",           "b",
                                         "k",           "s",
                                         "K",           "\xC3\xA9",
                                         "\xCF\x83",    "\xE2\x84\xAA",
                                         "\xC5\xBF",    "-",
                                         "\\.",         " ",
                                         "\\n",         ".",
                                         "\\d",         "\\w",
                                         "\\s",         "\\D",
                                         "\\W",         "\\S",
                                         "[ak]",        "[^a]",
                                         "[a-z]",       "[^a-z]",
                                         "[[:alpha:]]", "[[:^alpha:]]",
                                         "\\pL",        "\\p{Greek}",
                                         "\\PL",        "\\x{3C3}",
                                         "\\Q.k\\E",    "[\\s\\d]"};

// Zero-width: never repeated (Hyperscan refuses `\b{2}`, which means nothing more than `\b`).
const std::vector<std::string> kAssertions = {"\\b", "\\B", "^", "$", "\\A", "\\z"};

const std::vector<std::string> kQuantifiers = {"",    "",      "",      "*",  "+",  "?",
                                               "{2}", "{1,3}", "{0,2}", "*?", "+?", "{2,}"};

std::string random_pattern(std::mt19937& rng, int depth = 0) {
    auto pick = [&](const std::vector<std::string>& from) { return from[rng() % from.size()]; };
    std::string out;
    const int pieces = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < pieces; ++i) {
        const unsigned kind = rng() % 10;
        if (kind < 2) {
            out += pick(kAssertions);
        } else if (kind < 8 || depth >= 2) {
            out += pick(kAtoms) + pick(kQuantifiers);
        } else {
            static const std::vector<std::string> kOpen = {"(", "(?:", "(?i:", "(?s:", "(?m:"};
            std::string inner = random_pattern(rng, depth + 1);
            if (rng() % 3 == 0) inner += "|" + random_pattern(rng, depth + 1);
            out += pick(kOpen) + inner + ")" + pick(kQuantifiers);
        }
    }
    static const std::vector<std::string> kFlags = {"", "", "(?i)", "(?s)", "(?m)", "(?is)"};
    return pick(kFlags) + out;
}

std::string random_text(std::mt19937& rng) {
    std::string text;
    const unsigned length = rng() % 10;
    for (unsigned i = 0; i < length; ++i) text += kLetters[rng() % kLetters.size()];
    return text;
}

TEST(RegexPrefilter, NeverRulesOutATextRe2Matches) {
    std::mt19937 rng(20261207);
    RE2::Options options;
    options.set_log_errors(false);
    int patterns = 0, filtered = 0, positives = 0, ruled_out = 0;
    while (patterns < 500) {
        const std::string pattern = random_pattern(rng);
        RE2 re(pattern, options);
        if (!re.ok()) continue;
        ++patterns;
        const auto prefilter = RegexPrefilter::compile({pattern});
        if (!prefilter) continue;  // RE2 alone then reads every text: nothing to hold
        ++filtered;
        for (int t = 0; t < 300; ++t) {
            const std::string text = random_text(rng);
            const bool matches = RE2::PartialMatch(text, re);
            const bool may = prefilter->may_match(text);
            // Asked again, a "no" comes from the thread's memory of clean texts
            // (clean_text_memo.h); texts repeat within a pattern's 300, so both paths run.
            ASSERT_EQ(prefilter->may_match(text), may) << pattern << " / " << text;
            if (matches) {
                ++positives;
                ASSERT_TRUE(may) << "pattern '" << pattern << "' matches '" << text
                                 << "' but the prefilter ruled it out";
            } else if (!may) {
                ++ruled_out;
            }
        }
    }
    // The property was exercised on both sides. Many generated patterns can match empty (and
    // some repeat an anchor inside a group, which Hyperscan refuses): those are left to RE2.
    EXPECT_GT(filtered, patterns * 4 / 10);
    EXPECT_GT(positives, 10000);
    EXPECT_GT(ruled_out, 15000);
}

TEST(RegexPrefilter, ASetIsRuledOutOnlyWhenNoMemberCanMatch) {
    const auto prefilter = RegexPrefilter::compile({"EMP-\\d{6}", "(?i)ignore previous"});
    ASSERT_TRUE(prefilter);
    EXPECT_FALSE(prefilter->may_match("lorem ipsum dolor sit amet, EMP-12345"));
    EXPECT_TRUE(prefilter->may_match("id EMP-123456 here"));
    EXPECT_TRUE(prefilter->may_match("please IGNORE Previous text"));
    EXPECT_FALSE(prefilter->may_match(""));
}

TEST(RegexPrefilter, AnAsciiClassUnderCaseFoldingTakesLongSAndKelvinAsRe2Does) {
    const auto prefilter = RegexPrefilter::compile({"(?i)[a-z]{3}", "(?i)x\\w"});
    ASSERT_TRUE(prefilter);
    for (const std::string& text : {std::string("\xC5\xBF\xE2\x84\xAA\xC5\xBF"),
                                    std::string("x\xE2\x84\xAA"), std::string("X\xC5\xBF")}) {
        ASSERT_TRUE(RE2::PartialMatch(text, RE2("(?i)[a-z]{3}")) ||
                    RE2::PartialMatch(text, RE2("(?i)x\\w")));
        EXPECT_TRUE(prefilter->may_match(text));
    }
    EXPECT_FALSE(prefilter->may_match("\xC3\xA9\xC3\xA9\xC3\xA9 1"));
}

TEST(RegexPrefilter, TextThatIsNotUtf8IsNeverRuledOut) {
    const auto prefilter = RegexPrefilter::compile({"secret"});
    ASSERT_TRUE(prefilter);
    for (const std::string& text :
         {std::string("\xFF"), std::string("abc\xC3"), std::string("\xED\xA0\x80")})
        EXPECT_TRUE(prefilter->may_match(text)) << "text of " << text.size() << " bytes";
}

TEST(RegexPrefilter, APatternHyperscanCannotTakeLeavesEveryTextToRe2) {
    // RE2-only syntax, and patterns that can match empty (RE2 tests `\\B` between the bytes of
    // one code point, where Hyperscan never looks).
    for (const std::string& pattern :
         {std::string("(?U)a+b"), std::string("\\C"), std::string("a\\Cb"), std::string("(?is)\\B"),
          std::string("x?\\b"), std::string("a*")}) {
        ASSERT_TRUE(RE2(pattern).ok()) << pattern;
        EXPECT_FALSE(RegexPrefilter::compile({"fine", pattern})) << pattern;
    }
    // ... and the set still blocks what RE2 matches.
    std::string error;
    const auto set = PromptPatternSet::compile({{"lazy", "(?U)x+y"}}, error);
    ASSERT_TRUE(set) << error;
    EXPECT_EQ(set->first_match({"no", "xxy"}), std::optional<std::string>("lazy"));
    EXPECT_EQ(set->first_match({"no", "yx"}), std::nullopt);
    const auto empty = PromptPatternSet::compile({{"between", "(?is)\\B"}}, error);
    ASSERT_TRUE(empty) << error;
    EXPECT_EQ(empty->first_match({"s\xCF\x83S"}), std::optional<std::string>("between"));
}

TEST(RegexPrefilter, ThePromptSetStillNamesTheFirstPatternInDeclarationOrder) {
    std::string error;
    const auto set = PromptPatternSet::compile(
        {{"late", "zeta"}, {"early", "alpha"}, {"folded", "(?i)\xCF\x83igma"}}, error);
    ASSERT_TRUE(set) << error;
    EXPECT_EQ(set->first_match({"alpha then zeta"}), std::optional<std::string>("late"));
    EXPECT_EQ(set->first_match({"just alpha", "clean"}), std::optional<std::string>("early"));
    EXPECT_EQ(set->first_match({"\xCE\xA3IGMA"}), std::optional<std::string>("folded"));
    EXPECT_EQ(set->first_match({"clean", "text"}), std::nullopt);
}

}  // namespace
}  // namespace sluice
