#include "agent/upstream/upstream_pool.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <spdlog/spdlog.h>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>

#include "agent/common/connection_deadline.h"
#include "agent/common/limits.h"
#include "agent/common/socket_mark.h"

namespace sluice {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

namespace {
constexpr auto kStaleCheckAfter = std::chrono::milliseconds(200);

// Waiting for the connect leaves EPOLLOUT in the socket's epoll registration for good (Asio
// never drops an event it registered), and every later wait for a response re-arms it: the
// always-writable socket then woke the event loop for nothing once per request. The connected
// socket is registered afresh, for reads only.
void register_for_reads_only(tcp::socket& socket, const tcp& protocol, beast::error_code& ec) {
    const auto fd = socket.release(ec);
    if (!ec) socket.assign(protocol, fd, ec);
}
}  // namespace

bool idle_connection_is_stale(int fd) {
    pollfd p{fd, POLLIN, 0};
    // Readable while idle means EOF, a reset, or a TLS alert/ticket we cannot tell apart from
    // the start of a close; dropping it costs one handshake, reusing a dead one costs a request.
    return ::poll(&p, 1, 0) != 0;
}

UpstreamPool::UpstreamPool(net::any_io_executor executor, net::ssl::context& client_context,
                           UpstreamTimeouts timeouts)
    : executor_(std::move(executor)),
      client_context_(client_context),
      timeouts_(timeouts),
      sweep_timer_(executor_) {}

net::awaitable<UpstreamLease> UpstreamPool::acquire(const UpstreamEndpoint& endpoint) {
    if (auto it = idle_.find(endpoint); it != idle_.end()) {
        auto& list = it->second;
        const auto now = std::chrono::steady_clock::now();
        while (!list.empty()) {
            IdleConnection idle = std::move(list.back());
            list.pop_back();
            auto& socket = idle.stream->next_layer();
            if (now - idle.since > limits::kUpstreamIdleTimeout) continue;
            // A connection back in the pool for less than kStaleCheckAfter is taken without the
            // poll() (one syscall per request under load): upstreams close idle connections after
            // seconds, and a request whose body we hold is retried once on a fresh connection
            // if a reused one turns out dead.
            if (now - idle.since >= kStaleCheckAfter &&
                idle_connection_is_stale(socket.native_handle()))
                continue;
            ++stats_.reuses;
            co_return UpstreamLease{std::move(idle.stream), true, UpstreamFailure::none, {}};
        }
    }
    co_return co_await connect(endpoint);
}

void UpstreamPool::release(const UpstreamEndpoint& endpoint,
                           std::unique_ptr<UpstreamStream> stream) {
    remember_session(endpoint, stream->native_handle());  // TLS 1.3 tickets have arrived by now
    auto& list = idle_[endpoint];
    if (list.size() >= limits::kUpstreamIdlePerEndpoint) list.erase(list.begin());
    list.push_back(IdleConnection{std::move(stream), std::chrono::steady_clock::now()});
    schedule_sweep();
}

void UpstreamPool::schedule_sweep() {
    if (sweep_scheduled_) return;
    sweep_scheduled_ = true;
    sweep_timer_.expires_after(limits::kUpstreamSweepInterval);
    sweep_timer_.async_wait([this](const beast::error_code& ec) {
        if (ec == net::error::operation_aborted) return;  // the pool is going away
        sweep_scheduled_ = false;
        sweep();
    });
}

void UpstreamPool::sweep() {
    const auto now = std::chrono::steady_clock::now();
    bool any_left = false;
    for (auto it = idle_.begin(); it != idle_.end();) {
        auto& list = it->second;
        std::erase_if(list, [&](const IdleConnection& idle) {
            return now - idle.since > limits::kUpstreamIdleTimeout ||
                   idle_connection_is_stale(idle.stream->next_layer().native_handle());
        });
        any_left = any_left || !list.empty();
        it = list.empty() ? idle_.erase(it) : std::next(it);
    }
    if (any_left) schedule_sweep();
}

void UpstreamPool::remember_session(const UpstreamEndpoint& endpoint, SSL* ssl) {
    // With TLS 1.3 the ticket may arrive after the handshake; SSL_get1_session then returns a
    // session that is not resumable yet, and the next successful exchange refreshes it.
    SSL_SESSION* session = SSL_get1_session(ssl);
    if (session == nullptr) return;
    if (!SSL_SESSION_is_resumable(session)) {
        SSL_SESSION_free(session);
        return;
    }
    sessions_[endpoint].reset(session);
}

net::awaitable<UpstreamLease> UpstreamPool::connect(const UpstreamEndpoint& endpoint) {
    ++stats_.connects;
    auto stream = std::make_unique<UpstreamStream>(executor_, client_context_.native_handle());
    auto& tcp_layer = stream->next_layer();
    beast::error_code ec;
    tcp_layer.open(endpoint.address.protocol(), ec);
    if (ec) co_return UpstreamLease{nullptr, false, UpstreamFailure::unreachable, ec.message()};
    if (!mark_as_sluice_socket(tcp_layer.native_handle()))
        spdlog::debug("upstream: SO_MARK not set ({}); relying on the tgid exemption", errno);
    tcp_layer.set_option(tcp::no_delay(true), ec);

    // One deadline for connect and handshake together, as before; it ends with this call.
    ConnectionDeadline deadline(executor_);
    deadline.arm(timeouts_.connect, tcp_layer);
    co_await tcp_layer.async_connect(endpoint.address, net::redirect_error(net::use_awaitable, ec));
    if (ec) {
        ++stats_.failures;
        const bool timed_out = deadline.timed_out();
        co_return UpstreamLease{nullptr, false,
                                timed_out ? UpstreamFailure::timeout : UpstreamFailure::unreachable,
                                "connect " + endpoint.address.address().to_string() + ":" +
                                    std::to_string(endpoint.address.port()) + ": " + ec.message()};
    }

    register_for_reads_only(tcp_layer, endpoint.address.protocol(), ec);
    if (ec) {
        ++stats_.failures;
        co_return UpstreamLease{nullptr, false, UpstreamFailure::unreachable,
                                "connect: " + ec.message()};
    }

    SSL* ssl = stream->native_handle();
    SSL_set_tlsext_host_name(ssl, endpoint.host.c_str());
    SSL_set1_host(ssl, endpoint.host.c_str());
    SSL_set_verify(ssl, SSL_VERIFY_PEER, nullptr);
    if (auto it = sessions_.find(endpoint); it != sessions_.end())
        SSL_set_session(ssl, it->second.get());

    co_await stream->async_handshake(net::ssl::stream_base::client,
                                     net::redirect_error(net::use_awaitable, ec));
    if (ec) {
        ++stats_.failures;
        sessions_.erase(endpoint);
        const bool timed_out = deadline.timed_out();
        std::string detail = ec.message();
        const long verify = SSL_get_verify_result(ssl);
        if (verify != X509_V_OK) detail = X509_verify_cert_error_string(verify);
        co_return UpstreamLease{nullptr, false,
                                timed_out ? UpstreamFailure::timeout : UpstreamFailure::tls,
                                "TLS handshake with " + endpoint.host + ": " + detail};
    }
    if (SSL_session_reused(ssl)) ++stats_.resumed_handshakes;
    remember_session(endpoint, ssl);
    deadline.disarm();
    co_return UpstreamLease{std::move(stream), false, UpstreamFailure::none, {}};
}

}  // namespace sluice
