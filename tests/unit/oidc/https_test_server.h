// A tiny HTTPS server on 127.0.0.1 for OIDC fetch tests: one thread, one request per
// connection, replies from a handler the test can change at any time.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "agent/tls/openssl_handles.h"

namespace sluice::test {

struct HttpReply {
    int status = 200;
    std::string body;
};

class HttpsTestServer {
public:
    using Handler = std::function<HttpReply(const std::string& target)>;

    HttpsTestServer(const std::shared_ptr<SSL_CTX>& tls, Handler handler)
        : tls_(adopt(tls)), handler_(std::move(handler)), acceptor_(io_) {
        namespace net = boost::asio;
        const net::ip::tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), 0);
        acceptor_.open(endpoint.protocol());
        acceptor_.bind(endpoint);
        acceptor_.listen();
        port_ = acceptor_.local_endpoint().port();
        accept_next();
        thread_ = std::thread([this] { io_.run(); });
    }
    ~HttpsTestServer() {
        boost::asio::post(io_, [this] { acceptor_.close(); });
        io_.stop();
        thread_.join();
    }

    uint16_t port() const { return port_; }
    // "localhost" is the name the test CA's leaf carries.
    std::string url(const std::string& target) const {
        return "https://localhost:" + std::to_string(port_) + target;
    }
    int hits(const std::string& target) const {
        std::lock_guard lock(mutex_);
        auto it = hits_.find(target);
        return it == hits_.end() ? 0 : it->second;
    }
    void set_handler(Handler handler) {
        std::lock_guard lock(mutex_);
        handler_ = std::move(handler);
    }

private:
    static std::unique_ptr<boost::asio::ssl::context> adopt(const std::shared_ptr<SSL_CTX>& ctx) {
        SSL_CTX_up_ref(ctx.get());
        return std::make_unique<boost::asio::ssl::context>(ctx.get());
    }

    void accept_next() {
        acceptor_.async_accept(
            [this](boost::system::error_code ec, boost::asio::ip::tcp::socket s) {
                if (ec) return;
                serve(std::move(s));
                accept_next();
            });
    }

    // Blocking on the server thread is fine: tests send one request at a time.
    void serve(boost::asio::ip::tcp::socket socket) {
        namespace http = boost::beast::http;
        boost::asio::ssl::stream<boost::asio::ip::tcp::socket> stream(std::move(socket), *tls_);
        boost::system::error_code ec;
        stream.handshake(boost::asio::ssl::stream_base::server, ec);
        if (ec) return;
        boost::beast::flat_buffer buffer;
        http::request<http::string_body> request;
        http::read(stream, buffer, request, ec);
        if (ec) return;
        const std::string target(request.target());
        Handler handler;
        {
            std::lock_guard lock(mutex_);
            ++hits_[target];
            handler = handler_;
        }
        const HttpReply reply = handler(target);
        http::response<http::string_body> response{static_cast<http::status>(reply.status), 11};
        response.set(http::field::content_type, "application/json");
        response.set(http::field::connection, "close");
        response.body() = reply.body;
        response.prepare_payload();
        http::write(stream, response, ec);
        stream.shutdown(ec);
    }

    boost::asio::io_context io_;
    std::unique_ptr<boost::asio::ssl::context> tls_;
    mutable std::mutex mutex_;
    Handler handler_;                  // guarded
    std::map<std::string, int> hits_;  // guarded
    boost::asio::ip::tcp::acceptor acceptor_;
    uint16_t port_ = 0;
    std::thread thread_;
};

}  // namespace sluice::test
