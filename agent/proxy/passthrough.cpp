#include "agent/proxy/passthrough.h"

#include <sys/socket.h>

#include <array>
#include <chrono>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "agent/common/limits.h"
#include "agent/common/socket_mark.h"

namespace sluice {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

net::awaitable<void> copy_one_way(tcp::socket& from, tcp::socket& to, uint64_t& bytes,
                                  std::string& error) {
    std::array<char, limits::kRelayBufferBytes> buffer;
    for (;;) {
        boost::system::error_code ec;
        const std::size_t n = co_await from.async_read_some(
            net::buffer(buffer), net::redirect_error(net::use_awaitable, ec));
        if (ec) {
            if (ec != net::error::eof && error.empty()) error = ec.message();
            if (ec == net::error::eof)
                to.shutdown(tcp::socket::shutdown_send, ec);
            else {
                // Carry a reset across as a reset, never as a clean end.
                to.set_option(net::socket_base::linger(true, 0), ec);
                to.close(ec);
            }
            co_return;
        }
        co_await net::async_write(to, net::buffer(buffer.data(), n),
                                  net::redirect_error(net::use_awaitable, ec));
        if (ec) {
            if (error.empty()) error = ec.message();
            from.close(ec);
            co_return;
        }
        bytes += n;
    }
}

}  // namespace

net::awaitable<SpliceResult> splice_to_destination(tcp::socket& client,
                                                   const tcp::endpoint& destination,
                                                   std::chrono::milliseconds connect_timeout) {
    SpliceResult result;
    auto executor = client.get_executor();
    tcp::socket server(executor);
    boost::system::error_code ec;
    server.open(destination.protocol(), ec);
    if (ec) {
        result.error = ec.message();
        co_return result;
    }
    mark_as_sluice_socket(server.native_handle());
    server.set_option(tcp::no_delay(true), ec);

    net::steady_timer timer(executor, connect_timeout);
    timer.async_wait([&server](boost::system::error_code timer_ec) {
        if (!timer_ec) server.cancel();
    });
    co_await server.async_connect(destination, net::redirect_error(net::use_awaitable, ec));
    timer.cancel();
    if (ec) {
        result.error = "connect " + destination.address().to_string() + ": " + ec.message();
        client.set_option(net::socket_base::linger(true, 0), ec);
        co_return result;
    }

    // Two directions, one strand (the worker's single thread); wait for both to finish.
    net::steady_timer both_done(executor, std::chrono::steady_clock::time_point::max());
    int remaining = 2;
    auto finished = [&](std::exception_ptr) {
        if (--remaining == 0) both_done.cancel();
    };
    std::string upstream_error;
    net::co_spawn(executor,
                  copy_one_way(client, server, result.client_to_server_bytes, result.error),
                  finished);
    net::co_spawn(executor,
                  copy_one_way(server, client, result.server_to_client_bytes, upstream_error),
                  finished);
    while (remaining > 0)
        co_await both_done.async_wait(net::redirect_error(net::use_awaitable, ec));
    if (result.error.empty()) result.error = upstream_error;
    co_return result;
}

}  // namespace sluice
