// The chat message for a newly held request, in the shape of a Slack incoming webhook
// (`text` for notifications, `blocks` for the message): the approval id, who asked, the model,
// the rule and why, and a link to the approvers' web page when there is one. Never the prompt:
// not even the masked excerpt leaves the host this way. Pure: tested without sockets.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "agent/approvals/approval_registry.h"

namespace sluice {

// `page_url`: the web page's base URL ("" = no link); the link opens the request's detail view,
// where the approver signs in: a link never approves anything by itself.
nlohmann::json slack_held_notice(const std::string& id, const HeldRequest& request,
                                 const std::string& page_url);

// Slack's mrkdwn escaping: &, < and > (a requester-chosen name cannot form a link or mention).
std::string slack_escape(std::string_view text);

}  // namespace sluice
