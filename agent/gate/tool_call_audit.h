// The audit's view of the tool calls an answer proposed: each call's name, decision and
// reason, and an excerpt of its arguments held to what the policy lets the audit keep.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "agent/gate/request_gate.h"
#include "policy/tool_calls/tool_call_answer.h"

namespace sluice {

inline constexpr std::size_t kToolCallExcerptBytes = 256;

nlohmann::json tool_call_audit(const std::vector<ToolCallRecord>& calls, const RequestGate& gate);

}  // namespace sluice
