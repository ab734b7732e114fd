// Shared fixtures for the masking tests: controls built from YAML, SSE stream builders for
// Chat Completions and Responses, and a reader for what the client receives.
#pragma once

#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "policy/masking/masking_config.h"
#include "policy/masking/masking_session.h"
#include "policy/sse_parser.h"

namespace sluice::masking::testing {

inline std::shared_ptr<const MaskingControl> control_from_yaml(
    const std::string& rule_yaml, const std::string& patterns_yaml = "") {
    std::vector<CustomPattern> patterns;
    if (!patterns_yaml.empty())
        patterns = parse_masking_patterns(YAML::Load(patterns_yaml), "masking_patterns");
    return parse_masking(YAML::Load(rule_yaml), "rules[0].masking", patterns);
}

inline std::shared_ptr<const MaskingControl> redact_all() {
    return control_from_yaml("[{entities: [all], action: redact}]");
}

inline std::shared_ptr<const MaskingControl> token_all() {
    return control_from_yaml("[{entities: [all], action: token}]");
}

inline std::string sse(const std::string& event, const nlohmann::json& data) {
    std::string out;
    if (!event.empty()) out += "event: " + event + "\n";
    return out + "data: " + data.dump() + "\n\n";
}

// A chat completion stream whose content arrives as `deltas`.
inline std::string chat_stream(const std::vector<std::string>& deltas) {
    using nlohmann::json;
    auto chunk = [](json delta, json finish) {
        return json{{"id", "chatcmpl-1"},
                    {"object", "chat.completion.chunk"},
                    {"created", 1},
                    {"model", "gpt-4o-mini"},
                    {"choices",
                     json::array({{{"index", 0}, {"delta", delta}, {"finish_reason", finish}}})}};
    };
    std::string out = sse("", chunk({{"role", "assistant"}, {"content", ""}}, nullptr));
    for (const auto& d : deltas) out += sse("", chunk({{"content", d}}, nullptr));
    out += sse("", chunk(json::object(), "stop"));
    return out + "data: [DONE]\n\n";
}

// A chat stream with one tool call whose arguments arrive as `deltas`.
inline std::string chat_tool_stream(const std::vector<std::string>& deltas) {
    using nlohmann::json;
    auto chunk = [](json delta, json finish) {
        return json{{"id", "chatcmpl-2"},
                    {"object", "chat.completion.chunk"},
                    {"created", 1},
                    {"model", "gpt-4o-mini"},
                    {"choices",
                     json::array({{{"index", 0}, {"delta", delta}, {"finish_reason", finish}}})}};
    };
    std::string out =
        sse("", chunk({{"role", "assistant"},
                       {"tool_calls",
                        json::array({{{"index", 0},
                                      {"id", "call_1"},
                                      {"type", "function"},
                                      {"function", {{"name", "send"}, {"arguments", ""}}}}})}},
                      nullptr));
    for (const auto& d : deltas)
        out += sse(
            "",
            chunk({{"tool_calls", json::array({{{"index", 0}, {"function", {{"arguments", d}}}}})}},
                  nullptr));
    out += sse("", chunk(json::object(), "tool_calls"));
    return out + "data: [DONE]\n\n";
}

// A Responses stream: one message item whose text arrives as `deltas`, with the .done events
// and response.completed repeating the full (raw) text, as the API sends them.
inline std::string responses_stream(const std::vector<std::string>& deltas) {
    using nlohmann::json;
    std::string full;
    for (const auto& d : deltas) full += d;
    int seq = 0;
    auto ev = [&](const std::string& type, json body) {
        body["type"] = type;
        body["sequence_number"] = seq++;
        return sse(type, body);
    };
    json empty_item = {
        {"id", "msg_1"}, {"type", "message"}, {"role", "assistant"}, {"content", json::array()}};
    json part = {{"type", "output_text"}, {"text", full}, {"annotations", json::array()}};
    json item = empty_item;
    item["content"] = json::array({part});
    std::string out =
        ev("response.created", {{"response", {{"id", "resp_1"}, {"output", json::array()}}}});
    out += ev("response.output_item.added", {{"output_index", 0}, {"item", empty_item}});
    out += ev("response.content_part.added",
              {{"item_id", "msg_1"},
               {"output_index", 0},
               {"content_index", 0},
               {"part", {{"type", "output_text"}, {"text", ""}, {"annotations", json::array()}}}});
    for (const auto& d : deltas)
        out += ev("response.output_text.delta",
                  {{"item_id", "msg_1"}, {"output_index", 0}, {"content_index", 0}, {"delta", d}});
    out += ev("response.output_text.done",
              {{"item_id", "msg_1"}, {"output_index", 0}, {"content_index", 0}, {"text", full}});
    out += ev("response.content_part.done",
              {{"item_id", "msg_1"}, {"output_index", 0}, {"content_index", 0}, {"part", part}});
    out += ev("response.output_item.done", {{"output_index", 0}, {"item", item}});
    out += ev("response.completed",
              {{"response",
                {{"id", "resp_1"}, {"status", "completed"}, {"output", json::array({item})}}}});
    return out;
}

struct ClientView {
    std::vector<std::pair<std::string, nlohmann::json>>
        events;         // event name, data ("[DONE]" as string)
    bool valid = true;  // every data payload parsed as JSON (or was [DONE])
    std::string chat_content;
    std::string chat_arguments;
    std::string responses_deltas;
    std::vector<int64_t> sequence_numbers;
};

inline ClientView read_client_view(const std::string& stream) {
    ClientView view;
    SseParser parser;
    parser.feed(stream, [&](const SseEvent& e) {
        if (e.data == "[DONE]") {
            view.events.emplace_back(e.event, e.data);
            return;
        }
        auto data = nlohmann::json::parse(e.data, nullptr, false);
        if (data.is_discarded()) {
            view.valid = false;
            return;
        }
        view.events.emplace_back(e.event, data);
        if (data.contains("sequence_number"))
            view.sequence_numbers.push_back(data["sequence_number"]);
        if (data.contains("choices"))
            for (const auto& choice : data["choices"]) {
                if (!choice.contains("delta")) continue;
                const auto& delta = choice["delta"];
                if (delta.contains("content") && delta["content"].is_string())
                    view.chat_content += delta["content"].get<std::string>();
                if (delta.contains("tool_calls"))
                    for (const auto& call : delta["tool_calls"])
                        if (call.contains("function") && call["function"].contains("arguments"))
                            view.chat_arguments += call["function"]["arguments"].get<std::string>();
            }
        if (data.contains("type") && data["type"] == "response.output_text.delta")
            view.responses_deltas += data["delta"].get<std::string>();
    });
    return view;
}

// Feeds `input` to a fresh stream masker in two pieces split at `split`, plus finish().
inline std::string run_stream(MaskingSession& session, const std::string& path,
                              const std::string& input, std::size_t split, bool* ok = nullptr) {
    auto masker = session.make_stream_masker(path);
    std::string out;
    bool good = masker->feed(std::string_view(input).substr(0, split), out);
    good = good && masker->feed(std::string_view(input).substr(split), out);
    good = good && masker->finish(out);
    if (ok) *ok = good;
    return out;
}

}  // namespace sluice::masking::testing
