#include "agent/approvals/approval_commands.h"

#include "agent/common/duration_text.h"

namespace sluice {

namespace {

std::string text_member(const nlohmann::json& request, const char* name) {
    const auto it = request.find(name);
    return it != request.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

nlohmann::json run_approval_command(ApprovalRegistry& approvals, const nlohmann::json& request,
                                    const Approver& approver, const ApprovalDecided& decided) {
    if (!approvals.may_approve(approver))
        return {{"error",
                 "permission denied: " + approver.name +
                     " is not an approver (root, or approvals.approvers in sluiced's config)"}};
    const std::string verb = text_member(request, "verb");
    const std::string id = text_member(request, "id");
    if (verb == "list") return {{"approvals", approvals.list()}};
    if (id.empty()) return {{"error", "approvals " + verb + ": needs an approval ID"}};
    if (verb == "show") {
        if (auto shown = approvals.show(id)) return *shown;
        return {{"error", "no held or timed-out request with id " + id}};
    }
    if (verb != "approve" && verb != "deny")
        return {{"error", "approvals: unknown verb '" + verb + "'"}};
    std::chrono::seconds scope_for{0};
    if (const std::string text = text_member(request, "for"); !text.empty()) {
        if (verb == "deny") return {{"error", "approvals deny: --for applies to approvals only"}};
        const auto parsed = parse_duration(text);
        if (!parsed)
            return {
                {"error", "approvals approve: --for must be a duration such as 15m or 2h, not '" +
                              text + "'"}};
        scope_for = *parsed;
    }
    ApprovalRegistry::DecideOutcome outcome = approvals.decide(
        id, approver, verb == "approve", text_member(request, "reason"), scope_for);
    if (!outcome.ok) return {{"error", outcome.error}};
    decided(id, outcome);
    nlohmann::json answer{{"ok", true},
                          {"id", id},
                          {"decision", outcome.event},
                          {"request_id", outcome.request.request_id}};
    if (outcome.event != "partially_approved") answer["scope"] = outcome.decision.scope;
    if (outcome.request.min_approvers > 1)
        answer["approvals"] = std::to_string(outcome.decision.approvers.size()) + " of " +
                              std::to_string(outcome.request.min_approvers);
    return answer;
}

}  // namespace sluice
