// The tool_calls control on a streamed answer (SSE), ahead of stream masking: a tool call's
// events are held back until its arguments are complete, decided on the whole arguments, and
// then released as they came (allowed), rewritten (redacted), or replaced by the explanation
// the agent gets instead (refused; tool_call_answer.h says what per API).
//
// Chat Completions: once a chunk carries a `tool_calls` / `function_call` delta, every chunk is
// held until each choice with calls has its `finish_reason` (choices of an `n` > 1 answer
// interleave), then each call is decided. Responses: from the `response.output_item.added` of a
// call item until every call item added meanwhile has its `response.output_item.done`;
// `response.completed` (and `incomplete`/`failed`) repeat the output and get the same
// replacements. Once an event was added, later `sequence_number`s are renumbered so they stay
// consecutive.
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
    struct HeldChoice {  // a chat choice with calls: its calls by index, its text meanwhile
        std::map<int64_t, HeldChatCall> calls;
        std::string content;
        bool finished = false;
        nlohmann::json finish_reason;
        bool had_role = false;
    };
    struct Held {
        std::string event;  // SSE event name
        nlohmann::json data;
    };

    void on_event(const SseEvent& event, std::string& out);
    void on_chat(const SseEvent& event, std::string& out);
    void on_responses(const SseEvent& event, std::string& out);
    void hold(const SseEvent& event, nlohmann::json data);
    void release_chat(std::string& out);
    void release_responses(std::string& out);
    // The events that replace a Responses call item at `index` (an explanation or redacted call).
    void emit_replacement(int64_t index, const nlohmann::json& item, std::string& out);
    // Decides a Responses call item; the item the agent gets instead, or null to keep it.
    nlohmann::json decide_item(int64_t index, const nlohmann::json& item);
    // An output array (response.completed and the like): replaced items put in, and any call
    // not decided with these very arguments decided now.
    void settle_output(nlohmann::json& output);
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
    std::map<int64_t, HeldChoice> chat_choices_;  // chat: choices with calls, by index
    std::map<int64_t, bool> finished_choices_;    // chat: choices whose calls were decided
    // Responses: call items added and not yet done; done ones (by output index) with their
    // final item; replaced items, also for response.completed.
    std::map<int64_t, bool> pending_items_;
    std::map<int64_t, nlohmann::json> done_items_;
    std::map<int64_t, nlohmann::json> replacements_;
    std::map<int64_t, std::string> allowed_arguments_;  // calls let through, by output index
    bool renumber_ = false;
    int64_t next_sequence_ = 0;
};

}  // namespace sluice
