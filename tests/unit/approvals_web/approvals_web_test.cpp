// The approvers' web page, piece by piece: PKCE and tokens, form and cookie parsing, sessions
// and logins (once, bounded, expiring), and the pages (escaped, CSRF token in every form, no
// more of the prompt than the masked excerpt).
#include <gtest/gtest.h>

#include "agent/approvals_web/approval_pages.h"
#include "agent/approvals_web/form_data.h"
#include "agent/approvals_web/web_sessions.h"
#include "agent/approvals_web/web_tokens.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;

TEST(WebTokens, PkceChallengeMatchesRfc7636AppendixB) {
    EXPECT_EQ(pkce_s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
              "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

TEST(WebTokens, RandomTokensAreLongAndDistinct) {
    const std::string a = random_token();
    EXPECT_EQ(a.size(), 43u);  // 32 bytes, base64url
    EXPECT_NE(a, random_token());
    EXPECT_TRUE(tokens_equal(a, a));
    EXPECT_FALSE(tokens_equal(a, a.substr(1)));
    EXPECT_FALSE(tokens_equal("", "")) << "an empty token never matches";
}

TEST(FormData, ParsesWhatBrowsersSend) {
    auto form = parse_form("csrf=abc&reason=change+ticket+%2342&for=");
    ASSERT_TRUE(form);
    EXPECT_EQ((*form)["csrf"], "abc");
    EXPECT_EQ((*form)["reason"], "change ticket #42");
    EXPECT_EQ((*form)["for"], "");
}

TEST(FormData, RefusesWhatIsAmbiguousOrMalformed) {
    EXPECT_FALSE(parse_form("csrf=a&csrf=b")) << "a field twice";
    EXPECT_FALSE(parse_form("reason=%zz"));
    EXPECT_FALSE(parse_form("reason=%4"));
    std::string many;
    for (std::size_t i = 0; i <= kMaxFormFields; ++i) many += "f" + std::to_string(i) + "=x&";
    EXPECT_FALSE(parse_form(many));
}

TEST(FormData, EncodesAndReadsCookies) {
    EXPECT_EQ(url_encode("https://a.test/cb?x=1"), "https%3A%2F%2Fa.test%2Fcb%3Fx%3D1");
    EXPECT_EQ(cookie_value("a=1; sluice_session=s3; b=2", "sluice_session"), "s3");
    EXPECT_EQ(cookie_value("xsluice_session=s3", "sluice_session"), "");
}

class Sessions : public ::testing::Test {
protected:
    WebSessions::Clock::time_point now_{};
    WebSessions sessions_{1h, [this] { return now_; }};
};

PendingLogin oidc_login(std::string verifier, std::string nonce) {
    PendingLogin login;
    login.verifier = std::move(verifier);
    login.nonce = std::move(nonce);
    login.return_to = "/approvals";
    return login;
}

TEST_F(Sessions, ALoginStateWorksOnceAndExpires) {
    const std::string state = sessions_.begin_login(oidc_login("verifier", "nonce"));
    auto login = sessions_.take_login(state);
    ASSERT_TRUE(login);
    EXPECT_EQ(login->verifier, "verifier");
    EXPECT_FALSE(sessions_.take_login(state)) << "once";
    const std::string late = sessions_.begin_login(oidc_login("v", "n"));
    now_ += WebSessions::kLoginLifetime;
    EXPECT_FALSE(sessions_.take_login(late));
}

TEST_F(Sessions, ASessionHasItsOwnCsrfTokenAndEnds) {
    Approver dana;
    dana.name = "dana";
    const std::string a = sessions_.create_session(dana);
    const std::string b = sessions_.create_session(dana);
    ASSERT_TRUE(sessions_.session(a));
    EXPECT_NE(sessions_.session(a)->csrf_token, sessions_.session(b)->csrf_token);
    sessions_.end_session(a);
    EXPECT_FALSE(sessions_.session(a));
    now_ += 1h;
    EXPECT_FALSE(sessions_.session(b)) << "expired";
}

TEST_F(Sessions, AreBoundedOldestFirst) {
    const std::string first = sessions_.create_session(Approver{});
    now_ += 1s;
    for (std::size_t i = 1; i < WebSessions::kMaxSessions; ++i)
        sessions_.create_session(Approver{});
    EXPECT_TRUE(sessions_.session(first));
    sessions_.create_session(Approver{});
    EXPECT_FALSE(sessions_.session(first));
}

nlohmann::json held_json() {
    return {{"id", "ap-00000000abcd"},
            {"state", "held"},
            {"requester", {{"uid", 1001}, {"user", "<script>alice</script>"}}},
            {"rule", "prod"},
            {"reason", "rule prod requires human approval"},
            {"method", "POST"},
            {"path", "/v1/chat/completions"},
            {"model", "gpt-4o"},
            {"excerpt", "deploy to production [EMAIL]"},
            {"body_sha256", "ab"},
            {"min_approvers", 2},
            {"approvals", {"root"}},
            {"waiting_s", 3},
            {"times_out_in_s", 57}};
}

TEST(ApprovalPages, ListShowsWhoWhatWhyAndAgeEscaped) {
    const std::string page = render_list_page(nlohmann::json::array({held_json()}),
                                              PageContext{"dana", "csrf-1", "", false});
    EXPECT_NE(page.find("href=\"/approvals/ap-00000000abcd\""), std::string::npos);
    EXPECT_NE(page.find("&lt;script&gt;alice&lt;/script&gt;"), std::string::npos);
    EXPECT_EQ(page.find("<script>"), std::string::npos);
    EXPECT_NE(page.find("deploy to production [EMAIL]"), std::string::npos);
    EXPECT_NE(page.find("1 of 2"), std::string::npos);
    EXPECT_NE(page.find("3 s"), std::string::npos);
}

TEST(ApprovalPages, EveryFormCarriesTheCsrfToken) {
    const std::string page =
        render_detail_page(held_json(), PageContext{"dana", "csrf-1", "", false});
    std::size_t forms = 0;
    for (std::size_t at = page.find("<form"); at != std::string::npos;
         at = page.find("<form", at + 1)) {
        ++forms;
        const std::size_t end = page.find("</form>", at);
        EXPECT_NE(page.substr(at, end - at).find("name=\"csrf\" value=\"csrf-1\""),
                  std::string::npos);
    }
    EXPECT_EQ(forms, 2u) << "decide and sign out";
    EXPECT_NE(page.find("value=\"approve\""), std::string::npos);
    EXPECT_NE(page.find("value=\"deny\""), std::string::npos);
}

TEST(ApprovalPages, ADecidedRequestHasNoForm) {
    nlohmann::json decided = held_json();
    decided["state"] = "approved";
    const std::string page = render_detail_page(decided, PageContext{"dana", "c", "", false});
    EXPECT_EQ(page.find("/decide"), std::string::npos);
}

}  // namespace
}  // namespace sluice
