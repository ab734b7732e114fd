// The one reading of a request body (policy/request_reading.h): strict where providers'
// parsers differ, every string and key, decoded layers, the conversation run; and the folded
// view matchers read (policy/text_fold.h).
#include "policy/request_reading.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>

#include "policy/text_fold.h"

namespace sluice {
namespace {

using nlohmann::json;

std::vector<std::string> leaf_texts(const RequestReading& reading) {
    std::vector<std::string> out;
    for (const auto& node : reading.texts)
        if (!node.container && !node.binary) out.push_back(node.text);
    return out;
}

TEST(RequestReading, RefusesWhatParsersReadDifferentlyAndNamesTheProblem) {
    const std::pair<std::string, std::string> cases[] = {
        {"\xEF\xBB\xBF{\"a\":1}", "byte order mark"},
        {R"({"a":NaN})", "not JSON"},
        {R"({"a":Infinity})", "not JSON"},
        {R"({"a":-Infinity})", "not JSON"},
        {R"({"a":1e400})", "out of range"},
        {R"({"a":-1e999})", "out of range"},
        {R"({"a":"\ud800"})", "unpaired surrogate"},
        {R"({"a":"\udc00x"})", "unpaired surrogate"},
        {R"({"a":"\ud800\u0041"})", "unpaired surrogate"},
        {"{\"a\":\"\xC3\x28\"}", "not valid UTF-8"},
        {"{\"a\":\"\xED\xA0\x80\"}", "not valid UTF-8"},  // a surrogate encoded in UTF-8
        {"{\"a\":\"x\ty\"}", "control character"},
        {R"({"a":"\x41"})", "invalid escape"},
        {R"({"a":1} {"b":2})", "more than one"},
        {R"({"a":1,})", "not JSON"},
        {R"([1,2])", "not a JSON object"},
        {R"("text")", "not a JSON object"},
        {R"({"messages":[],"messages":[{"role":"user","content":"x"}]})", "twice"},
        {R"({"a":{"b":1,"c":2,"b":3}})", "twice"},
        {R"({"model":"a","mod\u0065l":"b"})", "twice"},  // the same name, escaped
        {R"({"x":[{"k":1},{"k":2,"k":3}]})", "twice"},
    };
    for (const auto& [body, problem] : cases) {
        const RequestReading reading = read_request_body(body, "/v1/chat/completions");
        EXPECT_FALSE(reading.readable()) << body;
        EXPECT_NE(reading.problem.find(problem), std::string::npos)
            << body << ": " << reading.problem;
        EXPECT_TRUE(reading.texts.empty());
    }
    // A duplicate is named only when the name is a plain identifier (a name may be data).
    EXPECT_NE(read_request_body(R"({"messages":1,"messages":2})", "/").problem.find("\"messages\""),
              std::string::npos);
    EXPECT_EQ(read_request_body(R"({"a@b.com":1,"a@b.com":2})", "/").problem.find("a@b.com"),
              std::string::npos);
}

TEST(RequestReading, AcceptsWhatEveryStrictParserReadsAlike) {
    for (const char* body :
         {R"({})", R"( {"a" : [1, -0.5e3, true, null, {"b":"\u00e9\ud83d\ude00"}]} )",
          R"({"a":{"k":1},"b":{"k":2}})", R"({"k":{"k":{"k":1}}})",
          R"({"a":1.7976931348623157e308})"}) {
        EXPECT_TRUE(read_request_body(body, "/v1/chat/completions").readable()) << body;
        EXPECT_NO_THROW(json::parse(body)) << body;
    }
}

TEST(RequestReading, EveryStringAndKeyIsAText) {
    const std::string body =
        R"({"model":"gpt-4o","metadata":{"owner\u0040x":"v1"},"tools":[{"type":"function",)"
        R"("function":{"name":"f","description":"desc","parameters":{"properties":{"p":{"description":"pd"}}}}}],)"
        R"("messages":[{"role":"user","name":"n1","content":"hi"}],"user":"u1"})";
    const RequestReading reading = read_request_body(body, "/v1/chat/completions");
    ASSERT_TRUE(reading.readable()) << reading.problem;
    std::vector<std::string> expected;
    std::function<void(const nlohmann::ordered_json&)> walk = [&](const nlohmann::ordered_json& v) {
        if (v.is_string()) expected.push_back(v.get<std::string>());
        if (v.is_array())
            for (const auto& item : v) walk(item);
        if (v.is_object())
            for (const auto& [key, item] : v.items()) {
                expected.push_back(key);
                walk(item);
            }
    };
    walk(nlohmann::ordered_json::parse(body));
    EXPECT_EQ(leaf_texts(reading), expected);
}

TEST(RequestReading, JsonInsideAStringIsReadToo) {
    const std::string body =
        R"({"messages":[{"role":"assistant","tool_calls":[{"function":{"name":"f",)"
        R"("arguments":"{\"to\":\"alice\\u0040example.com\",\"deep\":\"[\\\"x\\\"]\"}"}}]}]})";
    const RequestReading reading = read_request_body(body, "/v1/chat/completions");
    ASSERT_TRUE(reading.readable()) << reading.problem;
    const auto texts = leaf_texts(reading);
    EXPECT_NE(std::find(texts.begin(), texts.end(), "alice@example.com"), texts.end());
    EXPECT_NE(std::find(texts.begin(), texts.end(), "x"), texts.end());  // two layers down
    // Arguments that are not JSON are a text as they are.
    const RequestReading plain =
        read_request_body(R"({"x":"{not json alice@example.com"})", "/v1/chat/completions");
    EXPECT_EQ(leaf_texts(plain).back(), "{not json alice@example.com");
}

TEST(RequestReading, TextDataUrisAreDecodedWhateverTheirLabelBinaryOnesAreExempt) {
    std::string b64;
    append_base64(b64, "mail bob@example.com");
    std::string binary_b64;
    append_base64(binary_b64, std::string("\x89PNG\r\n\x1a\n\0\0bob@example.com", 24));
    const std::string body =
        json{{"a", "data:text/plain;base64," + b64},
             {"b", "data:image/png;base64," + b64},  // labelled image, is text
             {"c", "data:image/png;base64," + binary_b64},
             {"d", "data:,mail%20bob%40example.com"},
             {"e", {{"input_audio", {{"data", binary_b64}, {"format", "wav"}}}}}}
            .dump();
    const RequestReading reading = read_request_body(body, "/v1/chat/completions");
    ASSERT_TRUE(reading.readable());
    const auto texts = leaf_texts(reading);
    EXPECT_EQ(std::count(texts.begin(), texts.end(), "mail bob@example.com"), 3);
    for (const auto& text : texts) EXPECT_EQ(text.find("PNG"), std::string::npos);
    int binary = 0;
    for (const auto& node : reading.texts) binary += node.binary;
    EXPECT_EQ(binary, 2);  // the PNG data: URI payload and input_audio.data
}

TEST(RequestReading, ConversationTextsFormOneRunInOrder) {
    const std::string body =
        R"({"messages":[{"role":"user","content":[{"type":"text","text":"alice@"},)"
        R"({"type":"text","text":"exam"}]},{"role":"user","content":"ple.com"}],)"
        R"("user":"not in the run"})";
    const RequestReading reading = read_request_body(body, "/v1/chat/completions");
    const auto texts = prompt_scan_texts(reading);
    EXPECT_NE(std::find(texts.begin(), texts.end(), "alice@example.com"), texts.end());
    const RequestReading responses = read_request_body(
        R"({"instructions":"a","input":[{"role":"user","content":[{"type":"input_text","text":"b"}]},"c"]})",
        "/v1/responses");
    const auto run = prompt_scan_texts(responses);
    EXPECT_NE(std::find(run.begin(), run.end(), "abc"), run.end());
}

TEST(RequestReading, ScanTextsIncludeTheFoldedView) {
    const RequestReading reading =
        read_request_body(R"({"input":"key sk\u200b-ＡＢＣ１２３ and\u00a0x"})", "/v1/embeddings");
    const auto texts = prompt_scan_texts(reading);
    EXPECT_NE(std::find(texts.begin(), texts.end(), "key sk-ABC123 and x"), texts.end());
}

TEST(RequestReading, Base64RoundTripsAndDecodesStrictly) {
    std::mt19937 rng(3);
    for (int n = 0; n < 40; ++n) {
        std::string bytes(static_cast<std::size_t>(n), '\0');
        for (auto& b : bytes) b = static_cast<char>(rng());
        std::string encoded, decoded;
        append_base64(encoded, bytes);
        ASSERT_TRUE(decode_base64(encoded, decoded));
        EXPECT_EQ(decoded, bytes);
    }
    std::string out;
    for (const char* bad : {"QQ", "QQ=", "Q===", "QQ==QQ==", "QU!D", "QQ=A"})
        EXPECT_FALSE(decode_base64(bad, out)) << bad;
}

TEST(TextFold, ReaderEquivalentFormsBecomeOneAndMapBack) {
    const std::pair<std::string, std::string> cases[] = {
        {"ｓｋ－ｐｒｏｊ", "sk-proj"},                     // fullwidth letters and hyphen
        {"４１１１\u00a0１１１１", "4111 1111"},           // fullwidth digits, no-break space
        {"a\u200bb\u200cc\u200dd\u2060e\ufeff", "abcde"},  // zero-width and format characters
        {"x\u00ady", "xy"},                                // soft hyphen
        {"a\u2003b\u3000c\u202fd", "a b c d"},             // em, ideographic, narrow no-break
        {"①②", "12"},                                      // circled digits
        {"𝐚𝐛", "ab"},                                      // mathematical bold
        {"ﬁle", "file"},                                   // ligature
        {"bob\uff20example.com", "bob@example.com"},       // fullwidth at sign
    };
    for (const auto& [source, view] : cases) {
        FoldedText folded;
        ASSERT_TRUE(fold_for_matching(source, folded)) << source;
        EXPECT_EQ(folded.text, view) << source;
        const auto [begin, end] = folded.source_range(0, folded.text.size());
        EXPECT_EQ(begin, 0u);
        EXPECT_LE(end, source.size());
    }
    // Not folded: plain ASCII, case, other scripts' look-alikes, combining marks.
    FoldedText folded;
    for (const char* same : {"plain ascii", "Cyrillic \u0430", "e\u0301", "\u00e9"})
        EXPECT_FALSE(fold_for_matching(same, folded)) << same;
}

// The ASCII check steps eight bytes at a time: a code point to fold is seen at every offset
// and alignment, and next to its last byte.
TEST(TextFold, FindsAFoldedCodePointAtEveryPosition) {
    FoldedText folded;
    for (std::size_t length = 0; length <= 40; ++length) {
        const std::string ascii(length, 'a');
        EXPECT_FALSE(fold_for_matching(ascii, folded)) << length;
        for (std::size_t at = 0; at <= length; ++at) {
            std::string source = ascii;
            source.insert(at, "\u200b");
            ASSERT_TRUE(fold_for_matching(source, folded)) << length << " " << at;
            EXPECT_EQ(folded.text, ascii);
        }
    }
}

TEST(TextFold, SpansMapToTheOriginalCodePoints) {
    const std::string source = "mail ａ\u200bｂ@x.io!";
    FoldedText folded;
    ASSERT_TRUE(fold_for_matching(source, folded));
    ASSERT_EQ(folded.text, "mail ab@x.io!");
    const auto [begin, end] = folded.source_range(5, 12);  // "ab@x.io"
    EXPECT_EQ(source.substr(begin, end - begin), "ａ\u200bｂ@x.io");
}

}  // namespace
}  // namespace sluice
