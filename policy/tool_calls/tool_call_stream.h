// The tool_calls control on a streamed answer (SSE), ahead of stream masking: a tool call's
// events are held back until its arguments are complete, decided on the whole arguments, and
// then released as they came (allowed), rewritten (redacted), or replaced by the explanation
// the agent gets instead (refused; tool_call_answer.h says what per API).
//
// Chat Completions: the chunks of a choice that carry `tool_calls` / `function_call` deltas are
// held until that choice's `finish_reason`; chunks with tool calls for several choices at once
// are refused (the API sends one choice per chunk). Responses: from `response.output_item.added`
// of a call item until its `response.output_item.done`; `response.completed` (and
// `incomplete`/`failed`) repeat the output and get the same replacement. Once an event was
// added, later `sequence_number`s are renumbered so they stay consecutive.
//
// Fails closed: an event of a held call that is not JSON, or a held stream past kMaxHeldBytes,
// ends the answer with an OpenAI-shaped error event and releases nothing held.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "policy/sse_parser.h"
#include "policy/tool_calls/tool_call_answer.h"

namespace sluice {

class ToolCallStreamFilter {
public:
    static constexpr std::size_t kMaxHeldBytes = 16 * 1024 * 1024;

    // `control` must outlive the filter.
    ToolCallStreamFilter(const ToolCallControl& control, std::string rule, std::string_view path,
                         ApprovalResolver resolver = {});

    // Appends what the client may get of `bytes` to `out`. False once failed (`out` then ends
    // with the error event).
    bool feed(std::string_view bytes, std::string& out);
    // End of the upstream stream: a call still held is decided and released.
    bool finish(std::string& out);

    const std::vector<ToolCallRecord>& calls() const { return calls_; }
    const std::string& failure() const { return failure_; }

private:
    struct HeldChatCall {
        std::string id, type, name, arguments;
    };
    struct Held {
        std::string event;  // SSE event name
        nlohmann::json data;
    };

    void on_event(const SseEvent& event, std::string& out);
    void on_chat(const SseEvent& event, std::string& out);
    void on_responses(const SseEvent& event, std::string& out);
    void release_chat(const nlohmann::json* finish_chunk, std::string& out);
    void release_responses_item(const nlohmann::json& item, std::string& out);
    void emit(std::string_view event, nlohmann::json data, std::string& out);
    void emit_raw(const SseEvent& event, std::string& out);
    void fail(std::string reason, std::string& out);

    const ToolCallControl& control_;
    std::string rule_;
    ApprovalResolver resolver_;
    bool responses_ = false;
    SseParser parser_;
    bool failed_ = false;
    std::string failure_;
    std::vector<ToolCallRecord> calls_;

    std::vector<Held> held_;
    std::size_t held_bytes_ = 0;
    // Chat: the choice being held and its calls by index; held content text.
    int64_t held_choice_ = -1;
    std::map<int64_t, HeldChatCall> chat_calls_;
    std::string held_content_;
    // Responses: the output index being held; replaced items by output index.
    int64_t held_output_ = -1;
    std::map<int64_t, nlohmann::json> replacements_;
    bool renumber_ = false;
    int64_t next_sequence_ = 0;
};

}  // namespace sluice
