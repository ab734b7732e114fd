#include "agent/oidc/https_post.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "agent/oidc/https_connect.h"

namespace sluice {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

inline auto use_ec(beast::error_code& ec) { return net::redirect_error(net::use_awaitable, ec); }

}  // namespace

std::string https_origin(const HttpsUrl& url) { return "https://" + https_host_header(url); }

net::awaitable<HttpsPostResult> https_post(net::ssl::context& tls, HttpsPost post,
                                           HttpsFetchOptions options) {
    HttpsPostResult result;
    const std::string origin = "POST " + https_origin(post.url) + ": ";
    auto fail = [&](const std::string& step, const std::string& why) {
        result.error = origin + step + ": " + why;
        return result;
    };
    HttpsStream stream(co_await net::this_coro::executor, tls);
    const std::optional<HttpsConnectFailure> failed =
        co_await https_connect(stream, post.url, options.deadline);
    if (failed) co_return fail(failed->step, failed->why);

    beast::error_code ec;
    http::request<http::string_body> request{http::verb::post, post.url.target, 11};
    request.set(http::field::host, https_host_header(post.url));
    request.set(http::field::content_type, post.content_type);
    request.set(http::field::accept, "application/json");
    request.set(http::field::user_agent, "sluiced");
    request.set(http::field::connection, "close");
    for (const auto& [name, value] : post.headers) request.set(name, value);
    request.body() = std::move(post.body);
    request.prepare_payload();
    co_await http::async_write(stream, request, use_ec(ec));
    if (ec) co_return fail("send", describe_https_error(ec));

    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(options.max_body_bytes);
    co_await http::async_read(stream, buffer, parser, use_ec(ec));
    if (ec == http::error::body_limit)
        co_return fail("response",
                       "body larger than " + std::to_string(options.max_body_bytes) + " bytes");
    if (ec) co_return fail("response", describe_https_error(ec));
    result.status = static_cast<int>(parser.get().result_int());
    result.body = std::move(parser.get().body());
    co_return result;
}

}  // namespace sluice
