#include "agent/metrics/metrics_server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace sluice {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

constexpr std::chrono::seconds kScrapeDeadline{5};
constexpr std::uint32_t kMaxHeadBytes = 8 * 1024;

net::awaitable<void> serve_one(beast::tcp_stream stream, std::function<std::string()> render) {
    beast::error_code ec;
    beast::flat_buffer buffer;
    http::request_parser<http::empty_body> parser;
    parser.header_limit(kMaxHeadBytes);
    stream.expires_after(kScrapeDeadline);
    co_await http::async_read(stream, buffer, parser, net::redirect_error(net::use_awaitable, ec));
    if (ec) co_return;
    const auto& request = parser.get();
    http::response<http::string_body> response;
    response.version(request.version());
    response.keep_alive(false);
    const std::string_view target = request.target();
    if (target != "/metrics" && !target.starts_with("/metrics?")) {
        response.result(http::status::not_found);
        response.body() = "not found; metrics are at /metrics\n";
    } else if (request.method() != http::verb::get && request.method() != http::verb::head) {
        response.result(http::status::method_not_allowed);
        response.set(http::field::allow, "GET, HEAD");
    } else {
        response.result(http::status::ok);
        response.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
        response.body() = render();
    }
    response.prepare_payload();
    if (request.method() == http::verb::head) response.body().clear();
    co_await http::async_write(stream, response, net::redirect_error(net::use_awaitable, ec));
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
}

}  // namespace

MetricsServer::MetricsServer(HostPort listen, std::function<std::string()> render)
    : listen_(std::move(listen)), render_(std::move(render)) {}

MetricsServer::~MetricsServer() { stop(); }

void MetricsServer::start() {
    server_.listen(listen_.host, listen_.port, "metrics.listen");
    server_.start([this](tcp::socket socket) {
        net::co_spawn(server_.io(), serve_one(beast::tcp_stream(std::move(socket)), render_),
                      net::detached);
    });
}

void MetricsServer::stop() { server_.stop(); }

}  // namespace sluice
