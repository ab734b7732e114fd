// The approvers' web page as HTML: the list of held requests and one request's detail view
// with approve/deny. Pure functions of the registry's JSON (ApprovalRegistry::list/show), so
// what an approver sees is what `sluicectl approvals show` prints: who, what, why, how long,
// and the masked excerpt, never more of the prompt. Every value is HTML-escaped.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace sluice {

std::string html_escape(std::string_view text);

struct PageContext {
    std::string signed_in_as;  // the approver's name
    std::string csrf_token;    // repeated in every form
    std::string notice;        // a line shown above the content ("" = none)
    bool notice_is_error = false;
};

std::string render_list_page(const nlohmann::json& approvals, const PageContext& context);
std::string render_detail_page(const nlohmann::json& approval, const PageContext& context);
// A page with one message (signed out, refused, not found), no forms but a sign-in link.
std::string render_message_page(std::string_view title, std::string_view message,
                                bool offer_sign_in);
// With both OIDC and SAML configured: one link for each (`return_path` already checked).
std::string render_sign_in_choice_page(std::string_view return_path);
// After the login callback: a same-site navigation onwards, so the SameSite=Strict session
// cookie set here is sent (a redirect would still count as part of the IdP's cross-site chain).
std::string render_continue_page(std::string_view path);

}  // namespace sluice
