#include "agent/oidc/https_connect.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "agent/tls/openssl_handles.h"
#include "agent/tls/upstream_tls.h"

namespace sluice {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

std::string describe_https_error(const beast::error_code& ec) {
    if (ec == beast::error::timeout) return "deadline exceeded";
    if (ec.category() == net::error::get_ssl_category()) {
        std::string detail = drain_openssl_errors();
        return detail.empty() ? ec.message() : detail;
    }
    return ec.message();
}

std::string https_host_header(const HttpsUrl& url) {
    std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
    if (url.port != 443) host += ":" + std::to_string(url.port);
    return host;
}

net::awaitable<std::optional<HttpsConnectFailure>> https_connect(
    HttpsStream& stream, const HttpsUrl& url, std::chrono::milliseconds deadline) {
    auto fail = [](std::string step, std::string why) {
        return std::optional<HttpsConnectFailure>(
            HttpsConnectFailure{std::move(step), std::move(why)});
    };
    beast::error_code ec;
    tcp::resolver resolver(stream.get_executor());
    auto endpoints = co_await resolver.async_resolve(url.host, std::to_string(url.port),
                                                     net::redirect_error(net::use_awaitable, ec));
    if (ec) co_return fail("resolve", ec.message());
    if (!prepare_upstream_ssl(stream.native_handle(), url.host))
        co_return fail("TLS setup", drain_openssl_errors());
    // One deadline for the whole exchange: a slow server must not hold the caller forever.
    beast::get_lowest_layer(stream).expires_after(deadline);
    co_await beast::get_lowest_layer(stream).async_connect(
        endpoints, net::redirect_error(net::use_awaitable, ec));
    if (ec) co_return fail("connect", describe_https_error(ec));
    co_await stream.async_handshake(net::ssl::stream_base::client,
                                    net::redirect_error(net::use_awaitable, ec));
    if (ec) co_return fail("TLS handshake", describe_https_error(ec));
    co_return std::nullopt;
}

}  // namespace sluice
