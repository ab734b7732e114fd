#include "agent/oidc/oidc_authenticator.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <future>

namespace sluice {
namespace {

namespace net = boost::asio;
using SteadyClock = std::chrono::steady_clock;

// The longest the refresher sleeps without looking at its issuers again.
constexpr std::chrono::minutes kRefresherMaxSleep{10};

OidcAuthentication invalid(JwtError error, std::string reason) {
    OidcAuthentication out;
    out.outcome = OidcOutcome::invalid;
    out.error = error;
    out.reason = std::move(reason);
    return out;
}

// Wakes a coroutine parked on a timer when a key fetch finishes. The flag makes sure nothing is
// posted to the coroutine's executor once it has stopped waiting (and may be gone).
class ParkedRequest {
public:
    explicit ParkedRequest(std::shared_ptr<net::steady_timer> timer) : timer_(std::move(timer)) {}

    void wake() {
        std::lock_guard lock(mutex_);
        if (stopped_waiting_) return;
        net::post(timer_->get_executor(), [timer = timer_] { timer->cancel(); });
    }
    void stop_waiting() {
        std::lock_guard lock(mutex_);
        stopped_waiting_ = true;
    }

private:
    std::mutex mutex_;
    bool stopped_waiting_ = false;  // guarded
    std::shared_ptr<net::steady_timer> timer_;
};

}  // namespace

std::string_view to_string(OidcOutcome outcome) {
    switch (outcome) {
        case OidcOutcome::none:
            return "none";
        case OidcOutcome::ok:
            return "ok";
        case OidcOutcome::invalid:
            return "invalid";
        case OidcOutcome::unavailable:
            return "unavailable";
    }
    return "?";
}

bool looks_like_jwt(std::string_view credential) { return credential.substr(0, 3) == "eyJ"; }

OidcAuthenticator::OidcAuthenticator(const std::vector<OidcIssuerConfig>& issuers,
                                     OidcAuthenticatorOptions options)
    : options_(std::move(options)) {
    if (!options_.clock) options_.clock = [] { return std::chrono::system_clock::now(); };
    bool any_remote = false;
    for (const OidcIssuerConfig& config : issuers) {
        IssuerKeyTiming timing;
        timing.refresh_interval = std::chrono::seconds(config.jwks_refresh_s);
        timing.unknown_kid_refresh_interval = options_.unknown_kid_refresh_interval;
        timing.retry_after_failure = options_.retry_after_failure;
        timing.fetch_deadline = options_.fetch_deadline;
        issuers_.push_back(std::make_unique<IssuerKeys>(config, options_.https_get, timing));
        expectations_.push_back(expectations_for(config));
        any_remote = any_remote || issuers_.back()->remote();
    }
    if (any_remote) refresher_ = std::thread([this] { run_refresher(); });
}

OidcAuthenticator::~OidcAuthenticator() {
    {
        std::lock_guard lock(refresher_mutex_);
        stopping_ = true;
    }
    refresher_wake_.notify_all();
    if (refresher_.joinable()) refresher_.join();
}

IssuerKeys* OidcAuthenticator::issuer_for(const std::string& iss) const {
    for (const auto& keys : issuers_) {
        if (keys->config().issuer == iss) return keys.get();
    }
    return nullptr;
}

OidcAuthenticator::Attempt OidcAuthenticator::attempt(std::string_view credential,
                                                      bool may_wait_for_refresh) {
    Attempt out;
    if (issuers_.empty() || !looks_like_jwt(credential)) return out;  // none

    auto claimed = peek_jwt(credential);
    if (!claimed) {
        out.result = invalid(JwtError::malformed, credential.size() > oidc_limits::kMaxTokenBytes
                                                      ? "the token is too large"
                                                      : "the token is not a well-formed JWT");
        return out;
    }
    IssuerKeys* keys = issuer_for(claimed->issuer);
    if (keys == nullptr) {
        out.result = invalid(JwtError::wrong_issuer, "the token's issuer is not trusted");
        return out;
    }
    const std::size_t index =
        static_cast<std::size_t>(std::find_if(issuers_.begin(), issuers_.end(),
                                              [keys](const auto& k) { return k.get() == keys; }) -
                                 issuers_.begin());
    // Read the fetch count before the keys: a fetch finishing in between then wakes the waiter
    // at once instead of leaving it to wait for one that never comes.
    const uint64_t fetches_seen = keys->remote() ? keys->finished_fetches() : 0;
    const std::shared_ptr<const JwkSet> key_set = keys->keys();

    JwtVerification verified =
        verify_jwt(credential, expectations_[index], *key_set, options_.clock());
    if (verified.ok()) {
        out.result.outcome = OidcOutcome::ok;
        out.result.identity = std::move(verified.identity);
        return out;
    }
    if (verified.error == JwtError::unknown_key && keys->remote()) {
        if (may_wait_for_refresh && keys->request_refresh_for_unknown_kid(SteadyClock::now())) {
            wake_refresher();
            out.wait_for = keys;
            out.fetches_seen = fetches_seen;
            return out;
        }
        if (!keys->loaded()) {
            out.result.outcome = OidcOutcome::unavailable;
            out.result.error = JwtError::unknown_key;
            out.result.reason = "the token's issuer keys could not be fetched";
            return out;
        }
    }
    out.result = invalid(verified.error, std::move(verified.reason));
    return out;
}

OidcAuthentication OidcAuthenticator::authenticate(std::string_view credential) {
    Attempt first = attempt(credential, true);
    if (first.wait_for == nullptr) return std::move(first.result);
    auto fetched = std::make_shared<std::promise<void>>();
    std::future<void> done = fetched->get_future();
    first.wait_for->call_after_fetch(first.fetches_seen, [fetched] { fetched->set_value(); });
    done.wait_for(options_.unknown_kid_wait);
    return std::move(attempt(credential, false).result);
}

net::awaitable<OidcAuthentication> OidcAuthenticator::authenticate_async(std::string credential) {
    Attempt first = attempt(credential, true);
    if (first.wait_for == nullptr) co_return std::move(first.result);

    auto executor = co_await net::this_coro::executor;
    auto timer = std::make_shared<net::steady_timer>(executor, options_.unknown_kid_wait);
    auto parked = std::make_shared<ParkedRequest>(timer);
    first.wait_for->call_after_fetch(first.fetches_seen, [parked] { parked->wake(); });
    boost::system::error_code ec;  // operation_aborted = woken early; either way, try again
    co_await timer->async_wait(net::redirect_error(net::use_awaitable, ec));
    parked->stop_waiting();
    Attempt second = attempt(credential, false);
    co_return std::move(second.result);
}

std::vector<OidcIssuerStatus> OidcAuthenticator::status() const {
    std::vector<OidcIssuerStatus> out;
    for (const auto& keys : issuers_) out.push_back(keys->status());
    return out;
}

void OidcAuthenticator::wake_refresher() {
    {
        std::lock_guard lock(refresher_mutex_);
        refresher_woken_ = true;
    }
    refresher_wake_.notify_all();
}

void OidcAuthenticator::run_refresher() {
    std::unique_lock lock(refresher_mutex_);
    while (!stopping_) {
        const auto now = SteadyClock::now();
        std::vector<IssuerKeys*> due;
        auto next = now + kRefresherMaxSleep;
        for (const auto& keys : issuers_) {
            if (!keys->remote()) continue;
            if (keys->fetch_due(now)) {
                due.push_back(keys.get());
            } else {
                next = std::min(next, keys->next_fetch_due());
            }
        }
        if (due.empty()) {
            refresher_wake_.wait_until(lock, next,
                                       [this] { return stopping_ || refresher_woken_; });
            refresher_woken_ = false;
            continue;
        }
        lock.unlock();
        for (IssuerKeys* keys : due) keys->fetch_now(SteadyClock::now());
        lock.lock();
    }
}

}  // namespace sluice
