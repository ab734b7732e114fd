// Sign-in to the approvers' web page with OIDC: the authorization code flow with PKCE (S256)
// against the configured issuer (RFC 6749 §4.1, RFC 7636, OpenID Connect Core §3.1).
//
//   /login     → authorization_url(state, challenge, nonce): the browser goes to the IdP
//   /callback  → finish(code, verifier, nonce): the code is exchanged at the token endpoint
//                (with the verifier, and the client secret when configured), and the ID token
//                is verified as every OIDC token in sluice is (agent/oidc: signature by the
//                issuer's published keys, iss, aud = client_id, exp) and must carry our nonce.
// The endpoints come from the issuer's discovery document, fetched once on first use.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "agent/approvals/approval_registry.h"
#include "agent/config/config.h"
#include "agent/oidc/https_fetch.h"
#include "agent/oidc/oidc_authenticator.h"

namespace sluice {

struct OidcLoginResult {
    std::optional<Approver> approver;  // set: signed in (who; the caller checks the groups)
    std::string error;                 // one line for the log; never a token
};

class OidcLogin {
public:
    // `redirect_uri`: this page's /callback. Reads the client secret file (0600) now; throws
    // std::runtime_error (one line) if it cannot.
    OidcLogin(const ApprovalWebConfig& config, std::string redirect_uri);

    // The IdP's authorization URL for this login; nullopt (and `error`) when discovery fails.
    // Blocking on first use (discovery): call it from the web page's own thread only.
    std::optional<std::string> authorization_url(const std::string& state,
                                                 const std::string& challenge,
                                                 const std::string& nonce, std::string& error);

    boost::asio::awaitable<OidcLoginResult> finish(std::string code, std::string verifier,
                                                   std::string nonce);

private:
    struct Endpoints {
        HttpsUrl authorization;
        std::string authorization_url;
        HttpsUrl token;
    };
    std::optional<Endpoints> endpoints(std::string& error);

    const ApprovalWebConfig config_;
    const std::string redirect_uri_;
    std::string client_secret_;
    std::unique_ptr<boost::asio::ssl::context> tls_;
    OidcAuthenticator verifier_;
    std::mutex mutex_;
    std::optional<Endpoints> endpoints_;  // guarded
};

}  // namespace sluice
