// The byte-level JSON scanner behind the streamed-delta fast path: never looser than
// nlohmann::json::parse (a text it accepts must parse), strings decoded and escaped the same
// way, and a stream masked through spliced events reads exactly as through the general path.
#include "policy/masking/json_scan.h"

#include <gtest/gtest.h>

#include <random>

#include "masking_test_support.h"
#include "policy/masking/sse_delta_match.h"

namespace sluice::masking {
namespace {

using namespace testing;
using nlohmann::json;

bool scans(std::string_view text) {
    return scan_json(text, 128, [](const JsonValue&) {});
}

bool nlohmann_parses(std::string_view text) {
    return !json::parse(text, nullptr, false).is_discarded();
}

TEST(JsonScan, AcceptsAndRefusesLikeNlohmann) {
    const std::vector<std::string> valid = {R"({"a":1})",
                                            R"([1,-0,0.5,1e3,-2.5E-3,true,false,null])",
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
        R"({"a":1,})", R"([01])",    R"([1.])",   R"([.5])",  R"({"a" 1})",       R"("\ud83d")",
        R"("\ude00")", R"("\x")",    "\"a\x01\"", "\"\xc3\"", "\"\xed\xa0\x80\"", R"([tru])",
        R"({"a":1}x)", R"({'a':1})", R"([1e])",   "",         R"("\u12")",        R"([-])",
        R"({"a":})",   R"([1 2])"};
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

TEST(DeltaMatch, OnlyPlainTextDeltasMatch) {
    EXPECT_TRUE(match_chat_delta(
        R"({"id":"c","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]})"));
    EXPECT_TRUE(match_chat_delta(R"({"choices":[{"delta":{"role":"assistant","content":null}}]})"));
    for (const char* other :
         {R"({"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":"stop"}]})",
          R"({"choices":[{"index":0,"delta":{"content":"hi"},"logprobs":{"content":[]}}]})",
          R"({"choices":[{"index":0,"delta":{"tool_calls":[]}}]})",
          R"({"choices":[{"index":0,"delta":{"refusal":"no"}}]})",
          R"({"choices":[{"index":0,"delta":{"content":"a","content":"b"}}]})",
          R"({"choices":[{"index":0,"delta":{"c\u006fntent":"a"}}]})",
          R"({"choices":[{"index":1.5,"delta":{"content":"a"}}]})",
          R"({"choices":[{"delta":{"content":"a"}},{"delta":{"content":"b"}}]})",
          R"({"choices":[{"delta":{"content":"a"}}]} trailing)",
          // several data lines joined by '\n': must not be written back as one raw line
          "\n{\"choices\":[{\"delta\":{\"content\":\"a\"}}]}"})
        EXPECT_FALSE(match_chat_delta(other)) << other;

    EXPECT_TRUE(match_responses_delta(
        R"({"type":"response.output_text.delta","sequence_number":4,"output_index":0,"content_index":0,"delta":"hi","logprobs":[]})"));
    for (const char* other :
         {R"({"type":"response.audio.delta","delta":"AAAA"})",
          R"({"type":"response.output_text.done","text":"hi"})",
          R"({"type":"response.output_text.delta","delta":"hi","logprobs":[{"token":"hi"}]})",
          R"({"type":"response.output_text.delta","delta":"hi","sequence_number":"4"})",
          R"({"type":"response.output_text.delta","d\u0065lta":"hi"})",
          "{\"type\":\"response.output_text.delta\",\r\n\"delta\":\"hi\"}"})
        EXPECT_FALSE(match_responses_delta(other)) << other;
}

// The same stream twice: with plain keys (deltas spliced) and with one key escaped so that
// every event takes the general path. The client must read the same events.
std::vector<json> client_events(const std::string& path, const std::string& stream) {
    MaskingSession session(token_all(), "k");
    const auto view = read_client_view(run_stream(session, path, stream, stream.size() / 3));
    EXPECT_TRUE(view.valid);
    std::vector<json> out;
    for (const auto& [name, data] : view.events) out.push_back(data);
    return out;
}

std::string escape_key(std::string stream, const std::string& key, const std::string& escaped) {
    for (std::size_t at = stream.find(key); at != std::string::npos;
         at = stream.find(key, at + escaped.size()))
        stream.replace(at, key.size(), escaped);
    return stream;
}

TEST(DeltaMatch, SplicedStreamReadsAsTheGeneralPath) {
    const std::vector<std::string> deltas = {"Write to jane.r", "oe@example.com, card 4111 ",
                                             "1111 1111 1111 \"quoted\"\n", "caf\xc3\xa9 ok"};
    const std::string chat = chat_stream(deltas);
    EXPECT_EQ(client_events("/v1/chat/completions", chat),
              client_events("/v1/chat/completions",
                            escape_key(chat, "\"choices\"", "\"ch\\u006fices\"")));
    const std::string responses = responses_stream(deltas);
    EXPECT_EQ(client_events("/v1/responses", responses),
              client_events("/v1/responses", escape_key(responses, "\"type\"", "\"typ\\u0065\"")));
}

}  // namespace
}  // namespace sluice::masking
