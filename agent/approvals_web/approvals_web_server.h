// The approvers' web page (docs/approvals.md, "Web page"): HTTPS on its own address and thread,
// never on the proxy's. Sign-in with OIDC (oidc_login.h) or SAML 2.0 (saml_login.h), or either;
// only an approver whose groups (ID token claim, SAML attribute) name an approver group gets a
// session. Pages: the held requests, one request's detail, and its
// approve/deny form. Sessions are an HttpOnly, Secure, SameSite=Strict cookie; every POST must
// carry the session's CSRF token (and, when the browser sends one, our own Origin). Decisions go
// through ApprovalRegistry::decide as the CLI's do, so the same rules hold: approver groups,
// never one's own request (by OIDC subject), min_approvers, scopes.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "agent/approvals/approval_commands.h"
#include "agent/approvals/approval_registry.h"
#include "agent/approvals_web/oidc_login.h"
#include "agent/approvals_web/saml_login.h"
#include "agent/approvals_web/web_sessions.h"
#include "agent/common/server_thread.h"
#include "agent/config/config.h"

namespace sluice {

// A sign-in to the page, accepted or refused, for the audit (docs/approvals.md, "Audit").
struct WebSignIn {
    bool accepted = false;
    std::string via;      // "web_oidc" | "web_saml"
    std::string user;     // the approver's name, "" when the IdP's answer was not accepted
    std::string subject;  // OIDC subject or SAML NameID, when known
    std::string idp;      // OIDC issuer or SAML IdP entity id
    std::string reason;   // why refused (one line, never a token or an assertion)
};
using WebSignInObserver = std::function<void(const WebSignIn&)>;

class ApprovalsWebServer {
public:
    using Request = boost::beast::http::request<boost::beast::http::string_body>;
    using Response = boost::beast::http::response<boost::beast::http::string_body>;

    // Binds now (throws std::runtime_error, one line, if it cannot, or if the certificate, its
    // key or the OIDC client secret cannot be used). `base_url`: the page's own https:// URL.
    ApprovalsWebServer(const ApprovalWebConfig& config, std::string base_url,
                       ApprovalRegistry& approvals, ApprovalDecided decided,
                       WebSignInObserver signed_in = nullptr);
    ~ApprovalsWebServer();
    ApprovalsWebServer(const ApprovalsWebServer&) = delete;
    ApprovalsWebServer& operator=(const ApprovalsWebServer&) = delete;

    void start();
    void stop();

    static constexpr std::size_t kMaxConnections = 256;

private:
    void accept(boost::asio::ip::tcp::socket socket);
    boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket);
    boost::asio::awaitable<Response> handle(const Request& request);
    boost::asio::awaitable<Response> callback(const Request& request,
                                              const std::map<std::string, std::string>& query);
    Response login(const Request& request, const std::map<std::string, std::string>& query);
    Response saml_login(const std::map<std::string, std::string>& query);
    Response saml_acs(const Request& request);
    // A verified approver: a session if they may decide, else "not an approver"; either way
    // the login's own cookie (`clear_login_cookie`, a Set-Cookie value) is cleared.
    Response signed_in(Approver approver, const std::string& return_to, const std::string& how,
                       const std::string& clear_login_cookie);
    void observe_sign_in(WebSignIn sign_in) const;
    Response decide(const Request& request, const WebSession& session, const std::string& id);
    std::optional<WebSession> session_of(const Request& request);
    // POSTs: the CSRF token of the form, and our Origin when the browser names one.
    bool post_is_ours(const Request& request, const WebSession& session,
                      const std::map<std::string, std::string>& form) const;

    const ApprovalWebConfig config_;
    const std::string base_url_;  // with a trailing slash
    const std::string origin_;    // scheme://host[:port]
    ApprovalRegistry& approvals_;
    const ApprovalDecided decided_;
    const WebSignInObserver sign_in_observer_;
    WebSessions sessions_;
    std::unique_ptr<OidcLogin> oidc_;  // null without approvals.web.oidc
    std::unique_ptr<SamlLogin> saml_;  // null without approvals.web.saml
    boost::asio::ssl::context tls_;
    std::size_t connections_ = 0;  // on server_'s thread only
    ServerThread server_;
};

}  // namespace sluice
