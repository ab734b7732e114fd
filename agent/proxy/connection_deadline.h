// One watchdog timer per connection instead of one timer per operation.
//
// Beast's tcp_stream::expires_after cancels and re-queues a timer before every read and write;
// whenever that timer becomes the io_context's earliest, Asio re-programs its timerfd
// (timerfd_settime) and epoll wakes once more: ~4 extra syscalls per proxied request
// (docs/benchmarks.md). Here arm() only stores a time point. A single steady_timer sleeps until
// the deadline it was last given; when it wakes and the deadline has since moved later (the
// normal case: every operation re-arms), it sleeps again until the new one. So the timer is
// re-programmed about once per timeout period, not per operation. Only moving the deadline
// earlier than the pending wake-up (a shorter timeout than the last one) re-queues it at once.
//
// On expiry the watched sockets are closed, which completes their pending operations with
// operation_aborted (and makes TlsStream operations complete with it too), and timed_out()
// becomes true until the next arm(). Closing rather than cancelling, as Beast's tcp_stream does:
// a composed operation between two steps when the deadline passes would miss a cancel() and
// start its next wait with no deadline at all.
//
// How a session uses it:
//   ConnectionDeadline client_deadline(executor);       // one per connection
//   client_deadline.watch(stream.next_layer());
//   client_deadline.arm(idle_timeout);                   // before each read or write
//   co_await http::async_read_header(stream, buffer, parser, use_ec(ec));
//   if (ec && client_deadline.timed_out()) ...          // a timeout, whatever ec says
//                                                        // (operation_aborted, bad_descriptor)
// For a pooled upstream connection, a second deadline watches the leased socket for the
// exchange (watch() on lease, unwatch() before the connection goes back to the pool), so an
// upstream timeout closes the upstream socket only and the client can still get its 504.
//
// Single-threaded like the rest of a proxy worker: use from the io_context's thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace sluice {

class ConnectionDeadline {
public:
    using Clock = std::chrono::steady_clock;

    explicit ConnectionDeadline(boost::asio::any_io_executor executor);
    ConnectionDeadline(const ConnectionDeadline&) = delete;
    ConnectionDeadline& operator=(const ConnectionDeadline&) = delete;
    // Stops watching and cancels the pending wake-up (no syscall).
    ~ConnectionDeadline();

    // `socket` is closed when the deadline passes. It must outlive this object or be unwatched.
    void watch(boost::asio::ip::tcp::socket& socket);
    void unwatch(boost::asio::ip::tcp::socket& socket);

    // The next operations must finish within `timeout` from now. Clears timed_out().
    void arm(Clock::duration timeout);
    // No deadline until the next arm() (e.g. while a connection sits in a pool).
    void disarm();

    // True once the deadline passed (and the watched sockets were closed), until arm().
    [[nodiscard]] bool timed_out() const;
    // The current deadline; Clock::time_point::max() when disarmed.
    [[nodiscard]] Clock::time_point deadline() const;
    // How often the underlying timer has been (re)started: for tests and for counting
    // what this saves.
    [[nodiscard]] std::uint64_t timer_waits() const;

private:
    struct State;
    std::shared_ptr<State> state_;
};

}  // namespace sluice
