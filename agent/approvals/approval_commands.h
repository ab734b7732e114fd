// The `approvals` command of the admin socket (sluicectl approvals list|show|approve|deny):
// the request's JSON in, the answer's JSON out. Only approvers may list, show or decide; the
// requester of a held request may never decide it (ApprovalRegistry::decide).
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "agent/approvals/approval_registry.h"

namespace sluice {

// Called after a decision is recorded: the daemon audits it (the approver is known only here).
using ApprovalDecided =
    std::function<void(const std::string& id, const ApprovalRegistry::DecideOutcome& outcome)>;

// `request`:
// {"command":"approvals","verb":"list"|"show"|"approve"|"deny","id":…,"reason":…,"for":"15m"}.
nlohmann::json run_approval_command(ApprovalRegistry& approvals, const nlohmann::json& request,
                                    const Approver& approver, const ApprovalDecided& decided);

}  // namespace sluice
