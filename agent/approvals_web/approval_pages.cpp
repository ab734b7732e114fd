#include "agent/approvals_web/approval_pages.h"

#include "agent/approvals_web/form_data.h"

namespace sluice {

std::string html_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&#39;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

namespace {

constexpr std::string_view kStyle = R"(
body{font-family:system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d232b}
header{background:#1d3b5a;color:#fff;padding:.8em 1.5em;display:flex;justify-content:space-between;align-items:center}
header a{color:#fff;text-decoration:none;font-weight:600}
main{padding:1.2em 1.5em;max-width:70em}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;padding:.45em .7em;border-bottom:1px solid #dde1e6;vertical-align:top}
th{background:#eef1f4}
.notice{padding:.6em 1em;margin-bottom:1em;background:#e3f2e1;border:1px solid #9bc995}
.error{background:#fbe3e3;border-color:#d99}
.excerpt{font-family:monospace;white-space:pre-wrap;background:#fffbe6;padding:.3em .5em}
dl{display:grid;grid-template-columns:12em 1fr;gap:.35em 1em;background:#fff;padding:1em}
dt{font-weight:600}
form.decide{background:#fff;padding:1em;margin-top:1em;display:grid;gap:.6em;max-width:40em}
button{padding:.45em 1.2em;font-size:1em;cursor:pointer}
button.approve{background:#2e7d32;color:#fff;border:0}
button.deny{background:#c62828;color:#fff;border:0}
header form{display:inline;margin-left:1em}
)";

std::string text_of(const nlohmann::json& object, const char* name) {
    const auto it = object.find(name);
    if (it == object.end() || it->is_null()) return "";
    return it->is_string() ? it->get<std::string>() : it->dump();
}

std::string requester_text(const nlohmann::json& approval) {
    const nlohmann::json requester = approval.value("requester", nlohmann::json::object());
    std::string text = text_of(requester, "user") + " (uid " + text_of(requester, "uid") + ")";
    if (const std::string subject = text_of(requester, "oidc_subject"); !subject.empty())
        text += ", OIDC " + subject;
    return text;
}

std::string age_text(const nlohmann::json& approval) {
    if (approval.contains("waiting_s"))
        return text_of(approval, "waiting_s") + " s (times out in " +
               text_of(approval, "times_out_in_s") + " s)";
    return "waited " + text_of(approval, "waited_s") + " s";
}

std::string approvals_text(const nlohmann::json& approval) {
    const auto& given = approval.value("approvals", nlohmann::json::array());
    return std::to_string(given.size()) + " of " + text_of(approval, "min_approvers");
}

std::string page(std::string_view title, const PageContext* context, const std::string& body) {
    std::string out =
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width\"><title>";
    out += html_escape(title);
    out += " · sluice approvals</title><style>";
    out += kStyle;
    out += "</style></head><body><header><a href=\"/approvals\">sluice approvals</a><span>";
    if (context && !context->signed_in_as.empty()) {
        out += "signed in as <b>" + html_escape(context->signed_in_as) + "</b>";
        out +=
            "<form method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"csrf\" "
            "value=\"" +
            html_escape(context->csrf_token) +
            "\"><button type=\"submit\">Sign out</button></form>";
    }
    out += "</span></header><main>";
    if (context && !context->notice.empty())
        out += std::string("<p class=\"notice") + (context->notice_is_error ? " error" : "") +
               "\" role=\"status\">" + html_escape(context->notice) + "</p>";
    out += body;
    out += "</main></body></html>";
    return out;
}

}  // namespace

std::string render_list_page(const nlohmann::json& approvals, const PageContext& context) {
    std::string body = "<h1>Held requests</h1>";
    std::string rows;
    std::size_t held = 0;
    for (const auto& approval : approvals) {
        const std::string id = text_of(approval, "id");
        const std::string state = text_of(approval, "state");
        if (state == "held") ++held;
        rows += "<tr data-id=\"" + html_escape(id) + "\"><td><a href=\"/approvals/" +
                url_encode(id) + "\">" + html_escape(id) + "</a></td><td>" + html_escape(state) +
                "</td><td>" + html_escape(requester_text(approval)) + "</td><td>" +
                html_escape(text_of(approval, "model")) + "</td><td>" +
                html_escape(text_of(approval, "rule")) + "</td><td class=\"excerpt\">" +
                html_escape(text_of(approval, "excerpt")) + "</td><td>" +
                html_escape(age_text(approval)) + "</td><td>" +
                html_escape(approvals_text(approval)) + "</td></tr>";
    }
    if (rows.empty()) {
        body += "<p>Nothing is waiting for a decision.</p>";
    } else {
        body += "<p>" + std::to_string(held) + " waiting for a decision.</p>";
        body +=
            "<table><thead><tr><th>Approval</th><th>State</th><th>Requester</th><th>Model</th>"
            "<th>Rule</th><th>Prompt (masked excerpt)</th><th>Age</th><th>Approvals</th></tr>"
            "</thead><tbody>" +
            rows + "</tbody></table>";
    }
    return page("Held requests", &context, body);
}

std::string render_detail_page(const nlohmann::json& approval, const PageContext& context) {
    const std::string id = text_of(approval, "id");
    const nlohmann::json identity =
        approval.value("requester", nlohmann::json::object()).value("identity", nlohmann::json{});
    std::string body = "<h1>Request " + html_escape(id) + "</h1><dl>";
    auto row = [&](std::string_view name, const std::string& value, const char* css = nullptr) {
        body += "<dt>" + html_escape(name) + "</dt><dd" +
                (css ? std::string(" class=\"") + css + "\"" : std::string()) + ">" +
                html_escape(value) + "</dd>";
    };
    row("State", text_of(approval, "state"));
    row("Requester", requester_text(approval));
    if (identity.is_object()) {
        row("Executable", text_of(identity, "exe"));
        row("Unit", text_of(identity, "unit"));
        if (identity.contains("container")) row("Container", text_of(identity, "container"));
    }
    row("Request", text_of(approval, "method") + " " + text_of(approval, "path") +
                       (approval.value("stream", false) ? " (streamed)" : ""));
    row("Model", text_of(approval, "model"));
    row("Rule", text_of(approval, "rule"));
    row("Why", text_of(approval, "reason"));
    row("Prompt (masked excerpt)", text_of(approval, "excerpt"), "excerpt");
    row("Body SHA-256", text_of(approval, "body_sha256"));
    row("Waiting", age_text(approval));
    row("Approvals", approvals_text(approval));
    if (approval.contains("approver")) {
        row("Decided by", text_of(approval, "approver"));
        row("Decision reason", text_of(approval, "decision_reason"));
    }
    body += "</dl>";
    const std::string state = text_of(approval, "state");
    if (state == "held" || state == "timed_out") {
        body +=
            "<form class=\"decide\" method=\"post\" action=\"/approvals/" + url_encode(id) +
            "/decide\"><input type=\"hidden\" name=\"csrf\" value=\"" +
            html_escape(context.csrf_token) +
            "\"><label>Reason <input name=\"reason\" size=\"50\" maxlength=\"500\"></label>"
            "<label>Scope <select name=\"for\"><option value=\"\">this request once</option>"
            "<option value=\"15m\">this identity and rule for 15 minutes</option>"
            "<option value=\"1h\">this identity and rule for 1 hour</option></select></label>"
            "<div><button class=\"approve\" name=\"decision\" value=\"approve\">Approve</button> "
            "<button class=\"deny\" name=\"decision\" value=\"deny\">Deny</button></div></form>";
    }
    return page("Request " + id, &context, body);
}

std::string render_message_page(std::string_view title, std::string_view message,
                                bool offer_sign_in) {
    std::string body = "<h1>" + html_escape(title) + "</h1><p>" + html_escape(message) + "</p>";
    if (offer_sign_in) body += "<p><a id=\"sign-in\" href=\"/login\">Sign in</a></p>";
    return page(title, nullptr, body);
}

std::string render_sign_in_choice_page(std::string_view return_path) {
    const std::string back = html_escape(url_encode(return_path));
    return page(
        "Sign in", nullptr,
        "<h1>Sign in</h1><p><a id=\"sign-in-oidc\" href=\"/login?via=oidc&amp;return=" + back +
            "\">Sign in with OpenID Connect</a></p><p><a id=\"sign-in-saml\" "
            "href=\"/saml/login?return=" +
            back + "\">Sign in with SAML</a></p>");
}

std::string render_continue_page(std::string_view path) {
    const std::string target = html_escape(path);
    return "<!doctype html><html><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" "
           "content=\"0;url=" +
           target + "\"><title>Signed in</title></head><body><p>Signed in. <a href=\"" + target +
           "\">Continue</a></p></body></html>";
}

}  // namespace sluice
