#include "agent/common/connection_deadline.h"

#include <boost/asio/steady_timer.hpp>

#include "agent/common/unpooled_allocator.h"

namespace sluice {

namespace net = boost::asio;

// Shared with the pending wake-up handler, so the handler never touches freed memory when the
// session ends first; `stopped` tells it the owner is gone.
struct ConnectionDeadline::State {
    explicit State(const net::any_io_executor& executor) : timer(executor) {}

    net::steady_timer timer;
    Clock::time_point deadline = Clock::time_point::max();
    Clock::time_point wake_at = Clock::time_point::max();  // of the pending wait, if waiting
    bool waiting = false;
    bool timed_out = false;
    bool stopped = false;
    std::uint64_t generation = 0;  // a wait re-queued earlier makes the older handler stale
    std::uint64_t waits = 0;
    net::ip::tcp::socket* socket = nullptr;  // closed on expiry; null when disarmed
    OnExpiry on_expiry = OnExpiry::close;

    static void sleep_until(const std::shared_ptr<State>& self, Clock::time_point when) {
        self->wake_at = when;
        self->waiting = true;
        ++self->waits;
        const std::uint64_t generation = ++self->generation;
        self->timer.expires_at(when);
        self->timer.async_wait(WakeHandler{self, generation});
    }

    // Pending for about a whole timeout period, on idle connections too: its own allocation
    // rather than a recycled block that may be twice its size (unpooled_allocator.h).
    struct WakeHandler {
        using allocator_type = UnpooledAllocator<void>;
        allocator_type get_allocator() const noexcept { return {}; }

        void operator()(const boost::system::error_code&) const {
            if (self->stopped || generation != self->generation) return;
            self->waiting = false;
            self->on_wake(self);
        }

        std::shared_ptr<State> self;
        std::uint64_t generation;
    };

    void on_wake(const std::shared_ptr<State>& self) {
        if (deadline == Clock::time_point::max()) return;  // disarmed meanwhile: sleep until arm()
        if (deadline > Clock::now()) {
            sleep_until(self, deadline);  // re-armed meanwhile: the usual case
            return;
        }
        timed_out = true;
        boost::system::error_code ignored;
        if (on_expiry == OnExpiry::stop_reading) {
            socket->cancel(ignored);  // pending operations complete with operation_aborted
            on_expiry = OnExpiry::close;
            deadline = Clock::now() + kCancelGrace;
            sleep_until(self, deadline);
            return;
        }
        deadline = Clock::time_point::max();
        socket->close(ignored);  // completes pending operations with operation_aborted
        socket = nullptr;
    }
};

ConnectionDeadline::ConnectionDeadline(net::any_io_executor executor)
    : state_(std::make_shared<State>(std::move(executor))) {}

ConnectionDeadline::~ConnectionDeadline() {
    state_->stopped = true;
    state_->socket = nullptr;
    // Cancelling queues the handler (it returns on `stopped`) and needs no syscall; without it
    // the io_context would keep the pending wait, and this State, until the old deadline.
    state_->timer.cancel();
}

void ConnectionDeadline::arm(Clock::duration timeout, net::ip::tcp::socket& socket,
                             OnExpiry on_expiry) {
    State& s = *state_;
    s.deadline = Clock::now() + timeout;
    s.socket = &socket;
    s.on_expiry = on_expiry;
    s.timed_out = false;
    // Earlier than the pending wake-up (or none pending): the timer has to move. Otherwise the
    // wake-up will find the later deadline and sleep again, and arm() costs no syscall.
    if (!s.waiting || s.deadline < s.wake_at) State::sleep_until(state_, s.deadline);
}

void ConnectionDeadline::disarm() {
    state_->deadline = Clock::time_point::max();
    state_->socket = nullptr;
}

bool ConnectionDeadline::guards(const net::ip::tcp::socket& socket) const {
    return state_->socket == &socket;
}

bool ConnectionDeadline::timed_out() const { return state_->timed_out; }

ConnectionDeadline::Clock::time_point ConnectionDeadline::deadline() const {
    return state_->deadline;
}

std::uint64_t ConnectionDeadline::timer_waits() const { return state_->waits; }

}  // namespace sluice
