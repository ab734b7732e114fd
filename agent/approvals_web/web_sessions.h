// Who is signed in to the approvers' web page, and the logins under way.
//
// A login (GET /login) gets a `state` (the OAuth state, also set as a short-lived cookie, so a
// callback is only accepted in the browser that started it), a PKCE verifier and a nonce; the
// callback consumes it once. A session is created only after the ID token was verified and its
// groups name an approver group; it carries its own CSRF token, which every state-changing POST
// must repeat. Both are bounded in number and time; the oldest are dropped first. In memory
// only: a restart signs everyone out. Time comes from an injected clock.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "agent/approvals/approval_registry.h"

namespace sluice {

struct PendingLogin {
    std::string verifier;         // OIDC: PKCE code_verifier
    std::string nonce;            // OIDC
    std::string saml_request_id;  // SAML: the AuthnRequest's ID, answered by InResponseTo
    std::string return_to;        // a path on this page
    std::chrono::steady_clock::time_point expires;
};

struct WebSession {
    Approver approver;  // via web_oidc (issuer, subject, groups) or web_saml (IdP, NameID, groups)
    std::string csrf_token;
    std::chrono::steady_clock::time_point expires;
};

class WebSessions {
public:
    using Clock = std::chrono::steady_clock;
    static constexpr std::size_t kMaxLogins = 1000;
    static constexpr std::size_t kMaxSessions = 1000;
    static constexpr std::chrono::minutes kLoginLifetime{10};

    WebSessions(
        std::chrono::seconds session_lifetime,
        std::function<Clock::time_point()> now = [] { return Clock::now(); });

    // Returns the state naming it.
    std::string begin_login(PendingLogin login);
    // The login `state` names, removed (a state works once); nullopt if unknown or expired.
    std::optional<PendingLogin> take_login(const std::string& state);

    // Returns the session id (the cookie's value).
    std::string create_session(Approver approver);
    std::optional<WebSession> session(const std::string& id);
    void end_session(const std::string& id);

private:
    void forget_expired(Clock::time_point now);

    const std::chrono::seconds session_lifetime_;
    const std::function<Clock::time_point()> now_;
    std::mutex mutex_;
    std::map<std::string, PendingLogin> logins_;  // guarded
    std::map<std::string, WebSession> sessions_;  // guarded
};

}  // namespace sluice
