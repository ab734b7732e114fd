#include <gtest/gtest.h>

#include "policy/glob.h"

namespace sluice {
namespace {

struct GlobCase {
    const char* pattern;
    const char* text;
    bool matches;
};

TEST(Glob, MatchesTable) {
    const GlobCase cases[] = {
        {"", "", true},
        {"", "a", false},
        {"*", "", true},
        {"*", "anything/with/slashes", true},
        {"**", "x", true},
        {"a*", "a", true},
        {"a*", "ba", false},
        {"*.service", "ci-build.service", true},
        {"*.service", "ci-build.scope", false},
        {"ci-*.service", "ci-.service", true},
        {"ci-*.service", "ci-a.service.bak", false},
        {"?", "", false},
        {"?", "a", true},
        {"?", "ab", false},
        {"a?c", "abc", true},
        {"a*b*c", "axxbyyc", true},
        {"a*b*c", "axxbyy", false},
        {"*aab", "aaaab", true},  // needs backtracking
        {"[abc]", "b", true},
        {"[abc]", "d", false},
        {"[a-c]x", "cx", true},
        {"[!a-c]", "d", true},
        {"[!a-c]", "a", false},
        {"[^a-c]", "a", false},
        {"[]]", "]", true},
        {"[!]]", "]", false},
        {"[a-]", "-", true},
        {"[\\]]", "]", true},
        {"\\*", "*", true},
        {"\\*", "a", false},
        {"\\?", "?", true},
        {"a\\[b", "a[b", true},
        {"[abc", "[abc", true},  // unterminated class is a literal '['
        {"/v1/*", "/v1/chat/completions", true},
        {"/v1/*", "/v2/x", false},
        {"gpt-4o-mini*", "gpt-4o-mini-2024-07-18", true},
        {"gpt-4o-mini", "gpt-4o", false},
        {"GPT-4o", "gpt-4o", false},  // case-sensitive
    };
    for (const auto& c : cases)
        EXPECT_EQ(glob_match(c.pattern, c.text), c.matches)
            << "pattern '" << c.pattern << "' text '" << c.text << "'";
}

TEST(Glob, ReportsMalformedPatterns) {
    EXPECT_FALSE(glob_error("ci-*.service"));
    EXPECT_FALSE(glob_error("[a-z]*"));
    EXPECT_FALSE(glob_error("\\*"));
    EXPECT_TRUE(glob_error("[abc"));
    EXPECT_TRUE(glob_error("abc\\"));
    EXPECT_TRUE(glob_error("[!"));
}

TEST(Glob, LiteralDetection) {
    EXPECT_TRUE(glob_is_literal("gpt-4o"));
    EXPECT_FALSE(glob_is_literal("gpt-*"));
    EXPECT_FALSE(glob_is_literal("a\\b"));
}

TEST(Glob, LiteralPrefixIsWhatEveryMatchStartsWith) {
    EXPECT_EQ(glob_literal_prefix("svc-990-*.service"), "svc-990-");
    EXPECT_EQ(glob_literal_prefix("gpt-4o"), "gpt-4o");
    EXPECT_EQ(glob_literal_prefix("*.service"), "");
    EXPECT_EQ(glob_literal_prefix("ab?c"), "ab");
    EXPECT_EQ(glob_literal_prefix("ab[cd]"), "ab");
    EXPECT_EQ(glob_literal_prefix("a\\*b*"), "a*b");  // escape resolved
    EXPECT_EQ(glob_literal_prefix("a\\"), "a\\");     // trailing backslash is literal
    EXPECT_EQ(glob_literal_prefix(""), "");
    // Whatever a pattern matches starts with its prefix: what the rule index relies on.
    for (std::string pattern : {"/opt/app1/bin/*", "a\\*b*", "job-1@*.service", "x?y"}) {
        for (std::string text : {"/opt/app1/bin/tool", "a*bcd", "job-1@2.service", "xzy", "a"}) {
            if (glob_match(pattern, text)) {
                EXPECT_EQ(text.rfind(glob_literal_prefix(pattern), 0), 0u)
                    << pattern << " " << text;
            }
        }
    }
}

}  // namespace
}  // namespace sluice
