// The streamed-delta fast path: only plain text deltas are matched, and a stream masked through
// spliced events reads exactly as through the general path.

#include <gtest/gtest.h>

#include "masking_test_support.h"
#include "policy/masking/sse_delta_match.h"

namespace sluice::masking {
namespace {

using namespace testing;
using nlohmann::json;

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
