// The byte-level JSON scanner (streamed-delta splicing, usage extraction): never looser than
// nlohmann::json::parse (a text it accepts must parse), strings decoded and escaped the same
// way.
#include "policy/json_scan.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "policy/json_append.h"

namespace sluice {
namespace {

using nlohmann::json;

bool scans(std::string_view text) {
    return scan_json(text, 128, [](const JsonValue&) {});
}

bool nlohmann_parses(std::string_view text) {
    return !json::parse(text, nullptr, false).is_discarded();
}

// Strings are skipped 16 bytes at a time: a byte that matters (a quote, a backslash, a control
// byte, broken UTF-8) must be caught at every offset within and across those blocks.
TEST(JsonScan, EveryByteOfALongStringCounts) {
    const std::vector<std::string> breakers = {
        "\x01", "\x1f", "\xc0\xaf", "\x80", "\xe2\x82", "\xed\xa0\x80", "\xf5\x80\x80\x80",
        "\\q",  "\"x",  "\\"};
    const std::vector<std::string> fine = {
        "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\\n", "\\u00e9", "\x7f", " "};
    for (std::size_t length = 0; length < 48; ++length) {
        for (std::size_t at = 0; at <= length; ++at) {
            for (const auto& piece : breakers) {
                const std::string text =
                    "[\"" + std::string(at, 'a') + piece + std::string(length - at, 'b') + "\"]";
                EXPECT_EQ(scans(text), nlohmann_parses(text))
                    << length << " " << at << " " << json(piece).dump();
            }
            for (const auto& piece : fine) {
                const std::string text =
                    "[\"" + std::string(at, 'a') + piece + std::string(length - at, 'b') + "\"]";
                EXPECT_TRUE(scans(text)) << length << " " << at << " " << json(piece).dump();
                EXPECT_TRUE(nlohmann_parses(text));
            }
        }
    }
}

TEST(JsonScan, AcceptsAndRefusesLikeNlohmann) {
    const std::vector<std::string> valid = {
        R"({"a":1})",
        R"([1,-0,0.5,1e3,-2.5E-3,true,false,null,1e-400,1e308])",
        R"("x\"\\\/\b\f\n\r\t")",
        R"("\ud83d\ude00")",
        "\"\xc3\xa9\"",
        " {\"a\" : [ ] , \"b\" : { } } ",
        R"("\u00e9")"};
    for (const auto& text : valid) {
        EXPECT_TRUE(scans(text)) << text;
        EXPECT_TRUE(nlohmann_parses(text)) << text;
    }
    const std::vector<std::string> invalid = {
        R"({"a":1,})",   R"([01])",    R"([1.])",   R"([.5])",  R"({"a" 1})",       R"("\ud83d")",
        R"("\ude00")",   R"("\x")",    "\"a\x01\"", "\"\xc3\"", "\"\xed\xa0\x80\"", R"([tru])",
        R"({"a":1}x)",   R"({'a':1})", R"([1e])",   "",         R"("\u12")",        R"([1e400])",
        R"([-1.8e308])", R"([-])",     R"({"a":})", R"([1 2])"};
    for (const auto& text : invalid) {
        EXPECT_FALSE(scans(text)) << text;
        EXPECT_FALSE(nlohmann_parses(text)) << text;
    }
}

TEST(JsonScan, NeverAcceptsWhatNlohmannRefusesUnderMutation) {
    const std::string seed =
        R"({"id":"chatcmpl-1","created":17,"choices":[{"index":0,"delta":{"content":"h\u00e9 \"x\" \ud83d\ude00\n"},"logprobs":null,"finish_reason":null}],"x":[1.5e-3,true,false,null,{}]})";
    const std::string alphabet = "{}[]\",:\\u0123456789.eE+-abcdfnrt \x01\x7f\xc3\xa9\xed\xa0\xff";
    std::mt19937 rng(7);
    int accepted = 0;
    for (int i = 0; i < 20000; ++i) {
        std::string text = seed;
        const int edits = 1 + static_cast<int>(rng() % 3);
        for (int e = 0; e < edits; ++e) {
            const std::size_t at = rng() % text.size();
            const char c = alphabet[rng() % alphabet.size()];
            switch (rng() % 3) {
                case 0:
                    text[at] = c;
                    break;
                case 1:
                    text.insert(text.begin() + static_cast<std::ptrdiff_t>(at), c);
                    break;
                default:
                    text.erase(at, 1);
            }
        }
        if (!scans(text)) continue;
        ++accepted;
        ASSERT_TRUE(nlohmann_parses(text)) << text;
    }
    EXPECT_GT(accepted, 1000);  // the mutations also exercise the accepting side
}

TEST(JsonScan, StringsDecodeAndEncodeLikeNlohmann) {
    const std::vector<std::string> literals = {R"("plain")",
                                               R"("q\"b\\s\/")",
                                               R"("\b\f\n\r\t")",
                                               R"("\u0001\u001f\u00e9")",
                                               R"("\ud83d\ude00 \u20ac")",
                                               "\"caf\xc3\xa9\""};
    for (const auto& literal : literals) {
        const std::string decoded = decode_json_string(literal);
        EXPECT_EQ(decoded, json::parse(literal).get<std::string>()) << literal;
        std::string encoded;
        append_json_string(encoded, decoded);
        EXPECT_EQ(encoded, json(decoded).dump()) << literal;
    }
}

TEST(JsonScan, Int64LiteralsOnly) {
    EXPECT_EQ(json_int64("0"), 0);
    EXPECT_EQ(json_int64("-17"), -17);
    EXPECT_EQ(json_int64("9223372036854775807"), INT64_MAX);
    EXPECT_EQ(json_int64("-9223372036854775808"), INT64_MIN);
    EXPECT_FALSE(json_int64("9223372036854775808"));
    EXPECT_FALSE(json_int64("1.0"));
    EXPECT_FALSE(json_int64("1e2"));
}

}  // namespace
}  // namespace sluice
