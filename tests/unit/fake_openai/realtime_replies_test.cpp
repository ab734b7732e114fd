// The fake upstream's realtime events: what test_realtime.sh and the realtime benchmark rely on.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/fake_openai/realtime_replies.h"

namespace sluice::fake_openai {
namespace {

using nlohmann::json;

std::vector<json> answer(FakeRealtimeSession& session, const json& event) {
    std::optional<RealtimeClose> close;
    std::vector<json> out;
    for (const auto& text : session.answer(event.dump(), close)) out.push_back(json::parse(text));
    return out;
}

TEST(FakeRealtime, ResponseStreamsTheEchoAsDeltasThenUsage) {
    FakeRealtimeSession session("gpt-realtime", false, " (suffix)");
    EXPECT_EQ(json::parse(session.session_created())["session"]["model"], "gpt-realtime");
    answer(session,
           {{"type", "conversation.item.create"},
            {"item", {{"content", json::array({{{"type", "input_text"}, {"text", "hi"}}})}}}});
    const auto events = answer(session, {{"type", "response.create"}});
    std::string text;
    int audio = 0;
    for (const auto& event : events) {
        if (event["type"] == "response.output_text.delta") {
            EXPECT_LE(event["delta"].get<std::string>().size(), 8u);
            text += event["delta"].get<std::string>();
        }
        audio += event["type"] == "response.output_audio.delta";
    }
    EXPECT_EQ(text, "echo: hi (suffix)");
    EXPECT_EQ(audio, 1);
    ASSERT_EQ(events.back()["type"], "response.done");
    EXPECT_GT(events.back()["response"]["usage"]["output_tokens"].get<int>(), 0);
}

TEST(FakeRealtime, BetaNamesAndCloseRequests) {
    FakeRealtimeSession session("m", true, "");
    const auto events = answer(session, {{"type", "response.create"}});
    EXPECT_EQ(events[1]["type"], "response.text.delta");
    std::optional<RealtimeClose> close;
    EXPECT_TRUE(
        session.answer(R"({"type":"fake.close","code":4001,"reason":"bye"})", close).empty());
    ASSERT_TRUE(close);
    EXPECT_EQ(close->code, 4001);
    EXPECT_EQ(close->reason, "bye");
}

}  // namespace
}  // namespace sluice::fake_openai
