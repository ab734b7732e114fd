#include "agent/proxy/tool_call_approval.h"

#include <optional>

#include "agent/common/sha256_hex.h"

namespace sluice {

ApprovalResolver tool_call_approver(ApprovalRegistry* registry,
                                    std::function<HeldRequest()> requester) {
    if (!registry) return {};
    return [registry, make = std::move(requester), made = std::optional<HeldRequest>()](
               const ToolCall& call, std::string& reason) mutable {
        if (!made) made = make();
        const HeldRequest& base = *made;
        const std::string hash = sha256_hex("tool_call\n" + call.name + "\n" + call.arguments);
        if (auto granted = registry->take_grant(base.requester.key, base.rule, hash)) {
            reason += ", approved (" + *granted + ")";
            return ToolCallAction::allow;
        }
        HeldRequest held = base;
        held.method = "TOOL";
        held.path = call.name;
        held.body_hash = hash;
        held.reason = reason;
        const ApprovalRegistry::HoldOutcome outcome = registry->hold(std::move(held), [] {});
        if (outcome.id.empty()) {
            reason += "; no approval can be asked now: " + outcome.refusal;
            return ToolCallAction::deny;
        }
        registry->expire(outcome.id);  // not waited for: kept for a late approval
        reason += "; approval id " + outcome.id + " (sluicectl approvals approve " + outcome.id +
                  " lets this exact call through once when the model proposes it again)";
        return ToolCallAction::deny;
    };
}

}  // namespace sluice
