#include "agent/approvals_web/oidc_login.h"

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "agent/approvals_web/form_data.h"
#include "agent/approvals_web/private_file.h"
#include "agent/oidc/https_post.h"
#include "agent/oidc/oidc_limits.h"
#include "agent/tls/upstream_tls.h"

namespace sluice {

namespace net = boost::asio;

namespace {

// A token endpoint's answer: an ID token, an access token, maybe a refresh token.
constexpr std::size_t kMaxTokenResponseBytes = 64 * 1024;

std::string read_secret_file(const std::string& path) {
    constexpr const char* kKey = "approvals.web.oidc.client_secret_file";
    std::string secret = read_private_file(path, kKey);
    while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
    if (secret.empty()) throw std::runtime_error(std::string(kKey) + ": " + path + " is empty");
    return secret;
}

OidcIssuerConfig issuer_config(const ApprovalWebConfig& config) {
    OidcIssuerConfig issuer;
    issuer.issuer = config.oidc_issuer;
    issuer.audiences = {config.oidc_client_id};
    issuer.ca_file = config.oidc_ca_file;
    issuer.claims.groups = config.oidc_groups_claim;
    return issuer;
}

std::string first_claim(const OidcIdentity& identity, const char* name) {
    auto it = identity.claims.find(name);
    return it == identity.claims.end() || it->second.empty() ? "" : it->second.front();
}

}  // namespace

OidcLogin::OidcLogin(const ApprovalWebConfig& config, std::string redirect_uri)
    : config_(config),
      redirect_uri_(std::move(redirect_uri)),
      verifier_(std::vector<OidcIssuerConfig>{issuer_config(config)}) {
    if (!config.oidc_client_secret_file.empty())
        client_secret_ = read_secret_file(config.oidc_client_secret_file);
    std::shared_ptr<SSL_CTX> native = make_upstream_client_context(config.oidc_ca_file);
    SSL_CTX_up_ref(native.get());  // asio's context frees its handle; give it its own reference
    tls_ = std::make_unique<net::ssl::context>(native.get());
}

std::optional<OidcLogin::Endpoints> OidcLogin::endpoints(std::string& error) {
    const std::lock_guard lock(mutex_);
    if (endpoints_) return endpoints_;
    std::string issuer = config_.oidc_issuer;
    if (!issuer.empty() && issuer.back() == '/') issuer.pop_back();
    const std::string url = issuer + "/.well-known/openid-configuration";
    try {
        HttpsFetchOptions options;
        options.ca_file = config_.oidc_ca_file;
        options.max_body_bytes = oidc_limits::kMaxDiscoveryBytes;
        options.deadline = oidc_limits::kFetchDeadline;
        const auto document = nlohmann::json::parse(https_get(url, options));
        if (document.value("issuer", "") != config_.oidc_issuer) {
            error = "OIDC discovery: the document names another issuer";
            return std::nullopt;
        }
        Endpoints found;
        found.authorization_url = document.value("authorization_endpoint", "");
        auto authorization = parse_https_url(found.authorization_url);
        auto token = parse_https_url(document.value("token_endpoint", ""));
        if (!authorization || !token) {
            error = "OIDC discovery: authorization_endpoint and token_endpoint must be https://";
            return std::nullopt;
        }
        found.authorization = *authorization;
        found.token = *token;
        endpoints_ = found;
        return endpoints_;
    } catch (const std::exception& e) {
        error = std::string("OIDC discovery: ") + e.what();
        return std::nullopt;
    }
}

std::optional<std::string> OidcLogin::authorization_url(const std::string& state,
                                                        const std::string& challenge,
                                                        const std::string& nonce,
                                                        std::string& error) {
    auto found = endpoints(error);
    if (!found) return std::nullopt;
    std::string url = found->authorization_url;
    url += url.find('?') == std::string::npos ? '?' : '&';
    url += "response_type=code&client_id=" + url_encode(config_.oidc_client_id) +
           "&redirect_uri=" + url_encode(redirect_uri_) +
           "&scope=" + url_encode("openid profile email") + "&state=" + url_encode(state) +
           "&nonce=" + url_encode(nonce) + "&code_challenge=" + url_encode(challenge) +
           "&code_challenge_method=S256";
    return url;
}

net::awaitable<OidcLoginResult> OidcLogin::finish(std::string code, std::string verifier,
                                                  std::string nonce) {
    OidcLoginResult result;
    std::string error;
    auto found = endpoints(error);
    if (!found) {
        result.error = error;
        co_return result;
    }
    std::string form = "grant_type=authorization_code&code=" + url_encode(code) +
                       "&redirect_uri=" + url_encode(redirect_uri_) +
                       "&client_id=" + url_encode(config_.oidc_client_id) +
                       "&code_verifier=" + url_encode(verifier);
    if (!client_secret_.empty()) form += "&client_secret=" + url_encode(client_secret_);
    HttpsFetchOptions options;
    options.ca_file = config_.oidc_ca_file;
    options.max_body_bytes = kMaxTokenResponseBytes;
    options.deadline = oidc_limits::kFetchDeadline;
    // A named argument: GCC 12 frees a braced temporary in a co_await twice.
    HttpsPost post{found->token, "application/x-www-form-urlencoded", std::move(form), {}};
    HttpsPostResult answer = co_await https_post(*tls_, std::move(post), options);
    if (!answer.ok()) {
        result.error =
            "token exchange: " +
            (answer.error.empty() ? "answered " + std::to_string(answer.status) : answer.error);
        co_return result;
    }
    const auto tokens = nlohmann::json::parse(answer.body, nullptr, false);
    if (!tokens.is_object() || !tokens.contains("id_token") || !tokens["id_token"].is_string()) {
        result.error = "token exchange: the answer carries no id_token";
        co_return result;
    }
    OidcAuthentication verified =
        co_await verifier_.authenticate_async(tokens["id_token"].get<std::string>());
    if (verified.outcome != OidcOutcome::ok || !verified.identity) {
        result.error = "ID token: " + verified.reason;
        co_return result;
    }
    const OidcIdentity& identity = *verified.identity;
    // The nonce ties the token to this login, so a token from another login cannot be replayed.
    if (first_claim(identity, "nonce") != nonce) {
        result.error = "ID token: the nonce is not this login's";
        co_return result;
    }
    Approver approver;
    approver.uid = static_cast<uid_t>(-1);
    approver.via = "web_oidc";
    approver.oidc_issuer = identity.issuer;
    approver.oidc_subject = identity.subject;
    approver.oidc_groups = identity.groups;
    approver.name = first_claim(identity, "preferred_username");
    if (approver.name.empty()) approver.name = identity.email;
    if (approver.name.empty()) approver.name = identity.subject;
    result.approver = std::move(approver);
    co_return result;
}

}  // namespace sluice
