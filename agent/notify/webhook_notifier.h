// Sends the chat notice of each newly held request to the configured webhook, off the data
// path: notify() only queues it for this object's own thread, which POSTs it and retries a
// failure (a connection error or a non-2xx answer) with exponential backoff. The hold never
// waits for a notice; each notice's outcome is reported (the daemon audits it) without the
// webhook's URL, which is a secret: only its scheme, host and port are ever named.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "agent/approvals/approval_registry.h"
#include "agent/oidc/https_fetch.h"

namespace sluice {

struct WebhookOptions {
    std::string url;  // https://
    std::string ca_file;
    int attempts = 5;
    std::chrono::milliseconds initial_backoff{1000};  // doubled per failure, capped below
    std::chrono::milliseconds max_backoff{60'000};
    std::chrono::milliseconds timeout{10'000};  // per attempt
    std::string page_url;                       // the approvers' web page, for the link
};

struct NoticeOutcome {
    std::string approval_id;
    std::string request_id;
    bool delivered = false;
    int attempts = 0;
    std::string error;  // the last failure ("" when delivered at once); never the URL's path
};

class WebhookNotifier {
public:
    using Report = std::function<void(const NoticeOutcome&)>;  // on the notifier's thread

    // Throws std::runtime_error (one line, without the URL's path) for a URL that is not
    // https:// or an unreadable ca_file.
    WebhookNotifier(WebhookOptions options, Report report);
    ~WebhookNotifier();
    WebhookNotifier(const WebhookNotifier&) = delete;
    WebhookNotifier& operator=(const WebhookNotifier&) = delete;

    // Queues the notice; never blocks. Beyond kMaxPending undelivered notices the new one is
    // dropped and reported as such.
    void notify(const std::string& id, const HeldRequest& request);

    // Where notices go, as logs may name it: https://host:port.
    const std::string& origin() const { return origin_; }

    static constexpr std::size_t kMaxPending = 1000;

private:
    boost::asio::awaitable<void> deliver(NoticeOutcome outcome, std::string body);

    const WebhookOptions options_;
    const Report report_;
    HttpsUrl url_;
    std::string origin_;
    std::unique_ptr<boost::asio::ssl::context> tls_;
    boost::asio::io_context io_{1};
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
    std::atomic<std::size_t> pending_{0};
    std::thread thread_;
};

}  // namespace sluice
