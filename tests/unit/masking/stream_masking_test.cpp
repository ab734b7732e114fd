// Streams: every entity split at every byte position across deltas never reaches the client
// raw, for Chat Completions content and tool arguments and for Responses (deltas, .done events
// and response.completed agree). Placeholders split across deltas are restored.
#include <gtest/gtest.h>

#include "masking_test_support.h"

namespace sluice::masking {
namespace {

using namespace testing;
using nlohmann::json;

struct Sample {
    const char* entity;
    std::string text;   // the answer
    std::string value;  // what must never reach the client
};

const std::string kPem =
    "-----BEGIN RSA PRIVATE "
    "KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n"
    "KUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQ==\n-----END RSA PRIVATE KEY-----";
const std::string kJwt =
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";

std::vector<Sample> samples() {
    auto s = [](const char* entity, const std::string& value,
                const std::string& before = "Sure: ") {
        return Sample{entity, before + value + ". Anything else?", value};
    };
    return {
        s("email", "jane.roe@example.com"),
        s("phone", "+1 415 555 2671"),
        s("phone", "(415) 555-2671"),
        s("credit_card", "4111 1111 1111 1111"),
        s("iban", "DE89 3704 0044 0532 0130 00"),
        s("us_ssn", "123-45-6789"),
        s("ipv4", "192.168.10.20"),
        s("ipv6", "2001:db8::8a2e:370:7334"),
        s("openai_key", "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"),
        s("aws_access_key", "AKIAIOSFODNN7EXAMPLE"),
        s("aws_secret_key", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "the aws secret is "),
        s("github_token", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
        s("slack_token", "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"),
        s("jwt", kJwt),
        s("private_key", kPem, "Key:\n"),
    };
}

// What the whole text masks to in one piece.
std::string masked_whole(const std::string& text) {
    MaskingSession session(redact_all(), "k");
    json body = {{"choices", json::array({{{"index", 0}, {"message", {{"content", text}}}}})}};
    std::string raw = body.dump();
    EXPECT_NE(session.mask_response(raw, "/v1/chat/completions"), BodyStatus::failed) << text;
    return json::parse(raw)["choices"][0]["message"]["content"];
}

TEST(StreamMasking, ChatEntitySplitAtEveryByteNeverLeaks) {
    for (const auto& sample : samples()) {
        const std::string expected = masked_whole(sample.text);
        ASSERT_EQ(expected.find(sample.value), std::string::npos) << sample.entity;
        for (std::size_t k = 0; k <= sample.text.size(); ++k) {
            MaskingSession session(redact_all(), "k");
            const std::string stream =
                chat_stream({sample.text.substr(0, k), sample.text.substr(k)});
            bool ok = false;
            const std::string out =
                run_stream(session, "/v1/chat/completions", stream, stream.size(), &ok);
            ASSERT_TRUE(ok) << sample.entity << " split " << k;
            auto view = read_client_view(out);
            ASSERT_TRUE(view.valid);
            EXPECT_EQ(view.chat_content, expected) << sample.entity << " split " << k;
            EXPECT_EQ(out.find(sample.value), std::string::npos) << sample.entity << " split " << k;
        }
    }
}

TEST(StreamMasking, ChatEntityInOneByteDeltasNeverLeaks) {
    for (const auto& sample : samples()) {
        std::vector<std::string> deltas;
        for (char c : sample.text) deltas.emplace_back(1, c);
        MaskingSession session(redact_all(), "k");
        const std::string out = run_stream(session, "/v1/chat/completions", chat_stream(deltas), 0);
        auto view = read_client_view(out);
        EXPECT_EQ(view.chat_content, masked_whole(sample.text)) << sample.entity;
        EXPECT_EQ(out.find(sample.value), std::string::npos) << sample.entity;
    }
}

TEST(StreamMasking, ChatToolArgumentsSplitAtEveryByteNeverLeak) {
    const std::string args = R"({"to":"jane.roe@example.com","card":"4111111111111111"})";
    for (std::size_t k = 0; k <= args.size(); ++k) {
        MaskingSession session(redact_all(), "k");
        const std::string out =
            run_stream(session, "/v1/chat/completions",
                       chat_tool_stream({args.substr(0, k), args.substr(k)}), 0);
        auto view = read_client_view(out);
        EXPECT_EQ(view.chat_arguments, R"({"to":"[EMAIL]","card":"[CREDIT_CARD]"})") << k;
        EXPECT_EQ(out.find("jane.roe"), std::string::npos);
    }
}

TEST(StreamMasking, RawSseBytesSplitAtEveryPosition) {
    const std::string text = "Mail jane.roe@example.com or call 415-555-2671.";
    const std::string stream =
        chat_stream({text.substr(0, 12), text.substr(12, 20), text.substr(32)});
    for (std::size_t split = 0; split <= stream.size(); ++split) {
        MaskingSession session(redact_all(), "k");
        const std::string out = run_stream(session, "/v1/chat/completions", stream, split);
        EXPECT_EQ(read_client_view(out).chat_content, "Mail [EMAIL] or call [PHONE].") << split;
    }
}

TEST(StreamMasking, ResponsesEntitySplitAtEveryByteAgreesWithDoneAndCompleted) {
    for (const auto& sample : samples()) {
        const std::string expected = masked_whole(sample.text);
        for (std::size_t k = 0; k <= sample.text.size(); ++k) {
            MaskingSession session(redact_all(), "k");
            const std::string stream =
                responses_stream({sample.text.substr(0, k), sample.text.substr(k)});
            const std::string out = run_stream(session, "/v1/responses", stream, stream.size() / 2);
            auto view = read_client_view(out);
            ASSERT_TRUE(view.valid);
            EXPECT_EQ(view.responses_deltas, expected) << sample.entity << " split " << k;
            EXPECT_EQ(out.find(sample.value), std::string::npos) << sample.entity << " split " << k;
            for (const auto& [name, data] : view.events) {
                const std::string type =
                    data.is_object() && data.contains("type") && data["type"].is_string()
                        ? data["type"].get<std::string>()
                        : "";
                if (type == "response.output_text.done") {
                    EXPECT_EQ(data["text"], expected);
                } else if (type == "response.content_part.done") {
                    EXPECT_EQ(data["part"]["text"], expected);
                } else if (type == "response.output_item.done") {
                    EXPECT_EQ(data["item"]["content"][0]["text"], expected);
                } else if (type == "response.completed") {
                    EXPECT_EQ(data["response"]["output"][0]["content"][0]["text"], expected);
                }
            }
            for (std::size_t i = 0; i < view.sequence_numbers.size(); ++i)
                ASSERT_EQ(view.sequence_numbers[i], static_cast<int64_t>(i))
                    << "sequence renumbered";
        }
    }
}

TEST(StreamMasking, HoldsBackOnlyWhatCouldStillMatch) {
    MaskingSession session(redact_all(), "k");
    auto masker = session.make_stream_masker("/v1/chat/completions");
    std::string out;
    using nlohmann::json;
    auto delta = [](const std::string& text) {
        return sse("",
                   {{"choices", json::array({{{"index", 0}, {"delta", {{"content", text}}}}})}});
    };
    ASSERT_TRUE(masker->feed(delta("Hello there, my friend. "), out));
    EXPECT_EQ(read_client_view(out).chat_content, "Hello there, my friend. ");
    out.clear();
    ASSERT_TRUE(masker->feed(delta("Write to jane"), out));
    EXPECT_EQ(read_client_view(out).chat_content, "Write to ");  // "jane" may become an email
    out.clear();
    ASSERT_TRUE(masker->feed(delta(".roe@example.com, then"), out));
    EXPECT_EQ(read_client_view(out).chat_content, "[EMAIL], ");
}

TEST(StreamMasking, TokensRestoredAcrossSplitPlaceholders) {
    auto control = token_all();
    for (const auto& shape : {std::string("/v1/chat/completions"), std::string("/v1/responses")}) {
        const std::string answer = "I wrote to <EMAIL_1> and <EMAIL_2>.";
        for (std::size_t k = 0; k <= answer.size(); ++k) {
            MaskingSession session(control, "k");
            std::string request =
                json{{"messages",
                      json::array({{{"role", "user"},
                                    {"content", "mail a@example.com and b@example.org"}}})}}
                    .dump();
            ASSERT_EQ(session.mask_request(request, "/v1/chat/completions"), BodyStatus::masked);
            ASSERT_NE(request.find("<EMAIL_1>"), std::string::npos);
            ASSERT_EQ(request.find("a@example.com"), std::string::npos);
            const std::vector<std::string> deltas = {answer.substr(0, k), answer.substr(k)};
            const bool chat = shape == "/v1/chat/completions";
            const std::string out = run_stream(
                session, shape, chat ? chat_stream(deltas) : responses_stream(deltas), 0);
            auto view = read_client_view(out);
            const std::string expected = "I wrote to a@example.com and b@example.org.";
            EXPECT_EQ(chat ? view.chat_content : view.responses_deltas, expected)
                << shape << " " << k;
            EXPECT_EQ(out.find("<EMAIL_"), std::string::npos) << shape << " " << k;
            EXPECT_EQ(session.summary()["restored"], 2) << session.summary().dump();
        }
    }
}

TEST(StreamMasking, MalformedEventEndsStreamWithErrorAndNeverReleasesHeldText) {
    MaskingSession session(redact_all(), "k");
    auto masker = session.make_stream_masker("/v1/chat/completions");
    std::string out;
    using nlohmann::json;
    ASSERT_TRUE(masker->feed(
        sse("", {{"choices",
                  json::array({{{"index", 0}, {"delta", {{"content", "card 4111 1111"}}}}})}}),
        out));
    EXPECT_FALSE(masker->feed("data: {not json\n\n", out));
    EXPECT_TRUE(masker->failed());
    EXPECT_FALSE(masker->feed(
        sse("",
            {{"choices", json::array({{{"index", 0}, {"delta", {{"content", " 1111 1111"}}}}})}}),
        out));
    EXPECT_FALSE(masker->finish(out));
    EXPECT_EQ(out.find("4111"), std::string::npos);
    auto view = read_client_view(out);
    ASSERT_TRUE(view.valid);
    ASSERT_FALSE(view.events.empty());
    EXPECT_EQ(view.events.back().second["error"]["code"], "masking_failed");
    EXPECT_EQ(session.summary()["failure"], "response stream: malformed event");
}

TEST(StreamMasking, ResponsesFailureIsAnErrorEvent) {
    MaskingSession session(redact_all(), "k");
    auto masker = session.make_stream_masker("/v1/responses");
    std::string out;
    EXPECT_FALSE(masker->feed("event: response.output_text.delta\ndata: [1,2]\n\n", out));
    auto view = read_client_view(out);
    ASSERT_EQ(view.events.size(), 1u);
    EXPECT_EQ(view.events[0].first, "error");
    EXPECT_EQ(view.events[0].second["type"], "error");
}

// Found by masker-fuzz: texts whose streamed masking once differed from whole-text masking.
TEST(StreamMasking, StreamedEqualsWholeForFuzzFindings) {
    const std::string texts[] = {
        "{\"input\": \"-----BEGIN PRIVATE KEY-----\\nMIIB\\n-----END P--9\"}",
        "$s0130 00 +44 2048 6789::106:}789 ip 10.0.0.1]",
        "card 4324 1111 1111 100 +44 2 0130 00 +44 20 7946 0958/6789::1",
        "card 4111111111111111.5 and 4111111111111111/2 and 123-45-6789.1",
    };
    for (const auto& text : texts) {
        const std::string expected = masked_whole(text);
        for (std::size_t k = 0; k <= text.size(); ++k) {
            MaskingSession session(redact_all(), "k");
            const std::string out = run_stream(session, "/v1/chat/completions",
                                               chat_stream({text.substr(0, k), text.substr(k)}), 0);
            EXPECT_EQ(read_client_view(out).chat_content, expected) << text << " split " << k;
        }
    }
}

// Found by sse-masker-fuzz: a "type" that is not a string must not throw.
TEST(StreamMasking, NonStringTypeIsHandled) {
    MaskingSession session(redact_all(), "k");
    auto masker = session.make_stream_masker("/v1/responses");
    std::string out;
    ASSERT_TRUE(masker->feed("event: x\ndata: {\"type\": 5, \"delta\": \"a@b.com\"}\n\n", out));
    EXPECT_EQ(out.find("a@b.com"), std::string::npos);
    EXPECT_TRUE(read_client_view(out).valid);
}

// Found by sse-masker-fuzz: event names and comments are echoed, so they must be UTF-8 too.
TEST(StreamMasking, NonUtf8EventNameFailsClosedAndCommentsAreSanitized) {
    MaskingSession session(redact_all(), "k");
    auto masker = session.make_stream_masker("/v1/responses");
    std::string out;
    ASSERT_TRUE(masker->feed(": ok\xff\n", out));
    ASSERT_TRUE(masker->feed(": overlong \xe0\x8b\x8c\n", out));  // found by masker-fuzz
    EXPECT_EQ(out, ":\n:\n");
    EXPECT_FALSE(
        masker->feed("event: response\xff.output_text.delta\ndata: {\"delta\":\"x\"}\n\n", out));
    EXPECT_EQ(out.find('\xff'), std::string::npos);
    EXPECT_EQ(session.summary()["failure"], "response stream: malformed event");
}

TEST(StreamMasking, EventOverTheSizeLimitFailsClosed) {
    MaskingSession session(redact_all(), "k");
    SseMaskerLimits limits;
    limits.max_event_bytes = 64;
    auto masker = session.make_stream_masker("/v1/chat/completions", limits);
    std::string out;
    EXPECT_FALSE(masker->feed("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" +
                                  std::string(100, 'x') + "\"}}]}\n\n",
                              out));
    EXPECT_TRUE(masker->failed());
    EXPECT_EQ(read_client_view(out).events.back().second["error"]["code"], "masking_failed");
}

// A `data:` line of exactly the limit passes; one byte more ends the stream.
TEST(StreamMasking, EventSizeLimitIsExact) {
    constexpr std::size_t kLimit = 200;
    const std::string head = R"(data: {"choices":[{"index":0,"delta":{"content":")";
    const std::string tail = R"("}}]})";
    for (std::size_t length : {kLimit - 1, kLimit, kLimit + 1}) {
        MaskingSession session(redact_all(), "k");
        SseMaskerLimits limits;
        limits.max_event_bytes = kLimit;
        auto masker = session.make_stream_masker("/v1/chat/completions", limits);
        std::string out;
        const std::string text(length - head.size() - tail.size(), 'x');
        const bool ok = masker->feed(head + text + tail + "\n\n", out) && masker->finish(out);
        EXPECT_EQ(ok, length <= kLimit) << length;
        const auto view = read_client_view(out);
        ASSERT_FALSE(view.events.empty()) << length;
        if (ok)
            EXPECT_EQ(view.chat_content, text) << length;
        else
            EXPECT_EQ(view.events.back().second["error"]["code"], "masking_failed") << length;
    }
}

TEST(StreamMasking, ChannelLimitIsExact) {
    MaskingSession session(redact_all(), "k");
    SseMaskerLimits limits;
    limits.max_channels = 2;
    auto masker = session.make_stream_masker("/v1/chat/completions", limits);
    std::string out;
    for (int i = 0; i < 2; ++i)
        EXPECT_TRUE(masker->feed(
            sse("", {{"choices", json::array({{{"index", i}, {"delta", {{"content", "hi"}}}}})}}),
            out))
            << i;
    EXPECT_FALSE(masker->feed(
        sse("", {{"choices", json::array({{{"index", 2}, {"delta", {{"content", "hi"}}}}})}}),
        out));
}

TEST(StreamMasking, TooManyChannelsFailsClosed) {
    MaskingSession session(redact_all(), "k");
    SseMaskerLimits limits;
    limits.max_channels = 2;
    auto masker = session.make_stream_masker("/v1/chat/completions", limits);
    std::string out;
    bool ok = true;
    for (int i = 0; i < 3 && ok; ++i)
        ok = masker->feed(
            sse("", {{"choices", json::array({{{"index", i}, {"delta", {{"content", "hi"}}}}})}}),
            out);
    EXPECT_FALSE(ok);
    EXPECT_EQ(session.summary()["failure"], "response stream: too many channels");
}

TEST(StreamMasking, KeepAliveCommentsPassAndLogprobsAreDropped) {
    MaskingSession session(redact_all(), "k");
    auto masker = session.make_stream_masker("/v1/chat/completions");
    std::string out;
    ASSERT_TRUE(masker->feed(": keep-alive\n\n", out));
    ASSERT_TRUE(masker->feed(
        sse("",
            {{"choices",
              json::array({{{"index", 0},
                            {"delta", {{"content", "a@b.co "}}},
                            {"logprobs", {{"content", json::array({{{"token", "a@b.co"}}})}}}}})}}),
        out));
    EXPECT_EQ(out.rfind(": keep-alive\n", 0), 0u);
    EXPECT_EQ(out.find("a@b.co"), std::string::npos);
}

}  // namespace
}  // namespace sluice::masking
