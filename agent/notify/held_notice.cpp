#include "agent/notify/held_notice.h"

namespace sluice {

std::string slack_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        if (c == '&')
            out += "&amp;";
        else if (c == '<')
            out += "&lt;";
        else if (c == '>')
            out += "&gt;";
        else
            out += c;
    }
    return out;
}

namespace {

std::string requester_text(const ApprovalRequester& who) {
    std::string text = who.user.empty() ? "uid " + std::to_string(who.uid)
                                        : who.user + " (uid " + std::to_string(who.uid) + ")";
    if (!who.oidc_subject.empty()) text += ", OIDC subject " + who.oidc_subject;
    if (who.describe.is_object()) {
        const std::string unit = who.describe.value("unit", "");
        const std::string exe = who.describe.value("exe", "");
        if (!exe.empty()) text += ", " + exe;
        if (!unit.empty()) text += " in " + unit;
    }
    return text;
}

}  // namespace

nlohmann::json slack_held_notice(const std::string& id, const HeldRequest& request,
                                 const std::string& page_url) {
    const std::string who = requester_text(request.requester);
    const std::string model = request.model.empty() ? "(none named)" : request.model;
    std::string summary = "sluice: request " + id + " by " + who + " to " + model +
                          " is held for approval (rule " + request.rule + ")";
    std::string details = "*Held for approval* `" + id + "`\n*Who:* " + slack_escape(who) +
                          "\n*What:* " + slack_escape(request.method + " " + request.path) +
                          ", model `" + slack_escape(model) + "`" +
                          (request.stream ? ", streamed" : "") + "\n*Rule:* " +
                          slack_escape(request.rule) + "\n*Why:* " + slack_escape(request.reason);
    if (request.min_approvers > 1)
        details += "\n*Needs:* " + std::to_string(request.min_approvers) + " approvers";
    nlohmann::json blocks = nlohmann::json::array(
        {{{"type", "section"}, {"text", {{"type", "mrkdwn"}, {"text", details}}}}});
    if (!page_url.empty()) {
        std::string link = page_url;
        if (link.back() != '/') link += '/';
        link += "approvals/" + id;
        summary += ": " + link;
        blocks.push_back({{"type", "actions"},
                          {"elements",
                           {{{"type", "button"},
                             {"text", {{"type", "plain_text"}, {"text", "Review in sluice"}}},
                             {"url", link}}}}});
    } else {
        const std::string command = "Decide with `sluicectl approvals approve|deny " + id + "`";
        blocks.push_back(
            {{"type", "context"}, {"elements", {{{"type", "mrkdwn"}, {"text", command}}}}});
    }
    return {{"text", slack_escape(summary)}, {"blocks", std::move(blocks)}};
}

}  // namespace sluice
