// Issue 24: every string an answer carries reaches the client, so every one is masked — audio
// transcripts, annotation titles and URLs, logprobs, tool arguments whose JSON spells a value
// with escapes — streamed and not. Values × placements × spellings are generated; the check is
// that no spelling of a value survives anywhere in what the client gets.
#include <gtest/gtest.h>

#include <cstdio>
#include <functional>

#include "masking_test_support.h"
#include "policy/masking/json_text_unescape.h"
#include "policy/text_fold.h"

namespace sluice::masking {
namespace {

using namespace testing;
using nlohmann::json;

const std::vector<std::string> kValues = {"jane.roe@example.com", "4111 1111 1111 1111",
                                          "123-45-6789",
                                          "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"};

// Spellings of `value` inside JSON text: plain, '@'/digits as \u escapes, every byte escaped.
std::vector<std::string> json_spellings(const std::string& value) {
    std::string some, all;
    char buf[8];
    for (unsigned char c : value) {
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        all += buf;
        some += (c == '@' || (c >= '0' && c <= '9')) ? std::string(buf) : std::string(1, c);
    }
    return {value, some, all};
}

// Whether any string of the client's view, read as text or as JSON text, still holds `value`.
bool leaks(const json& v, const std::string& value) {
    if (v.is_string()) {
        const auto& s = v.get_ref<const std::string&>();
        return s.find(value) != std::string::npos ||
               unescape_json_text(s).find(value) != std::string::npos;
    }
    if (v.is_array() || v.is_object())
        for (const auto& item : v)
            if (leaks(item, value)) return true;
    return false;
}

// Answers of each shape with `text` (plain, for fields read as text) and `args` (JSON text)
// placed in one field each.
std::vector<std::pair<std::string, json>> answers(const std::string& text,
                                                  const std::string& args) {
    const json logprob = {{"token", text},
                          {"logprob", -0.1},
                          {"bytes", json::array({65, 66})},
                          {"top_logprobs", json::array({{{"token", text}, {"logprob", -1}}})}};
    auto chat = [](json message, json logprobs = nullptr) {
        return json{{"id", "chatcmpl-1"},
                    {"object", "chat.completion"},
                    {"model", "gpt-4o"},
                    {"choices", json::array({{{"index", 0},
                                              {"message", message},
                                              {"logprobs", logprobs},
                                              {"finish_reason", "stop"}}})}};
    };
    auto responses = [](json item) {
        return json{{"id", "resp_1"}, {"object", "response"}, {"output", json::array({item})}};
    };
    return {
        {"/v1/chat/completions", chat({{"role", "assistant"}, {"content", text}})},
        {"/v1/chat/completions",
         chat({{"role", "assistant"},
               {"audio", {{"id", "audio_1"}, {"data", "UklGRg=="}, {"transcript", text}}}})},
        {"/v1/chat/completions",
         chat({{"role", "assistant"},
               {"content", "see"},
               {"annotations", json::array({{{"type", "url_citation"},
                                             {"url_citation",
                                              {{"title", text},
                                               {"url", "https://x.example/?q=" + text},
                                               {"start_index", 0},
                                               {"end_index", 3}}}}})}})},
        {"/v1/chat/completions", chat({{"role", "assistant"}, {"content", "ok"}},
                                      {{"content", json::array({logprob})}, {"refusal", nullptr}})},
        {"/v1/chat/completions",
         chat({{"role", "assistant"},
               {"tool_calls",
                json::array({{{"id", "call_1"},
                              {"type", "function"},
                              {"function", {{"name", "send"}, {"arguments", args}}}}})}})},
        {"/v1/chat/completions",
         chat({{"role", "assistant"}, {"function_call", {{"name", "f"}, {"arguments", args}}}})},
        {"/v1/completions",
         {{"choices", json::array({{{"index", 0},
                                    {"text", text},
                                    {"logprobs",
                                     {{"tokens", json::array({text})},
                                      {"top_logprobs", json::array({{{text, -1}}})}}}}})}}},
        {"/v1/responses",
         responses({{"type", "message"},
                    {"id", "msg_1"},
                    {"role", "assistant"},
                    {"content",
                     json::array({{{"type", "output_text"},
                                   {"text", "ok"},
                                   {"annotations", json::array({{{"type", "url_citation"},
                                                                 {"title", text},
                                                                 {"url", "https://x/" + text}}})},
                                   {"logprobs", json::array({logprob})}}})}})},
        {"/v1/responses", responses({{"type", "function_call"},
                                     {"id", "fc_1"},
                                     {"call_id", "c"},
                                     {"name", "f"},
                                     {"arguments", args}})},
        {"/v1/responses",
         responses({{"type", "web_search_call"},
                    {"id", "ws_1"},
                    {"status", "completed"},
                    {"action",
                     {{"type", "search"},
                      {"query", text},
                      {"sources", json::array({{{"url", "https://x/" + text}}})}}}})},
        {"/v1/responses",
         responses({{"type", "mcp_call"}, {"id", "mcp_1"}, {"arguments", args}, {"output", text}})},
    };
}

TEST(AnswerMasking, EveryStringOfANonStreamedAnswerIsMasked) {
    for (const auto& value : kValues) {
        for (const auto& spelled : json_spellings(value)) {
            const std::string args = R"({"to":")" + spelled + R"(","n":1})";
            for (const auto& [path, answer] : answers(value, args)) {
                MaskingSession session(redact_all(), "k");
                std::string body = answer.dump();
                ASSERT_EQ(session.mask_response(body, path), BodyStatus::masked)
                    << path << " " << answer.dump();
                const json sent = json::parse(body);
                EXPECT_FALSE(leaks(sent, value)) << path << " " << body;
                if (answer.dump().find("UklGRg==") != std::string::npos) {
                    EXPECT_NE(body.find("UklGRg=="), std::string::npos);  // binary audio kept
                }
            }
        }
    }
}

TEST(AnswerMasking, ArgumentsWithNothingToMaskKeepTheirSpelling) {
    MaskingSession session(redact_all(), "k");
    std::string body =
        json{{"choices",
              json::array(
                  {{{"message",
                     {{"tool_calls",
                       json::array(
                           {{{"function", {{"arguments", R"({"v":"caf\u00e9 \"q\""})"}}}}})}}}}})}}
            .dump();
    const std::string before = body;
    EXPECT_EQ(session.mask_response(body, "/v1/chat/completions"), BodyStatus::unchanged);
    EXPECT_EQ(body, before);
}

TEST(AnswerMasking, UnescapeKeepsWhatMustStayEscaped) {
    EXPECT_EQ(unescape_json_text(R"(a\u0040b \/ \u0022 \\u0040 \n \u000a \ud83d\ude00 \ud800x)"),
              R"(a@b / \u0022 \\u0040 \n \u000a )"
              "\xF0\x9F\x98\x80"
              R"( \ud800x)");
    // Fed in pieces split at every byte, the result is the same.
    const std::string text =
        R"({"to":"\u006a\u0061ne\u002eroe\u0040example.com","e":"\ud83d\ude00\\"})";
    for (std::size_t k = 0; k <= text.size(); ++k) {
        for (std::size_t m = k; m <= text.size(); m += 3) {
            JsonTextUnescaper u;
            std::string out;
            u.feed(std::string_view(text).substr(0, k), out);
            u.feed(std::string_view(text).substr(k, m - k), out);
            u.feed(std::string_view(text).substr(m), out);
            u.finish(out);
            ASSERT_EQ(out, unescape_json_text(text)) << k << " " << m;
        }
    }
}

// A chat stream whose single delta member `field` (a JSON path under delta) arrives in pieces.
std::string chat_field_stream(const std::vector<std::string>& pieces,
                              const std::function<json(const std::string&)>& delta_for) {
    auto chunk = [](json delta, json finish) {
        return json{{"id", "chatcmpl-1"},
                    {"object", "chat.completion.chunk"},
                    {"created", 1},
                    {"model", "gpt-4o-audio-preview"},
                    {"choices",
                     json::array({{{"index", 0}, {"delta", delta}, {"finish_reason", finish}}})}};
    };
    std::string out = sse("", chunk({{"role", "assistant"}}, nullptr));
    for (const auto& p : pieces) out += sse("", chunk(delta_for(p), nullptr));
    out += sse("", chunk(json::object(), "stop"));
    return out + "data: [DONE]\n\n";
}

// Every payload the client got, joined per delta path, for leak checks across deltas.
std::string joined_field(const std::string& out,
                         const std::function<const json*(const json&)>& at) {
    std::string joined;
    for (const auto& [event, data] : read_client_view(out).events) {
        if (!data.is_object() || !data.contains("choices")) continue;
        for (const auto& choice : data["choices"])
            if (choice.contains("delta"))
                if (const json* v = at(choice["delta"]); v && v->is_string())
                    joined += v->get<std::string>();
    }
    return joined;
}

TEST(AnswerMasking, StreamedAudioTranscriptSplitAtEveryByteNeverLeaks) {
    for (const auto& value : kValues) {
        const std::string text = "Say " + value + " now.";
        for (std::size_t k = 0; k <= text.size(); ++k) {
            MaskingSession session(redact_all(), "k");
            const std::string out = run_stream(
                session, "/v1/chat/completions",
                chat_field_stream({text.substr(0, k), text.substr(k)},
                                  [](const std::string& p) {
                                      return json{{"audio", {{"id", "a1"}, {"transcript", p}}}};
                                  }),
                0);
            const std::string got = joined_field(out, [](const json& d) -> const json* {
                return d.contains("audio") && d["audio"].contains("transcript")
                           ? &d["audio"]["transcript"]
                           : nullptr;
            });
            EXPECT_EQ(got.find(value), std::string::npos) << value << " split " << k;
            EXPECT_EQ(out.find(value), std::string::npos) << value << " split " << k;
            EXPECT_NE(got.find("now."), std::string::npos) << got;
        }
    }
}

TEST(AnswerMasking, StreamedEscapedToolArgumentsSplitAtEveryByteNeverLeak) {
    for (const auto& value : kValues) {
        for (const auto& spelled : json_spellings(value)) {
            const std::string args = R"({"to":")" + spelled + R"("})";
            for (std::size_t k = 0; k <= args.size(); ++k) {
                MaskingSession session(redact_all(), "k");
                const std::string out =
                    run_stream(session, "/v1/chat/completions",
                               chat_tool_stream({args.substr(0, k), args.substr(k)}), 0);
                const auto view = read_client_view(out);
                ASSERT_TRUE(view.valid);
                EXPECT_FALSE(leaks(json(view.chat_arguments), value)) << spelled << " split " << k;
                EXPECT_TRUE(json::accept(view.chat_arguments)) << view.chat_arguments;
            }
        }
    }
}

TEST(AnswerMasking, StreamedDeltaAnnotationsAreMasked) {
    MaskingSession session(redact_all(), "k");
    const std::string out = run_stream(
        session, "/v1/chat/completions",
        chat_field_stream({"x"},
                          [](const std::string&) {
                              return json{
                                  {"annotations",
                                   json::array({{{"type", "url_citation"},
                                                 {"url_citation",
                                                  {{"title", "jane.roe@example.com"},
                                                   {"url", "https://x/jane.roe@example.com"}}}}})}};
                          }),
        0);
    EXPECT_EQ(out.find("jane.roe"), std::string::npos) << out;
}

TEST(AnswerMasking, StreamedResponsesArgumentsAnnotationsAndItemsAreMasked) {
    for (const auto& value : kValues) {
        for (const auto& spelled : json_spellings(value)) {
            const std::string args = R"({"to":")" + spelled + R"("})";
            for (std::size_t k = 0; k <= args.size(); k += 2) {
                int seq = 0;
                auto ev = [&](const std::string& type, json body) {
                    body["type"] = type;
                    body["sequence_number"] = seq++;
                    return sse(type, body);
                };
                const json call = {{"type", "function_call"},
                                   {"id", "fc_1"},
                                   {"call_id", "c"},
                                   {"name", "f"},
                                   {"arguments", args}};
                const json message = {
                    {"type", "message"},
                    {"id", "msg_1"},
                    {"role", "assistant"},
                    {"content", json::array({{{"type", "output_text"},
                                              {"text", "ok"},
                                              {"annotations",
                                               json::array({{{"type", "url_citation"},
                                                             {"title", value},
                                                             {"url", "https://x/" + value}}})}}})}};
                std::string stream =
                    ev("response.output_item.added",
                       {{"output_index", 0},
                        {"item", {{"type", "function_call"}, {"id", "fc_1"}, {"arguments", ""}}}});
                for (const auto& piece : {args.substr(0, k), args.substr(k)})
                    stream += ev("response.function_call_arguments.delta",
                                 {{"item_id", "fc_1"}, {"output_index", 0}, {"delta", piece}});
                stream += ev("response.function_call_arguments.done",
                             {{"item_id", "fc_1"}, {"output_index", 0}, {"arguments", args}});
                stream += ev("response.output_item.done", {{"output_index", 0}, {"item", call}});
                stream += ev("response.output_text.annotation.added",
                             {{"output_index", 1},
                              {"content_index", 0},
                              {"annotation_index", 0},
                              {"annotation", {{"type", "url_citation"}, {"title", value}}}});
                stream += ev(
                    "response.completed",
                    {{"response", {{"id", "resp_1"}, {"output", json::array({call, message})}}}});
                MaskingSession session(redact_all(), "k");
                bool ok = false;
                const std::string out = run_stream(session, "/v1/responses", stream, 0, &ok);
                ASSERT_TRUE(ok);
                const auto view = read_client_view(out);
                ASSERT_TRUE(view.valid);
                std::string deltas;
                for (const auto& [event, data] : view.events) {
                    EXPECT_FALSE(leaks(data, value))
                        << spelled << " split " << k << " " << data.dump();
                    if (data.is_object() &&
                        data.value("type", "") == "response.function_call_arguments.delta")
                        deltas += data["delta"].get<std::string>();
                }
                EXPECT_FALSE(leaks(json(deltas), value)) << spelled << " split " << k;
            }
        }
    }
}

// Spellings a reader takes for `value` that differ in bytes: fullwidth digits and '@', a
// zero-width space or a soft hyphen between characters, no-break spaces for spaces.
std::vector<std::string> look_alike_spellings(const std::string& value) {
    std::string fullwidth, zero_width, soft_hyphen, no_break;
    for (unsigned char c : value) {
        if (c >= '0' && c <= '9')
            fullwidth += "\xEF\xBC" + std::string(1, static_cast<char>(0x90 + (c - '0')));
        else if (c == '@')
            fullwidth += "\xEF\xBC\xA0";
        else
            fullwidth += static_cast<char>(c);
        if (!zero_width.empty()) zero_width += "\xE2\x80\x8B";
        zero_width += static_cast<char>(c);
        if (!soft_hyphen.empty()) soft_hyphen += "\xC2\xAD";
        soft_hyphen += static_cast<char>(c);
        no_break += c == ' ' ? std::string("\xC2\xA0") : std::string(1, static_cast<char>(c));
    }
    return {fullwidth, zero_width, soft_hyphen, no_break};
}

// What a reader sees in `text`: its folded view (text_fold.h).
std::string as_read(const std::string& text) {
    FoldedText folded;
    return fold_for_matching(text, folded) ? folded.text : text;
}

TEST(AnswerMasking, LookAlikeSpellingsAreMaskedInAnswersStreamedAndNot) {
    for (const auto& value : kValues) {
        for (const auto& spelled : look_alike_spellings(value)) {
            const std::string text = "write to " + spelled + " today";
            for (const auto& [path, answer] : answers(text, R"({"to":")" + spelled + R"("})")) {
                MaskingSession session(redact_all(), "k");
                std::string body = answer.dump();
                ASSERT_EQ(session.mask_response(body, path), BodyStatus::masked) << body;
                EXPECT_EQ(as_read(body).find(value), std::string::npos) << path << " " << body;
            }
            for (std::size_t k = 0; k <= text.size(); ++k) {
                if (k < text.size() && (static_cast<unsigned char>(text[k]) & 0xC0) == 0x80)
                    continue;  // deltas are JSON strings: split between characters only
                MaskingSession session(redact_all(), "k");
                bool ok = false;
                const std::string out =
                    run_stream(session, "/v1/chat/completions",
                               chat_stream({text.substr(0, k), text.substr(k)}), 0, &ok);
                ASSERT_TRUE(ok) << spelled << " split " << k;
                const auto view = read_client_view(out);
                EXPECT_EQ(as_read(view.chat_content).find(value), std::string::npos)
                    << spelled << " split " << k << ": " << view.chat_content;
                EXPECT_NE(view.chat_content.find("write to ["), std::string::npos)
                    << view.chat_content;
                EXPECT_NE(view.chat_content.find("] today"), std::string::npos)
                    << view.chat_content;
            }
        }
    }
}

}  // namespace
}  // namespace sluice::masking
