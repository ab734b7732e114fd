// Applies a rule's tool_calls control to a model's answer before the agent receives it, for
// the answer shapes that carry tool calls. What a refused call becomes, per API:
//
// - Chat Completions: the call is removed from `tool_calls` and the message's `content` says
//   which rule refused which tool; with no call left, `finish_reason` becomes "stop". The SDKs
//   then see an ordinary assistant message: no tool runs, and an agent loop ends with the
//   explanation as its answer. (A whole-answer error would make SDKs retry the same prompt.)
// - Responses: the call item is replaced, at the same place in `output`, by an assistant
//   message item with the explanation: the Agents SDK runs no tool and ends the turn with it.
//
// A redacted call keeps its place with the named argument values replaced by "[REDACTED]". A
// call that needs approval is refused like a denied one unless `resolver` finds it approved; the
// explanation then names the approval id (the answer is not held: the agent's next proposal of
// the identical call, after approval, goes through).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/tool_calls/tool_call_control.h"

namespace sluice {

// What the audit keeps of one call: the arguments as the model wrote them (the caller masks
// and shortens them before they are written).
struct ToolCallRecord {
    std::string name;
    std::string arguments;
    ToolCallAction action = ToolCallAction::allow;
    std::string reason;
};

// A Responses output item's tool call, if it is one — function, custom and MCP calls and the
// built-in tools the agent runs.
struct ItemToolCall {
    ToolCall call;
    const char* arguments_key = nullptr;  // member holding the arguments text, or null (built-in)
};
std::optional<ItemToolCall> item_tool_call(const nlohmann::json& item);

// The text the agent gets in place of refused calls.
std::string refusal_explanation(const std::vector<ToolCallRecord>& refused, std::string_view rule);
// A completed assistant message item carrying `text` (Responses).
nlohmann::json explanation_item(std::string_view id, const std::string& text);

struct ToolCallOutcome {
    bool changed = false;
    std::vector<ToolCallRecord> calls;
};

// Decides every call in a non-streamed answer `body` (already parsed) to `path`, rewriting it
// in place.
ToolCallOutcome apply_tool_call_policy(nlohmann::json& body, std::string_view path,
                                       const ToolCallControl& control, std::string_view rule,
                                       const ApprovalResolver& resolver = {});

}  // namespace sluice
