// The chat notice of a held request: its Slack shape (what an approver reads, never the
// prompt), and its delivery to a real HTTPS receiver: retried with backoff until it answers 2xx,
// reported (for the audit) without the webhook URL's secret path.
#include "agent/notify/webhook_notifier.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

#include "agent/notify/held_notice.h"
#include "agent/tls/certificate_authority.h"
#include "tests/unit/oidc/https_test_server.h"
#include "tests/unit/tls/tls_test_support.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;

HeldRequest held_request() {
    HeldRequest held;
    held.request_id = "req-7";
    held.requester.uid = 1001;
    held.requester.user = "alice";
    held.requester.oidc_subject = "sub-<alice>";
    held.requester.describe = {{"exe", "/usr/bin/node"}, {"unit", "ci.service"}};
    held.rule = "prod";
    held.reason = "rule prod requires human approval (prompt matches pattern deploy)";
    held.method = "POST";
    held.path = "/v1/chat/completions";
    held.model = "gpt-4o";
    held.body_hash = std::string(64, 'a');
    return held;
}

TEST(HeldNotice, HasSlacksShapeWithWhoWhatWhyAndALinkToTheDetailView) {
    const auto notice = slack_held_notice("ap-1", held_request(), "https://approve.test:8443");
    ASSERT_TRUE(notice["text"].is_string());
    const std::string text = notice["text"];
    EXPECT_NE(text.find("ap-1"), std::string::npos) << text;
    EXPECT_NE(text.find("alice (uid 1001)"), std::string::npos) << text;
    EXPECT_NE(text.find("gpt-4o"), std::string::npos) << text;
    EXPECT_NE(text.find("rule prod"), std::string::npos) << text;
    ASSERT_TRUE(notice["blocks"].is_array());
    EXPECT_EQ(notice["blocks"][0]["type"], "section");
    EXPECT_EQ(notice["blocks"][0]["text"]["type"], "mrkdwn");
    const std::string details = notice["blocks"][0]["text"]["text"];
    EXPECT_NE(details.find("pattern deploy"), std::string::npos) << details;
    EXPECT_NE(details.find("sub-&lt;alice&gt;"), std::string::npos) << "escaped: " << details;
    EXPECT_EQ(notice["blocks"][1]["elements"][0]["url"],
              "https://approve.test:8443/approvals/ap-1");
    EXPECT_EQ(notice.dump().find(std::string(64, 'a')), std::string::npos)
        << "nothing derived from the body";
}

TEST(HeldNotice, WithoutAWebPageItNamesTheCommand) {
    const auto notice = slack_held_notice("ap-2", held_request(), "");
    EXPECT_EQ(notice.dump().find("https://"), std::string::npos);
    EXPECT_NE(notice.dump().find("sluicectl approvals approve|deny ap-2"), std::string::npos);
}

class WebhookDelivery : public ::testing::Test {
protected:
    test::HttpReply reply(const std::string&) {
        std::lock_guard lock(mutex_);
        ++hits_;
        return hits_ <= failures_ ? test::HttpReply{500, "no"} : test::HttpReply{200, "ok"};
    }
    WebhookOptions options(const std::string& target) {
        WebhookOptions o;
        o.url = server_.url(target);
        o.ca_file = ca_.ca_cert_path();
        o.attempts = 3;
        o.initial_backoff = 50ms;
        o.timeout = 5s;
        return o;
    }
    NoticeOutcome wait_for_outcome() {
        std::unique_lock lock(mutex_);
        EXPECT_TRUE(reported_.wait_for(lock, 10s, [&] { return outcome_.has_value(); }));
        return outcome_.value_or(NoticeOutcome{});
    }
    WebhookNotifier::Report report() {
        return [this](const NoticeOutcome& outcome) {
            std::lock_guard lock(mutex_);
            outcome_ = outcome;
            reported_.notify_all();
        };
    }

    test::TempDir dir_;
    CertificateAuthority ca_ = CertificateAuthority::load_or_create(dir_.path(), {"localhost"});
    std::mutex mutex_;
    std::condition_variable reported_;
    int hits_ = 0;      // guarded
    int failures_ = 0;  // guarded
    std::optional<NoticeOutcome> outcome_;
    test::HttpsTestServer server_{ca_.server_context_for("localhost"),
                                  [this](const std::string& target) { return reply(target); }};
};

TEST_F(WebhookDelivery, AReceiverThatFailsTwiceGetsTheNoticeOnTheThirdAttempt) {
    failures_ = 2;
    WebhookNotifier notifier(options("/services/T000/B000/secret-token"), report());
    const auto started = std::chrono::steady_clock::now();
    notifier.notify("ap-1", held_request());
    const NoticeOutcome outcome = wait_for_outcome();
    EXPECT_TRUE(outcome.delivered);
    EXPECT_EQ(outcome.attempts, 3);
    EXPECT_EQ(outcome.approval_id, "ap-1");
    EXPECT_EQ(outcome.request_id, "req-7");
    EXPECT_GE(std::chrono::steady_clock::now() - started, 150ms) << "backoff 50 ms, then 100 ms";
    EXPECT_EQ(server_.hits("/services/T000/B000/secret-token"), 3);
}

TEST_F(WebhookDelivery, AReceiverThatNeverAnswersWellIsReportedWithoutTheSecretPath) {
    failures_ = 100;
    WebhookNotifier notifier(options("/services/T000/B000/secret-token"), report());
    notifier.notify("ap-2", held_request());
    const NoticeOutcome outcome = wait_for_outcome();
    EXPECT_FALSE(outcome.delivered);
    EXPECT_EQ(outcome.attempts, 3);
    EXPECT_NE(outcome.error.find("answered 500"), std::string::npos) << outcome.error;
    EXPECT_NE(outcome.error.find("https://localhost:"), std::string::npos) << outcome.error;
    EXPECT_EQ(outcome.error.find("secret-token"), std::string::npos) << outcome.error;
    EXPECT_EQ(notifier.origin().find("secret-token"), std::string::npos);
}

TEST_F(WebhookDelivery, AnUntrustedReceiverIsAFailureNotADelivery) {
    WebhookOptions o = options("/hook");
    o.ca_file.clear();  // the test CA is not in the system store
    o.attempts = 1;
    WebhookNotifier notifier(o, report());
    notifier.notify("ap-3", held_request());
    const NoticeOutcome outcome = wait_for_outcome();
    EXPECT_FALSE(outcome.delivered);
    EXPECT_NE(outcome.error.find("TLS handshake"), std::string::npos) << outcome.error;
    EXPECT_EQ(server_.hits("/hook"), 0);
}

TEST(WebhookNotifierSetup, RefusesAUrlThatIsNotHttpsWithoutEchoingIt) {
    WebhookOptions o;
    o.url = "http://hooks.test/services/secret-token";
    try {
        WebhookNotifier notifier(o, [](const NoticeOutcome&) {});
        ADD_FAILURE() << "accepted http://";
    } catch (const std::runtime_error& e) {
        EXPECT_EQ(std::string(e.what()).find("secret-token"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace sluice
