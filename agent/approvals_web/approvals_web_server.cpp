#include "agent/approvals_web/approvals_web_server.h"

#include <cctype>

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>

#include "agent/approvals_web/approval_pages.h"
#include "agent/approvals_web/form_data.h"
#include "agent/approvals_web/private_file.h"
#include "agent/approvals_web/web_tokens.h"
#include "agent/common/duration_text.h"
#include "agent/oidc/https_fetch.h"

namespace sluice {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

constexpr std::size_t kMaxHeaderBytes = 16 * 1024;
// A SAML Response POSTed to /saml/acs is the largest body: a signed assertion, the IdP's
// certificate and attributes, base64-encoded (typically 5 to 15 KiB).
constexpr std::size_t kMaxBodyBytes = 64 * 1024;
constexpr std::size_t kMaxReasonBytes = 500;
constexpr std::chrono::seconds kHandshakeDeadline{10};
constexpr std::chrono::seconds kRequestDeadline{30};
constexpr const char* kSessionCookie = "sluice_session";
constexpr const char* kLoginCookie = "sluice_login";
constexpr const char* kSamlLoginCookie = "sluice_saml_login";

inline auto use_ec(beast::error_code& ec) { return net::redirect_error(net::use_awaitable, ec); }

// The page lives at the root of its origin: its routes and cookie paths are absolute.
std::string origin_of(const std::string& url) {
    const auto parsed = parse_https_url(url);
    if (!parsed || parsed->target != "/") return "";
    const bool v6 = parsed->host.find(':') != std::string::npos;
    std::string origin = "https://" + (v6 ? "[" + parsed->host + "]" : parsed->host);
    if (parsed->port != 443) origin += ":" + std::to_string(parsed->port);
    return origin;
}

// Where a login may return to: a page of ours, never another site (no open redirect).
bool safe_return_path(const std::string& path) {
    if (path.rfind("/approvals", 0) != 0 || path.size() > 200) return false;
    for (char c : path)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '/' && c != '-' && c != '_')
            return false;
    return true;
}

std::string cookie(const char* name, const std::string& value, const char* same_site,
                   const char* path, long max_age_s) {
    return std::string(name) + "=" + value + "; Path=" + path +
           "; Max-Age=" + std::to_string(max_age_s) + "; HttpOnly; Secure; SameSite=" + same_site;
}

// The fixed sentences a decision's redirect may ask for: nothing the client wrote is echoed.
std::string notice_text(const std::string& key) {
    if (key == "approved") return "Approved: the request goes on.";
    if (key == "partially_approved") return "Your approval is counted; more approvers are needed.";
    if (key == "denied") return "Denied: the client was told.";
    return "";
}

}  // namespace

ApprovalsWebServer::ApprovalsWebServer(const ApprovalWebConfig& config, std::string base_url,
                                       ApprovalRegistry& approvals, ApprovalDecided decided,
                                       WebSignInObserver signed_in)
    : config_(config),
      base_url_(base_url.back() == '/' ? base_url : base_url + "/"),
      origin_(origin_of(base_url_)),
      approvals_(approvals),
      decided_(std::move(decided)),
      sign_in_observer_(std::move(signed_in)),
      sessions_(std::chrono::seconds(config.session_s)),
      tls_(net::ssl::context::tls_server) {
    if (origin_.empty())
        throw std::runtime_error("approvals.web.url: must be https://host[:port]/ (no path)");
    tls_.set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                     net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                     net::ssl::context::no_tlsv1_1 | net::ssl::context::no_compression);
    require_private_file(config.key_file, "approvals.web.key_file");
    try {
        tls_.use_certificate_chain_file(config.cert_file);
        tls_.use_private_key_file(config.key_file, net::ssl::context::pem);
    } catch (const std::exception& e) {
        throw std::runtime_error("approvals.web.cert_file/key_file: " + std::string(e.what()));
    }
    if (config.oidc_enabled()) oidc_ = std::make_unique<OidcLogin>(config, base_url_ + "callback");
    if (config.saml.enabled()) saml_ = std::make_unique<SamlLogin>(config.saml, base_url_);
    server_.listen(config.listen->host, config.listen->port, "approvals.web.listen");
}

ApprovalsWebServer::~ApprovalsWebServer() { stop(); }

void ApprovalsWebServer::start() {
    server_.start([this](tcp::socket socket) { accept(std::move(socket)); });
}

void ApprovalsWebServer::stop() { server_.stop(); }

void ApprovalsWebServer::accept(tcp::socket socket) {
    if (connections_ >= kMaxConnections) return;  // closed by going out of scope
    ++connections_;
    net::co_spawn(server_.io(), serve(std::move(socket)),
                  [this](std::exception_ptr) { --connections_; });
}

net::awaitable<void> ApprovalsWebServer::serve(tcp::socket socket) {
    beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), tls_);
    beast::error_code ec;
    beast::get_lowest_layer(stream).expires_after(kHandshakeDeadline);
    co_await stream.async_handshake(net::ssl::stream_base::server, use_ec(ec));
    if (ec) co_return;
    beast::flat_buffer buffer;
    for (;;) {
        beast::get_lowest_layer(stream).expires_after(kRequestDeadline);
        http::request_parser<http::string_body> parser;
        parser.header_limit(kMaxHeaderBytes);
        parser.body_limit(kMaxBodyBytes);
        co_await http::async_read(stream, buffer, parser, use_ec(ec));
        if (ec) co_return;
        const Request& request = parser.get();
        Response response;
        try {
            response = co_await handle(request);
        } catch (const std::exception& e) {
            spdlog::error("approvals web: {} {}: {}", std::string(request.method_string()),
                          std::string(request.target()), e.what());
            response = Response{http::status::internal_server_error, 11};
            response.set(http::field::content_type, "text/plain");
            response.body() = "internal error\n";
        }
        // Nothing here may be framed, cached, sniffed or reached by script from elsewhere.
        response.set("Content-Security-Policy",
                     "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                     "frame-ancestors 'none'; base-uri 'none'");
        response.set("X-Frame-Options", "DENY");
        response.set("X-Content-Type-Options", "nosniff");
        // Not no-referrer: with it browsers send `Origin: null` on our own form POSTs.
        response.set("Referrer-Policy", "same-origin");
        response.set(http::field::cache_control, "no-store");
        response.set("Strict-Transport-Security", "max-age=31536000");
        response.version(11);
        response.keep_alive(request.keep_alive());
        response.prepare_payload();
        co_await http::async_write(stream, response, use_ec(ec));
        if (ec || !response.keep_alive()) break;
    }
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
    co_await stream.async_shutdown(use_ec(ec));
}

namespace {

ApprovalsWebServer::Response html(http::status status, std::string body) {
    ApprovalsWebServer::Response response{status, 11};
    response.set(http::field::content_type, "text/html; charset=utf-8");
    response.body() = std::move(body);
    return response;
}

ApprovalsWebServer::Response redirect(const std::string& location) {
    ApprovalsWebServer::Response response{http::status::see_other, 11};
    response.set(http::field::location, location);
    return response;
}

}  // namespace

std::optional<WebSession> ApprovalsWebServer::session_of(const Request& request) {
    const std::string id = cookie_value(request[http::field::cookie], kSessionCookie);
    if (id.empty()) return std::nullopt;
    return sessions_.session(id);
}

bool ApprovalsWebServer::post_is_ours(const Request& request, const WebSession& session,
                                      const std::map<std::string, std::string>& form) const {
    const auto origin = request[http::field::origin];
    if (!origin.empty() && origin != origin_) {
        spdlog::warn("approvals web: a POST from origin {} refused (this page is {})",
                     std::string(origin), origin_);
        return false;
    }
    const auto csrf = form.find("csrf");
    return csrf != form.end() && tokens_equal(csrf->second, session.csrf_token);
}

// GCC 12 misreads asio's awaitable frame allocator in this coroutine (as in
// agent/proxy/client_connection.cpp): a false -Wmismatched-new-delete.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
net::awaitable<ApprovalsWebServer::Response> ApprovalsWebServer::handle(const Request& request) {
    const std::string target(request.target());
    const std::size_t question = target.find('?');
    const std::string path = target.substr(0, question);
    auto query = parse_form(
        question == std::string::npos ? "" : std::string_view(target).substr(question + 1));
    if (!query)
        co_return html(http::status::bad_request,
                       render_message_page("Bad request", "The address is malformed.", false));
    const bool get = request.method() == http::verb::get;
    const bool post = request.method() == http::verb::post;

    if (get && (path == "/" || path.empty())) co_return redirect("/approvals");
    if (get && path == "/login") co_return login(request, *query);
    if (get && path == "/callback" && oidc_) co_return co_await callback(request, *query);
    if (saml_ && get && path == "/saml/login") co_return saml_login(*query);
    if (saml_ && post && path == "/saml/acs") co_return saml_acs(request);
    if (saml_ && get && path == "/saml/metadata") {
        Response out{http::status::ok, 11};
        out.set(http::field::content_type, "application/samlmetadata+xml");
        out.body() = saml_->sp_metadata();
        co_return out;
    }

    const std::optional<WebSession> session = session_of(request);
    if (!session) {
        if (get && safe_return_path(path)) co_return redirect("/login?return=" + url_encode(path));
        co_return html(
            http::status::forbidden,
            render_message_page("Sign in first", "This needs a signed-in approver.", true));
    }
    PageContext context{session->approver.name, session->csrf_token, "", false};
    if (auto it = query->find("done"); it != query->end()) context.notice = notice_text(it->second);
    if (get && path == "/approvals") {
        co_return html(http::status::ok, render_list_page(approvals_.list(), context));
    }
    constexpr std::string_view kPrefix = "/approvals/";
    if (path.rfind(kPrefix, 0) == 0) {
        std::string rest = path.substr(kPrefix.size());
        constexpr std::string_view kDecide = "/decide";
        if (post && rest.size() > kDecide.size() &&
            rest.compare(rest.size() - kDecide.size(), kDecide.size(), kDecide) == 0) {
            co_return decide(request, *session, rest.substr(0, rest.size() - kDecide.size()));
        }
        if (get && rest.find('/') == std::string::npos) {
            auto shown = approvals_.show(rest);
            if (!shown)
                co_return html(
                    http::status::not_found,
                    render_message_page("Not found", "No held or timed-out request has that id.",
                                        false));
            co_return html(http::status::ok, render_detail_page(*shown, context));
        }
    }
    if (post && path == "/logout") {
        auto form = parse_form(request.body());
        if (!form || !post_is_ours(request, *session, *form))
            co_return html(http::status::forbidden,
                           render_message_page(
                               "Refused", "The form's CSRF token is missing or wrong.", false));
        sessions_.end_session(cookie_value(request[http::field::cookie], kSessionCookie));
        Response out =
            html(http::status::ok, render_message_page("Signed out", "You are signed out.", true));
        out.set(http::field::set_cookie, cookie(kSessionCookie, "", "Strict", "/", 0));
        co_return out;
    }
    co_return html(http::status::not_found,
                   render_message_page("Not found", "There is no such page.", false));
}
#pragma GCC diagnostic pop

namespace {

std::string return_path(const std::map<std::string, std::string>& query) {
    auto it = query.find("return");
    return it != query.end() && safe_return_path(it->second) ? it->second : "/approvals";
}

}  // namespace

ApprovalsWebServer::Response ApprovalsWebServer::login(
    const Request&, const std::map<std::string, std::string>& query) {
    auto via = query.find("via");
    const bool oidc_asked = via != query.end() && via->second == "oidc";
    if (!oidc_) return saml_login(query);
    if (saml_ && !oidc_asked)
        return html(http::status::ok, render_sign_in_choice_page(return_path(query)));
    PendingLogin pending;
    pending.verifier = random_token(48);
    pending.nonce = random_token();
    pending.return_to = return_path(query);
    const std::string challenge = pkce_s256_challenge(pending.verifier);
    const std::string nonce = pending.nonce;
    const std::string state = sessions_.begin_login(std::move(pending));
    std::string error;
    auto url = oidc_->authorization_url(state, challenge, nonce, error);
    if (!url) {
        spdlog::error("approvals web: sign-in unavailable: {}", error);
        return html(http::status::service_unavailable,
                    render_message_page("Sign-in unavailable",
                                        "The identity provider cannot be reached; try again later.",
                                        false));
    }
    Response out = redirect(*url);
    // Lax: it must come back with the IdP's (cross-site) redirect to /callback.
    out.set(http::field::set_cookie, cookie(kLoginCookie, state, "Lax", "/callback", 600));
    return out;
}

// The same false -Wmismatched-new-delete as handle() above.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
net::awaitable<ApprovalsWebServer::Response> ApprovalsWebServer::callback(
    const Request& request, const std::map<std::string, std::string>& query) {
    auto refuse = [](http::status status, std::string_view why) {
        return html(status, render_message_page("Sign-in failed", why, true));
    };
    const auto state = query.find("state");
    const auto code = query.find("code");
    const std::string browser_state = cookie_value(request[http::field::cookie], kLoginCookie);
    // The state must be the one this browser was given, and is good once.
    if (state == query.end() || !tokens_equal(state->second, browser_state))
        co_return refuse(http::status::bad_request, "This sign-in was not started here.");
    std::optional<PendingLogin> pending = sessions_.take_login(state->second);
    if (!pending) co_return refuse(http::status::bad_request, "This sign-in has expired.");
    if (code == query.end())
        co_return refuse(http::status::forbidden, "The identity provider refused.");
    OidcLoginResult result =
        co_await oidc_->finish(code->second, pending->verifier, pending->nonce);
    if (!result.approver) {
        spdlog::warn("approvals web: sign-in failed: {}", result.error);
        // Named first: GCC 12 mishandles braced temporaries in coroutines.
        WebSignIn refused{false, "web_oidc", "", "", config_.oidc_issuer, result.error};
        observe_sign_in(std::move(refused));
        co_return refuse(http::status::forbidden,
                         "The identity provider's answer was not accepted.");
    }
    const std::string how = "OIDC subject " + result.approver->oidc_subject;
    co_return signed_in(std::move(*result.approver), pending->return_to, how,
                        cookie(kLoginCookie, "", "Lax", "/callback", 0));
}
#pragma GCC diagnostic pop

ApprovalsWebServer::Response ApprovalsWebServer::signed_in(Approver approver,
                                                           const std::string& return_to,
                                                           const std::string& how,
                                                           const std::string& clear_login_cookie) {
    const bool saml = approver.signed_in_with_saml();
    WebSignIn seen{false,
                   approver.via,
                   approver.name,
                   saml ? approver.saml_name_id : approver.oidc_subject,
                   saml ? approver.saml_idp : approver.oidc_issuer,
                   ""};
    if (!approvals_.may_approve(approver)) {
        spdlog::warn("approvals web: {} ({}) signed in but is in no approver group", approver.name,
                     how);
        seen.reason = "not in an approver group";
        observe_sign_in(std::move(seen));
        Response out =
            html(http::status::forbidden,
                 render_message_page("Not an approver",
                                     approver.name + " is not in an approver group.", false));
        out.set(http::field::set_cookie, clear_login_cookie);
        return out;
    }
    spdlog::info("approvals web: {} ({}) signed in", approver.name, how);
    seen.accepted = true;
    observe_sign_in(std::move(seen));
    const std::string id = sessions_.create_session(std::move(approver));
    Response out = html(http::status::ok, render_continue_page(return_to));
    out.insert(http::field::set_cookie,
               cookie(kSessionCookie, id, "Strict", "/", static_cast<long>(config_.session_s)));
    out.insert(http::field::set_cookie, clear_login_cookie);
    return out;
}

void ApprovalsWebServer::observe_sign_in(WebSignIn sign_in) const {
    if (sign_in_observer_) sign_in_observer_(sign_in);
}

ApprovalsWebServer::Response ApprovalsWebServer::saml_login(
    const std::map<std::string, std::string>& query) {
    std::string error;
    std::optional<SamlLoginStart> started = saml_->start(error);
    if (!started) {
        spdlog::error("approvals web: SAML sign-in unavailable: {}", error);
        return html(
            http::status::service_unavailable,
            render_message_page("Sign-in unavailable",
                                "The SAML request could not be made; see sluiced's log.", false));
    }
    PendingLogin pending;
    pending.saml_request_id = started->request_id;
    pending.return_to = return_path(query);
    const std::string state = sessions_.begin_login(std::move(pending));
    Response out = redirect(started->redirect_url);
    // SameSite=None: the IdP's answer is a cross-site POST, which Lax cookies do not follow.
    // Secure, HttpOnly, good for one answer and ten minutes, and only sent to /saml/acs.
    out.set(http::field::set_cookie, cookie(kSamlLoginCookie, state, "None", "/saml/acs", 600));
    return out;
}

ApprovalsWebServer::Response ApprovalsWebServer::saml_acs(const Request& request) {
    const std::string clear = cookie(kSamlLoginCookie, "", "None", "/saml/acs", 0);
    auto refuse = [&](http::status status, std::string_view why) {
        Response out = html(status, render_message_page("Sign-in failed", why, true));
        out.set(http::field::set_cookie, clear);
        return out;
    };
    const auto form = parse_form(request.body());
    if (!form || !form->contains("SAMLResponse")) {
        observe_sign_in({false, "web_saml", "", "", saml_->idp_entity_id(), "malformed answer"});
        return refuse(http::status::bad_request, "The identity provider's answer is malformed.");
    }
    // A login this browser started, and only once: no cookie or a spent one is unsolicited.
    const std::string state = cookie_value(request[http::field::cookie], kSamlLoginCookie);
    std::optional<PendingLogin> pending =
        state.empty() ? std::nullopt : sessions_.take_login(state);
    if (!pending || pending->saml_request_id.empty()) {
        spdlog::warn(
            "approvals web: SAML sign-in refused: a response to no sign-in started "
            "in this browser (unsolicited, replayed or expired)");
        observe_sign_in({false, "web_saml", "", "", saml_->idp_entity_id(),
                         "no sign-in started in this browser (unsolicited, replayed or expired)"});
        return refuse(http::status::bad_request, "This sign-in was not started here.");
    }
    SamlLoginResult result = saml_->finish(form->at("SAMLResponse"), pending->saml_request_id);
    if (!result.approver) {
        spdlog::warn("approvals web: SAML sign-in refused: {}", result.error);
        observe_sign_in({false, "web_saml", "", "", saml_->idp_entity_id(), result.error});
        return refuse(http::status::forbidden, "The identity provider's answer was not accepted.");
    }
    const std::string how =
        "SAML NameID " + result.approver->saml_name_id + " from " + result.approver->saml_idp;
    return signed_in(std::move(*result.approver), pending->return_to, how, clear);
}

ApprovalsWebServer::Response ApprovalsWebServer::decide(const Request& request,
                                                        const WebSession& session,
                                                        const std::string& id) {
    auto form = parse_form(request.body());
    if (!form || !post_is_ours(request, session, *form)) {
        spdlog::warn("approvals web: a decision on {} by {} refused: no valid CSRF token", id,
                     session.approver.name);
        return html(
            http::status::forbidden,
            render_message_page("Refused", "The form's CSRF token is missing or wrong.", false));
    }
    PageContext context{session.approver.name, session.csrf_token, "", true};
    auto show_error = [&](http::status status, std::string why) {
        context.notice = std::move(why);
        auto shown = approvals_.show(id);
        if (!shown)
            return html(http::status::not_found,
                        render_message_page("Not found", context.notice, false));
        return html(status, render_detail_page(*shown, context));
    };
    const std::string& decision = (*form)["decision"];
    if (decision != "approve" && decision != "deny")
        return show_error(http::status::bad_request, "Choose approve or deny.");
    const std::string& reason = (*form)["reason"];
    if (reason.size() > kMaxReasonBytes)
        return show_error(http::status::bad_request, "The reason is too long.");
    std::chrono::seconds scope_for{0};
    if (const std::string& text = (*form)["for"]; !text.empty()) {
        const auto parsed = parse_duration(text);
        if (!parsed || decision == "deny")
            return show_error(http::status::bad_request, "That scope is not one offered.");
        scope_for = *parsed;
    }
    ApprovalRegistry::DecideOutcome outcome =
        approvals_.decide(id, session.approver, decision == "approve", reason, scope_for);
    if (!outcome.ok) return show_error(http::status::conflict, outcome.error);
    decided_(id, outcome);
    // To the list: an approved or denied request leaves the registry once its client is answered.
    return redirect("/approvals?done=" + outcome.event);
}

}  // namespace sluice
