// An HTTPS POST for coroutines on any io_context: the OIDC token exchange of the approvers' web
// page and the approvals chat webhook. Like https_get: certificate verified against the system
// store plus an optional CA bundle, host name checked, size- and time-bounded. Never blocks the
// thread. Its errors name the scheme, host and port only: a webhook URL's path is a secret.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <string>
#include <utility>
#include <vector>

#include "agent/oidc/https_fetch.h"

namespace sluice {

struct HttpsPostResult {
    std::string error;  // "" when a response arrived (any status)
    int status = 0;
    std::string body;

    bool ok() const { return error.empty() && status >= 200 && status < 300; }
};

struct HttpsPost {
    HttpsUrl url;
    std::string content_type;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  // e.g. Authorization
};

// `tls` from make_upstream_client_context (verifies the peer); outlives the call.
boost::asio::awaitable<HttpsPostResult> https_post(boost::asio::ssl::context& tls, HttpsPost post,
                                                   HttpsFetchOptions options);

// "https://host:port": how a URL may be named in logs and the audit.
std::string https_origin(const HttpsUrl& url);

}  // namespace sluice
