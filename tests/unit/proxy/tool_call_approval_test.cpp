// Issue 22: a tool call a rule requires approval for is refused with an approval id; once an
// approver grants that id, the identical call (same identity, rule, tool and arguments) passes
// once; any other call, or another identity's, still needs its own approval.
#include "agent/proxy/tool_call_approval.h"

#include <gtest/gtest.h>

#include <regex>

namespace sluice {
namespace {

HeldRequest held_request(const std::string& key, uid_t uid) {
    HeldRequest held;
    held.requester.key = key;
    held.requester.uid = uid;
    held.requester.user = "u" + std::to_string(uid);
    held.rule = "agents";
    return held;
}

std::function<HeldRequest()> requester(const std::string& key, uid_t uid) {
    return [held = held_request(key, uid)] { return held; };
}

std::string approval_id(const std::string& reason) {
    std::smatch m;
    EXPECT_TRUE(std::regex_search(reason, m, std::regex("approval id (\\S+)"))) << reason;
    return m.size() > 1 ? m[1].str() : "";
}

TEST(ToolCallApproval, ApprovedCallPassesOnceAndOnlyAsApproved) {
    ApprovalRegistry registry(ApprovalSettings{});
    const ApprovalResolver alice = tool_call_approver(&registry, requester("uid:1001", 1001));
    const ApprovalResolver bob = tool_call_approver(&registry, requester("uid:1002", 1002));
    const ToolCall deploy{"run_shell", R"({"command":"deploy prod"})"};

    std::string reason = "tool_calls[0]";
    ASSERT_EQ(alice(deploy, reason), ToolCallAction::deny);
    const std::string id = approval_id(reason);
    EXPECT_NE(reason.find("sluicectl approvals approve " + id), std::string::npos);
    EXPECT_FALSE(registry.decide(id, Approver{1001, {}, "u1001"}, true, "", {}).ok)
        << "the requester cannot approve its own call";
    ASSERT_TRUE(registry.decide(id, Approver{0, {}, "root"}, true, "ok", {}).ok);

    std::string other = "r";
    EXPECT_EQ(alice({"run_shell", R"({"command":"deploy staging"})"}, other), ToolCallAction::deny);
    EXPECT_EQ(bob(deploy, other), ToolCallAction::deny) << "another identity";
    std::string granted = "r";
    EXPECT_EQ(alice(deploy, granted), ToolCallAction::allow);
    EXPECT_NE(granted.find(id), std::string::npos);
    std::string again = "r";
    EXPECT_EQ(alice(deploy, again), ToolCallAction::deny) << "once";
}

TEST(ToolCallApproval, WithoutApprovalsConfiguredSuchCallsAreRefused) {
    const ToolCallControl control{
        {ToolCallEntry{{"run_shell"}, nullptr, {}, ToolCallAction::require_approval, {}}}};
    const auto decision = decide_tool_call(control, {"run_shell", "{}"},
                                           tool_call_approver(nullptr, requester("k", 1)));
    EXPECT_EQ(decision.action, ToolCallAction::deny);
}

TEST(ToolCallApproval, TheRequestIsDescribedOnlyWhenACallNeedsApproval) {
    // Describing it masks a prompt excerpt: answers whose calls are all allowed never pay that.
    ApprovalRegistry registry(ApprovalSettings{});
    int described = 0;
    const ToolCallControl control{
        {ToolCallEntry{{"run_shell"}, nullptr, {}, ToolCallAction::require_approval, {}}}};
    const ApprovalResolver resolver = tool_call_approver(&registry, [&] {
        ++described;
        return held_request("uid:1001", 1001);
    });
    EXPECT_EQ(decide_tool_call(control, {"read_file", "{}"}, resolver).action,
              ToolCallAction::allow);
    EXPECT_EQ(described, 0);
    EXPECT_EQ(decide_tool_call(control, {"run_shell", "{}"}, resolver).action,
              ToolCallAction::deny);
    EXPECT_EQ(decide_tool_call(control, {"run_shell", "{\"x\":1}"}, resolver).action,
              ToolCallAction::deny);
    EXPECT_EQ(described, 1);
}

}  // namespace
}  // namespace sluice
