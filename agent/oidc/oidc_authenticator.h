// OIDC identity for the proxy: decides, per request, what the credential a client presented
// (`Authorization: Bearer <credential>`) says about who is calling.
//
//   not a JWT (e.g. "sk-dummy")   -> none: the caller uses the kernel identity alone
//   JWT, verified                 -> ok: kernel identity plus the OidcIdentity
//   JWT, anything wrong with it   -> invalid: refuse with 401 and `reason`
//   JWT, issuer's keys not loaded -> unavailable: refuse (503); keys could not be fetched
// A JWT is never quietly downgraded to "none".
//
// Thread-safe: one instance is shared by all proxy workers. Keys fetched over HTTPS are
// refreshed on a background thread this object owns, so no proxy thread ever does network I/O
// for it; a request only waits (bounded) when its token names a kid the issuer may just have
// published.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "agent/config/config.h"
#include "agent/oidc/https_fetch.h"
#include "agent/oidc/issuer_keys.h"
#include "agent/oidc/jwt_verifier.h"
#include "agent/oidc/oidc_limits.h"
#include "policy/policy_model.h"

namespace sluice {

enum class OidcOutcome { none, ok, invalid, unavailable };
std::string_view to_string(OidcOutcome outcome);

struct [[nodiscard]] OidcAuthentication {
    OidcOutcome outcome = OidcOutcome::none;
    std::optional<OidcIdentity> identity;  // set exactly when outcome == ok
    JwtError error = JwtError::none;       // why, when invalid / unavailable
    // One sentence for the 401/503 body and the audit record; never echoes the token.
    std::string reason;
};

// True when the credential is meant as a JWT: it starts with "eyJ" (base64url of '{"'), which
// no OpenAI-style key does. Such a credential is verified and refused if malformed, rather than
// treated as an ordinary dummy key, so a truncated token cannot fall back to "none".
bool looks_like_jwt(std::string_view credential);

struct OidcAuthenticatorOptions {
    // The time tokens are checked against (exp, nbf, iat). Tests inject their own.
    std::function<std::chrono::system_clock::time_point()> clock;
    HttpsGetter https_get;  // default: https_get()
    std::chrono::milliseconds unknown_kid_wait = oidc_limits::kUnknownKidWait;
    std::chrono::seconds unknown_kid_refresh_interval = oidc_limits::kUnknownKidRefreshInterval;
    std::chrono::seconds retry_after_failure = oidc_limits::kFetchRetryAfterFailure;
    std::chrono::milliseconds fetch_deadline = oidc_limits::kFetchDeadline;
};

class OidcAuthenticator {
public:
    // Loads every jwks_file now (throws OidcSetupError, one line, if one cannot be used) and
    // starts the refresher thread when an issuer's keys come from jwks_uri or discovery; their
    // first fetch begins at once.
    explicit OidcAuthenticator(const std::vector<OidcIssuerConfig>& issuers,
                               OidcAuthenticatorOptions options = {});
    // Stops the refresher; a fetch under way finishes (bounded by its deadline) first.
    ~OidcAuthenticator();
    OidcAuthenticator(const OidcAuthenticator&) = delete;
    OidcAuthenticator& operator=(const OidcAuthenticator&) = delete;

    // Whether any issuer is configured; when not, every credential is `none`.
    bool enabled() const { return !issuers_.empty(); }

    // For proxy coroutines: never blocks the thread. When the token names an unknown kid and a
    // key refresh may be tried, suspends until it finishes or unknown_kid_wait passes.
    // `credential` is copied into the coroutine frame, so a temporary is fine.
    boost::asio::awaitable<OidcAuthentication> authenticate_async(std::string credential);

    // The same decision for plain threads (tests, tools): may block the calling thread for up
    // to unknown_kid_wait. Do not call it from an io_context thread.
    OidcAuthentication authenticate(std::string_view credential);

    // Per issuer, for the admin status report.
    std::vector<OidcIssuerStatus> status() const;

private:
    struct Attempt {
        OidcAuthentication result;
        IssuerKeys* wait_for = nullptr;  // set: wait for this issuer's next fetch, then retry
        uint64_t fetches_seen = 0;
    };

    Attempt attempt(std::string_view credential, bool may_wait_for_refresh);
    IssuerKeys* issuer_for(const std::string& iss) const;
    void wake_refresher();
    void run_refresher();

    OidcAuthenticatorOptions options_;
    std::vector<std::unique_ptr<IssuerKeys>> issuers_;
    std::vector<JwtExpectations> expectations_;  // parallel to issuers_

    std::mutex refresher_mutex_;
    std::condition_variable refresher_wake_;
    bool refresher_woken_ = false;  // guarded by refresher_mutex_
    bool stopping_ = false;         // guarded by refresher_mutex_
    std::thread refresher_;
};

}  // namespace sluice
