// A rule's `require_approval` tool calls, settled against the approvals registry
// (docs/approvals.md): an approved call goes through once; any other is refused with an
// approval id an approver can grant (`sluicectl approvals approve ID`), after which the
// identical call — same identity, rule, tool and arguments — passes the next time the model
// proposes it. The answer itself is not held: it has already begun to reach the agent, and an
// agent retries a refused step by asking the model again.
#pragma once

#include <functional>

#include "agent/approvals/approval_registry.h"
#include "policy/tool_calls/tool_call_control.h"

namespace sluice {

// `requester`: makes the request whose answer proposes the calls (its identity, rule, model,
// path), called once, when the first call needs approval.
ApprovalResolver tool_call_approver(ApprovalRegistry* registry,
                                    std::function<HeldRequest()> requester);

}  // namespace sluice
