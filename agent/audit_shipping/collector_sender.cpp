#include "agent/audit_shipping/collector_sender.h"

#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cerrno>
#include <exception>

#include "agent/tls/openssl_handles.h"
#include "agent/tls/upstream_tls.h"

namespace sluice {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

constexpr std::chrono::seconds kStepDeadline{10};

inline auto use_ec(beast::error_code& ec) { return net::redirect_error(net::use_awaitable, ec); }

std::string host_name() {
    char buffer[256] = {};
    if (::gethostname(buffer, sizeof buffer - 1) != 0) return "-";
    return buffer;
}

std::shared_ptr<net::ssl::context> tls_context_for(const std::string& ca_file) {
    std::shared_ptr<SSL_CTX> native = make_upstream_client_context(ca_file);
    SSL_CTX_up_ref(native.get());  // asio's context frees its handle; give it its own
    return std::make_shared<net::ssl::context>(native.get());
}

std::string describe(const beast::error_code& ec) {
    if (ec == beast::error::timeout) return "deadline exceeded";
    if (ec.category() == net::error::get_ssl_category()) {
        std::string detail = drain_openssl_errors();
        return detail.empty() ? ec.message() : detail;
    }
    return ec.message();
}

// Runs one coroutine to completion on a private event loop; its result is a string error.
std::string run_step(net::io_context& io, net::awaitable<std::string> step) {
    std::string error;
    std::exception_ptr failure;
    net::co_spawn(io, std::move(step), [&](std::exception_ptr e, std::string result) {
        failure = e;
        error = std::move(result);
    });
    io.restart();
    io.run();
    if (failure) {
        try {
            std::rethrow_exception(failure);
        } catch (const std::exception& e) {
            return e.what();
        }
    }
    return error;
}

class SyslogSender final : public CollectorSender {
public:
    SyslogSender(CollectorUrl url, CollectorTls tls)
        : url_(std::move(url)), tls_(std::move(tls)), hostname_(host_name()) {
        if (tls_.server_name.empty()) tls_.server_name = url_.host;
        context_ = url_.scheme == "tls"
                       ? tls_context_for(tls_.ca_file)
                       : std::make_shared<net::ssl::context>(net::ssl::context::tls_client);
    }

    bool send(const std::vector<std::string>& lines, std::string& error) override {
        if (stream_ && closed_by_peer()) stream_.reset();
        if (!stream_) {
            error = run_step(io_, connect());
            if (!error.empty()) {
                stream_.reset();
                return false;
            }
        }
        std::string frames;
        const auto now = std::chrono::system_clock::now();
        for (const auto& line : lines) frames += syslog_frame(line, hostname_, ::getpid(), now);
        error = run_step(io_, write(std::move(frames)));
        if (!error.empty()) stream_.reset();
        return error.empty();
    }

private:
    using Stream = beast::ssl_stream<beast::tcp_stream>;

    bool closed_by_peer() {
        char byte;
        const int fd = beast::get_lowest_layer(*stream_).socket().native_handle();
        const ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        // A syslog receiver never sends: EOF, a TLS alert or an error all mean start again.
        return n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
    }

    net::awaitable<std::string> connect() {
        beast::error_code ec;
        tcp::resolver resolver(io_);
        auto endpoints =
            co_await resolver.async_resolve(url_.host, std::to_string(url_.port), use_ec(ec));
        if (ec) co_return "resolve " + url_.host + ": " + ec.message();
        stream_ = std::make_unique<Stream>(io_, *context_);
        auto& tcp_layer = beast::get_lowest_layer(*stream_);
        tcp_layer.expires_after(kStepDeadline);
        co_await tcp_layer.async_connect(endpoints, use_ec(ec));
        if (ec)
            co_return "connect " + url_.host + ":" + std::to_string(url_.port) + ": " +
                describe(ec);
        tcp_layer.socket().set_option(tcp::no_delay(true), ec);
        if (url_.scheme == "tls") {
            if (!prepare_upstream_ssl(stream_->native_handle(), tls_.server_name))
                co_return "TLS setup: " + drain_openssl_errors();
            co_await stream_->async_handshake(net::ssl::stream_base::client, use_ec(ec));
            if (ec) co_return "TLS handshake: " + describe(ec);
        }
        tcp_layer.expires_never();
        co_return "";
    }

    net::awaitable<std::string> write(std::string frames) {
        beast::error_code ec;
        auto& tcp_layer = beast::get_lowest_layer(*stream_);
        tcp_layer.expires_after(kStepDeadline);
        if (url_.scheme == "tls")
            co_await net::async_write(*stream_, net::buffer(frames), use_ec(ec));
        else
            co_await net::async_write(tcp_layer, net::buffer(frames), use_ec(ec));
        tcp_layer.expires_never();
        co_return ec ? "send: " + describe(ec) : "";
    }

    CollectorUrl url_;
    CollectorTls tls_;
    std::string hostname_;
    net::io_context io_{1};
    std::shared_ptr<net::ssl::context> context_;
    std::unique_ptr<Stream> stream_;
};

class OtlpSender final : public CollectorSender {
public:
    OtlpSender(CollectorUrl url, CollectorTls tls)
        : url_(std::move(url)), tls_(std::move(tls)), hostname_(host_name()) {
        if (tls_.server_name.empty()) tls_.server_name = url_.host;
        context_ = url_.scheme == "https"
                       ? tls_context_for(tls_.ca_file)
                       : std::make_shared<net::ssl::context>(net::ssl::context::tls_client);
    }

    bool send(const std::vector<std::string>& lines, std::string& error) override {
        error =
            run_step(io_, post(otlp_logs_body(lines, hostname_, std::chrono::system_clock::now())));
        return error.empty();
    }

private:
    net::awaitable<std::string> post(std::string body) {
        beast::error_code ec;
        tcp::resolver resolver(io_);
        auto endpoints =
            co_await resolver.async_resolve(url_.host, std::to_string(url_.port), use_ec(ec));
        if (ec) co_return "resolve " + url_.host + ": " + ec.message();
        beast::ssl_stream<beast::tcp_stream> stream(io_, *context_);
        auto& tcp_layer = beast::get_lowest_layer(stream);
        tcp_layer.expires_after(kStepDeadline);
        co_await tcp_layer.async_connect(endpoints, use_ec(ec));
        if (ec)
            co_return "connect " + url_.host + ":" + std::to_string(url_.port) + ": " +
                describe(ec);
        const bool tls = url_.scheme == "https";
        if (tls) {
            if (!prepare_upstream_ssl(stream.native_handle(), tls_.server_name))
                co_return "TLS setup: " + drain_openssl_errors();
            co_await stream.async_handshake(net::ssl::stream_base::client, use_ec(ec));
            if (ec) co_return "TLS handshake: " + describe(ec);
        }
        http::request<http::string_body> request{http::verb::post, url_.target, 11};
        const bool v6 = url_.host.find(':') != std::string::npos;
        request.set(http::field::host,
                    (v6 ? "[" + url_.host + "]" : url_.host) + ":" + std::to_string(url_.port));
        request.set(http::field::content_type, "application/json");
        request.set(http::field::user_agent, "sluiced");
        request.set(http::field::connection, "close");
        request.body() = std::move(body);
        request.prepare_payload();
        beast::flat_buffer buffer;
        http::response_parser<http::string_body> parser;
        parser.body_limit(1024 * 1024);
        if (tls) {
            co_await http::async_write(stream, request, use_ec(ec));
            if (!ec) co_await http::async_read(stream, buffer, parser, use_ec(ec));
        } else {
            co_await http::async_write(tcp_layer, request, use_ec(ec));
            if (!ec) co_await http::async_read(tcp_layer, buffer, parser, use_ec(ec));
        }
        if (ec) co_return "POST " + url_.target + ": " + describe(ec);
        const unsigned status = parser.get().result_int();
        if (status < 200 || status > 299)
            co_return "POST " + url_.target + ": HTTP " + std::to_string(status);
        co_return "";
    }

    CollectorUrl url_;
    CollectorTls tls_;
    std::string hostname_;
    net::io_context io_{1};
    std::shared_ptr<net::ssl::context> context_;
};

}  // namespace

std::unique_ptr<CollectorSender> make_syslog_sender(const CollectorUrl& url,
                                                    const CollectorTls& tls) {
    return std::make_unique<SyslogSender>(url, tls);
}

std::unique_ptr<CollectorSender> make_otlp_sender(const CollectorUrl& url,
                                                  const CollectorTls& tls) {
    return std::make_unique<OtlpSender>(url, tls);
}

}  // namespace sluice
