#include "agent/proxy/client_hello_wait.h"

#include <array>
#include <chrono>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "agent/common/limits.h"

namespace sluice {

namespace net = boost::asio;

net::awaitable<PeekedHello> peek_client_hello(net::ip::tcp::socket& client) {
    std::array<uint8_t, limits::kClientHelloMaxBytes> buffer;
    const auto deadline = std::chrono::steady_clock::now() + limits::kClientHelloDeadline;
    net::steady_timer timer(client.get_executor());
    PeekedHello peeked;
    std::size_t previous = 0;
    boost::system::error_code ec;
    // Peeks never block: a ClientHello that is already there (the usual case under load) is
    // read with no wait, no timer and no epoll change. The TLS stream needs it non-blocking too.
    client.non_blocking(true, ec);
    for (;;) {
        if (std::chrono::steady_clock::now() >= deadline) {
            peeked.timed_out = true;
            co_return peeked;
        }
        const std::size_t n = client.receive(net::buffer(buffer), net::socket_base::message_peek, ec);
        if (ec == net::error::would_block) {
            // Waiting for readability has no deadline of its own: a timer cancels it.
            timer.expires_at(deadline);
            timer.async_wait([&client](boost::system::error_code timer_ec) {
                if (!timer_ec) client.cancel();
            });
            co_await client.async_wait(net::socket_base::wait_read, net::redirect_error(net::use_awaitable, ec));
            timer.cancel();
            if (ec) {
                peeked.timed_out = (ec == net::error::operation_aborted);
                peeked.closed = !peeked.timed_out;
                co_return peeked;
            }
            continue;
        }
        if (ec || n == 0) {
            peeked.closed = true;
            co_return peeked;
        }
        peeked.bytes = n;
        peeked.result = parse_client_hello(std::span<const uint8_t>(buffer.data(), n));
        if (peeked.result.status != ClientHelloStatus::need_more) co_return peeked;
        if (n == buffer.size()) {
            peeked.result.status = ClientHelloStatus::too_big;
            co_return peeked;
        }
        if (n == previous) {
            // Readable but nothing new: the rest is still in flight. Poll gently.
            timer.expires_after(limits::kClientHelloPollInterval);
            co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
        }
        previous = n;
    }
}

}  // namespace sluice
