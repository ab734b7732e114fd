// The start every small HTTPS client here shares (https_get, https_post): resolve, connect and
// complete TLS with the peer's certificate verified and its host name checked, all under the
// one deadline set on the stream for the whole exchange. The callers go on to write their
// request and read the answer on the same stream, within the same deadline.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "agent/oidc/https_fetch.h"

namespace sluice {

using HttpsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

struct HttpsConnectFailure {
    std::string step;  // "resolve", "TLS setup", "connect", "TLS handshake"
    std::string why;
};

// nullopt once the TLS handshake is done; `stream` was made on the caller's executor with a
// context from make_upstream_client_context.
boost::asio::awaitable<std::optional<HttpsConnectFailure>> https_connect(
    HttpsStream& stream, const HttpsUrl& url, std::chrono::milliseconds deadline);

// An error as one line: "deadline exceeded", OpenSSL's own queue for TLS failures.
std::string describe_https_error(const boost::beast::error_code& ec);

// "host[:port]" (IPv6 in brackets), as the Host header and in logs.
std::string https_host_header(const HttpsUrl& url);

}  // namespace sluice
