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
// On expiry the socket it guards is closed, which completes their pending operations with
// operation_aborted (and makes TlsStream operations complete with it too), and timed_out()
// becomes true until the next arm(). Closing rather than cancelling, as Beast's tcp_stream does:
// a composed operation between two steps when the deadline passes would miss a cancel() and
// start its next wait with no deadline at all.
//
// How a session uses it:
//   ConnectionDeadline deadline(executor);                       // one per connection
//   deadline.arm(idle_timeout, stream.next_layer());             // before each read or write
//   co_await http::async_read_header(stream, buffer, parser, use_ec(ec));
//   if (ec && deadline.timed_out()) ...                          // a timeout, whatever ec says
//                                                                // (operation_aborted,
//                                                                bad_descriptor)
// A deadline guards one socket at a time, the one its last arm() named: a proxied connection
// waits on its client or on its leased upstream, never on both, so one timer serves both
// (arming for the upstream socket stops the client's deadline, and back). An upstream timeout
// closes the upstream socket only, so the client can still get its 504. disarm() before the
// upstream connection goes back to its pool.
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

    // What expiry does to the socket. stop_reading, for a wait that only reads (the next
    // request's header), cancels the pending operations instead of closing the socket, so the
    // session can still answer 408 over TLS and audit the request that did not finish arriving
    // (a slowloris); an EOF from a shutdown would end the TLS session instead. A cancel an
    // operation misses between two of its steps is caught by closing the socket
    // kCancelGrace later unless the session re-arms first.
    enum class OnExpiry { close, stop_reading };
    static constexpr std::chrono::seconds kCancelGrace{1};

    // The next operations on `socket` must finish within `timeout` from now: `socket` (and no
    // other) is closed (or shut for reading) when it passes. Replaces the previous deadline and
    // socket; clears timed_out(). `socket` must outlive this object or be followed by another
    // arm() or disarm().
    void arm(Clock::duration timeout, boost::asio::ip::tcp::socket& socket,
             OnExpiry on_expiry = OnExpiry::close);
    // No deadline and no socket until the next arm() (e.g. while a connection sits in a pool).
    void disarm();

    // True while armed for `socket`.
    [[nodiscard]] bool guards(const boost::asio::ip::tcp::socket& socket) const;
    // True once the deadline passed (and its socket was closed), until arm().
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
