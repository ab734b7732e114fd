#include "agent/notify/webhook_notifier.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "agent/notify/held_notice.h"
#include "agent/oidc/https_post.h"
#include "agent/tls/upstream_tls.h"

namespace sluice {

namespace net = boost::asio;

namespace {

// A receiver's answer is small; anything longer is not read.
constexpr std::size_t kMaxAnswerBytes = 64 * 1024;

}  // namespace

WebhookNotifier::WebhookNotifier(WebhookOptions options, Report report)
    : options_(std::move(options)), report_(std::move(report)), work_(io_.get_executor()) {
    auto parsed = parse_https_url(options_.url);
    if (!parsed)
        throw std::runtime_error("approvals.notify.webhook: not an https://host[:port]/path URL");
    url_ = *parsed;
    origin_ = https_origin(url_);
    std::shared_ptr<SSL_CTX> native;
    try {
        native = make_upstream_client_context(options_.ca_file);
    } catch (const std::exception& e) {
        throw std::runtime_error(std::string("approvals.notify.ca_file: ") + e.what());
    }
    SSL_CTX_up_ref(native.get());  // asio's context frees its handle; give it its own reference
    tls_ = std::make_unique<net::ssl::context>(native.get());
    thread_ = std::thread([this] { io_.run(); });
}

WebhookNotifier::~WebhookNotifier() {
    work_.reset();
    io_.stop();  // notices not yet delivered are dropped: holds end with sluiced anyway
    if (thread_.joinable()) thread_.join();
}

void WebhookNotifier::notify(const std::string& id, const HeldRequest& request) {
    NoticeOutcome outcome;
    outcome.approval_id = id;
    outcome.request_id = request.request_id;
    if (pending_.fetch_add(1) >= kMaxPending) {
        pending_.fetch_sub(1);
        outcome.error = "dropped: " + std::to_string(kMaxPending) + " notices already waiting";
        report_(outcome);
        return;
    }
    std::string body = slack_held_notice(id, request, options_.page_url).dump();
    net::co_spawn(io_, deliver(std::move(outcome), std::move(body)), net::detached);
}

net::awaitable<void> WebhookNotifier::deliver(NoticeOutcome outcome, std::string body) {
    HttpsFetchOptions fetch;
    fetch.ca_file = options_.ca_file;
    fetch.max_body_bytes = kMaxAnswerBytes;
    fetch.deadline = options_.timeout;
    std::chrono::milliseconds backoff = options_.initial_backoff;
    net::steady_timer timer(io_);
    for (outcome.attempts = 1;; ++outcome.attempts) {
        // A named argument: GCC 12 frees a braced temporary in a co_await twice.
        HttpsPost post{url_, "application/json", body, {}};
        HttpsPostResult result = co_await https_post(*tls_, std::move(post), fetch);
        if (result.ok()) {
            outcome.delivered = true;
            break;
        }
        outcome.error = result.error.empty()
                            ? "POST " + origin_ + ": answered " + std::to_string(result.status)
                            : result.error;
        if (outcome.attempts >= options_.attempts) break;
        spdlog::warn("approval {}: notice attempt {} of {} failed ({}); retrying in {} ms",
                     outcome.approval_id, outcome.attempts, options_.attempts, outcome.error,
                     backoff.count());
        timer.expires_after(backoff);
        co_await timer.async_wait(net::use_awaitable);
        backoff = std::min(backoff * 2, options_.max_backoff);
    }
    pending_.fetch_sub(1);
    report_(outcome);
}

}  // namespace sluice
