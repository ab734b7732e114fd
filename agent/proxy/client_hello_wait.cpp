#include "agent/proxy/client_hello_wait.h"

#include <sys/socket.h>

#include <array>
#include <chrono>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "agent/common/limits.h"

namespace sluice {

namespace net = boost::asio;

namespace {

// Readability with a peek is level-triggered on bytes already seen: a partial hello keeps the
// socket readable, and waiting again would spin. SO_RCVLOWAT makes the kernel report it
// readable only once more than `bytes` have arrived (or the peer closed), so a stalled hello
// costs one wake-up per new segment, not a poll loop.
void wake_after(net::ip::tcp::socket& client, std::size_t bytes) {
    const int low_water = static_cast<int>(bytes + 1);
    ::setsockopt(client.native_handle(), SOL_SOCKET, SO_RCVLOWAT, &low_water, sizeof low_water);
}

// Back to the default for everything that reads the socket after the hello.
class LowWaterReset {
public:
    explicit LowWaterReset(net::ip::tcp::socket& client) : client_(client) {}
    ~LowWaterReset() {
        if (raised && client_.is_open()) wake_after(client_, 0);
    }
    LowWaterReset(const LowWaterReset&) = delete;
    LowWaterReset& operator=(const LowWaterReset&) = delete;
    bool raised = false;

private:
    net::ip::tcp::socket& client_;
};

}  // namespace

// Waits until the client is readable or `deadline` passes (a timer cancels the wait). False
// when the wait ended the hello: `peeked` then says whether by timeout or by a closed socket.
static net::awaitable<bool> wait_readable(net::ip::tcp::socket& client, net::steady_timer& timer,
                                          std::chrono::steady_clock::time_point deadline,
                                          PeekedHello& peeked) {
    boost::system::error_code ec;
    timer.expires_at(deadline);
    timer.async_wait([&client](boost::system::error_code timer_ec) {
        if (!timer_ec) client.cancel();
    });
    co_await client.async_wait(net::socket_base::wait_read,
                               net::redirect_error(net::use_awaitable, ec));
    timer.cancel();
    if (!ec) co_return true;
    peeked.timed_out = (ec == net::error::operation_aborted);
    peeked.closed = !peeked.timed_out;
    co_return false;
}

net::awaitable<PeekedHello> peek_client_hello(net::ip::tcp::socket& client) {
    std::array<uint8_t, limits::kClientHelloMaxBytes> buffer;
    const auto deadline = std::chrono::steady_clock::now() + limits::kClientHelloDeadline;
    net::steady_timer timer(client.get_executor());
    PeekedHello peeked;
    LowWaterReset low_water(client);
    boost::system::error_code ec;
    // Peeks never block: a ClientHello that is already there (the usual case under load) is
    // read with no wait, no timer and no epoll change. The TLS stream needs it non-blocking too.
    client.non_blocking(true, ec);
    for (;;) {
        if (std::chrono::steady_clock::now() >= deadline) {
            peeked.timed_out = true;
            co_return peeked;
        }
        const std::size_t n =
            client.receive(net::buffer(buffer), net::socket_base::message_peek, ec);
        if (ec == net::error::would_block) {
            if (!co_await wait_readable(client, timer, deadline, peeked)) co_return peeked;
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
        // Incomplete: wait, under the same deadline, until more than these n bytes are there.
        wake_after(client, n);
        low_water.raised = true;
        if (!co_await wait_readable(client, timer, deadline, peeked)) co_return peeked;
    }
}

}  // namespace sluice
