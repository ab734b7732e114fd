#include "agent/oidc/https_post.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "agent/tls/openssl_handles.h"
#include "agent/tls/upstream_tls.h"

namespace sluice {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

inline auto use_ec(beast::error_code& ec) { return net::redirect_error(net::use_awaitable, ec); }

std::string describe(const beast::error_code& ec) {
    if (ec == beast::error::timeout) return "deadline exceeded";
    if (ec.category() == net::error::get_ssl_category()) {
        std::string detail = drain_openssl_errors();
        return detail.empty() ? ec.message() : detail;
    }
    return ec.message();
}

std::string host_header(const HttpsUrl& url) {
    std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
    if (url.port != 443) host += ":" + std::to_string(url.port);
    return host;
}

}  // namespace

std::string https_origin(const HttpsUrl& url) { return "https://" + host_header(url); }

net::awaitable<HttpsPostResult> https_post(net::ssl::context& tls, HttpsPost post,
                                           HttpsFetchOptions options) {
    HttpsPostResult result;
    const std::string origin = "POST " + https_origin(post.url) + ": ";
    auto fail = [&](const std::string& step, const std::string& why) {
        result.error = origin + step + ": " + why;
        return result;
    };
    auto executor = co_await net::this_coro::executor;
    beast::error_code ec;
    tcp::resolver resolver(executor);
    auto endpoints =
        co_await resolver.async_resolve(post.url.host, std::to_string(post.url.port), use_ec(ec));
    if (ec) co_return fail("resolve", ec.message());

    beast::ssl_stream<beast::tcp_stream> stream(executor, tls);
    if (!prepare_upstream_ssl(stream.native_handle(), post.url.host))
        co_return fail("TLS setup", drain_openssl_errors());
    // One deadline for the whole exchange.
    beast::get_lowest_layer(stream).expires_after(options.deadline);
    co_await beast::get_lowest_layer(stream).async_connect(endpoints, use_ec(ec));
    if (ec) co_return fail("connect", describe(ec));
    co_await stream.async_handshake(net::ssl::stream_base::client, use_ec(ec));
    if (ec) co_return fail("TLS handshake", describe(ec));

    http::request<http::string_body> request{http::verb::post, post.url.target, 11};
    request.set(http::field::host, host_header(post.url));
    request.set(http::field::content_type, post.content_type);
    request.set(http::field::accept, "application/json");
    request.set(http::field::user_agent, "sluiced");
    request.set(http::field::connection, "close");
    for (const auto& [name, value] : post.headers) request.set(name, value);
    request.body() = std::move(post.body);
    request.prepare_payload();
    co_await http::async_write(stream, request, use_ec(ec));
    if (ec) co_return fail("send", describe(ec));

    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(options.max_body_bytes);
    co_await http::async_read(stream, buffer, parser, use_ec(ec));
    if (ec == http::error::body_limit)
        co_return fail("response",
                       "body larger than " + std::to_string(options.max_body_bytes) + " bytes");
    if (ec) co_return fail("response", describe(ec));
    result.status = static_cast<int>(parser.get().result_int());
    result.body = std::move(parser.get().body());
    co_return result;
}

}  // namespace sluice
