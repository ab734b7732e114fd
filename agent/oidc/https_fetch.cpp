#include "agent/oidc/https_fetch.h"
#include "agent/common/ip_address.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>
#include <exception>

#include "agent/oidc/https_connect.h"
#include "agent/tls/upstream_tls.h"

namespace sluice {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

inline auto use_ec(beast::error_code& ec) { return net::redirect_error(net::use_awaitable, ec); }

struct FetchJob {
    const std::string& url;
    const HttpsUrl& parsed;
    const HttpsFetchOptions& options;
    net::ssl::context& tls;
    std::string body;
};

[[noreturn]] void fail(const FetchJob& job, const std::string& step, const std::string& why) {
    throw HttpsFetchError("GET " + job.url + ": " + step + ": " + why);
}

net::awaitable<void> fetch(FetchJob& job) {
    HttpsStream stream(co_await net::this_coro::executor, job.tls);
    const std::optional<HttpsConnectFailure> failed =
        co_await https_connect(stream, job.parsed, job.options.deadline);
    if (failed) fail(job, failed->step, failed->why);

    beast::error_code ec;
    http::request<http::empty_body> request{http::verb::get, job.parsed.target, 11};
    request.set(http::field::host, https_host_header(job.parsed));
    request.set(http::field::accept, "application/json");
    request.set(http::field::user_agent, "sluiced");
    request.set(http::field::connection, "close");
    co_await http::async_write(stream, request, use_ec(ec));
    if (ec) fail(job, "send", describe_https_error(ec));

    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(job.options.max_body_bytes);
    co_await http::async_read(stream, buffer, parser, use_ec(ec));
    if (ec == http::error::body_limit) {
        fail(job, "response",
             "body larger than " + std::to_string(job.options.max_body_bytes) + " bytes");
    }
    if (ec) fail(job, "response", describe_https_error(ec));
    const auto& response = parser.get();
    if (response.result() != http::status::ok) {
        fail(job, "response", "status " + std::to_string(response.result_int()));
    }
    job.body = response.body();
    // The server closes (Connection: close); a clean TLS shutdown is not worth waiting for.
}

}  // namespace

std::optional<HttpsUrl> parse_https_url(std::string_view url) {
    constexpr std::string_view kScheme = "https://";
    if (url.substr(0, kScheme.size()) != kScheme) return std::nullopt;
    std::string_view rest = url.substr(kScheme.size());
    for (char c : url) {
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '#') return std::nullopt;
    }
    const std::size_t slash = rest.find_first_of("/?");
    std::string_view authority = rest.substr(0, slash);
    HttpsUrl out;
    if (slash != std::string_view::npos) {
        out.target = std::string(rest.substr(slash));
        if (out.target.front() == '?') out.target.insert(0, "/");
    }
    if (authority.empty() || authority.find('@') != std::string_view::npos) return std::nullopt;
    std::string_view port_text;
    if (authority.front() == '[') {
        const std::size_t close = authority.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        out.host = std::string(authority.substr(1, close - 1));
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return std::nullopt;
            port_text = after.substr(1);
            if (port_text.empty()) return std::nullopt;
        }
    } else {
        const std::size_t colon = authority.find(':');
        out.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) {
            port_text = authority.substr(colon + 1);
            if (port_text.empty()) return std::nullopt;
        }
    }
    if (out.host.empty()) return std::nullopt;
    if (!port_text.empty()) {
        const std::optional<uint16_t> port = parse_port(port_text);
        if (!port) return std::nullopt;
        out.port = *port;
    }
    return out;
}

std::string https_get(const std::string& url, const HttpsFetchOptions& options) {
    auto parsed = parse_https_url(url);
    if (!parsed) throw HttpsFetchError("GET " + url + ": not an https:// URL");
    std::shared_ptr<SSL_CTX> native;
    try {
        native = make_upstream_client_context(options.ca_file);
    } catch (const std::exception& e) {
        throw HttpsFetchError("GET " + url + ": " + e.what());
    }
    SSL_CTX_up_ref(native.get());  // asio's context frees its handle; give it its own reference
    net::ssl::context tls(native.get());

    net::io_context io{1};
    FetchJob job{url, *parsed, options, tls, {}};
    std::exception_ptr failure;
    net::co_spawn(io, fetch(job), [&failure](std::exception_ptr e) { failure = e; });
    io.run();
    if (failure) std::rethrow_exception(failure);
    return std::move(job.body);
}

}  // namespace sluice
