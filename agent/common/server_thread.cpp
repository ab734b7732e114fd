#include "agent/common/server_thread.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <stdexcept>

namespace sluice {

namespace net = boost::asio;
using tcp = net::ip::tcp;

ServerThread::~ServerThread() { stop(); }

void ServerThread::listen(const std::string& host, uint16_t port, const std::string& config_key) {
    boost::system::error_code ec;
    const auto address = net::ip::make_address(host, ec);
    if (!ec) {
        const tcp::endpoint endpoint(address, port);
        acceptor_.open(endpoint.protocol(), ec);
        if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
        if (!ec) acceptor_.bind(endpoint, ec);
        if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    }
    if (ec)
        throw std::runtime_error(config_key + ": cannot listen on " + host + ":" +
                                 std::to_string(port) + ": " + ec.message());
    port_ = acceptor_.local_endpoint().port();
}

void ServerThread::start(OnAccept on_accept) {
    net::co_spawn(
        io_,
        [this, on_accept = std::move(on_accept)]() -> net::awaitable<void> {
            for (;;) {
                boost::system::error_code ec;
                tcp::socket socket =
                    co_await acceptor_.async_accept(net::redirect_error(net::use_awaitable, ec));
                if (ec == net::error::operation_aborted) co_return;
                if (ec) continue;
                on_accept(std::move(socket));
            }
        },
        net::detached);
    thread_ = std::thread([this] { io_.run(); });
}

void ServerThread::stop() {
    if (!thread_.joinable()) return;
    net::post(io_, [this] {
        boost::system::error_code ignored;
        acceptor_.close(ignored);
        io_.stop();
    });
    thread_.join();
}

}  // namespace sluice
