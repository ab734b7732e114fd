#include "agent/proxy/proxy_worker.h"

#include <sys/socket.h>

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "agent/common/netns_cookie.h"
#include "agent/proxy/client_connection.h"

namespace sluice {

namespace net = boost::asio;
using tcp = net::ip::tcp;

void report_session_error(std::exception_ptr error) {
    if (!error) return;
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        spdlog::error("proxy: session ended by an unexpected error: {}", e.what());
    }
}

std::unique_ptr<net::ssl::context> wrap_ssl_context(const std::shared_ptr<SSL_CTX>& ctx) {
    SSL_CTX_up_ref(ctx.get());  // asio's context frees its handle; give it its own reference
    return std::make_unique<net::ssl::context>(ctx.get());
}

namespace {

tcp::acceptor bind_listener(net::io_context& io, const tcp::endpoint& endpoint) {
    tcp::acceptor acceptor(io);
    boost::system::error_code ec;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) {
        const int on = 1;
        if (::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0)
            ec.assign(errno, boost::system::system_category());
    }
    if (!ec && endpoint.address().is_v6()) acceptor.set_option(net::ip::v6_only(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec)
        throw std::runtime_error("listen: cannot listen on " + endpoint.address().to_string() +
                                 ":" + std::to_string(endpoint.port()) + ": " + ec.message());
    return acceptor;
}

// The acceptor is shared with the loop: a namespace's listeners are dropped while their loops
// still wait in accept, and the loop ends (operation_aborted) after the drop forgot them.
net::awaitable<void> accept_loop(ProxyWorker& worker, std::shared_ptr<tcp::acceptor> listener,
                                 uint64_t netns_cookie) {
    tcp::acceptor& acceptor = *listener;
    for (;;) {
        boost::system::error_code ec;
        tcp::endpoint peer;  // from accept() itself: no getpeername() per connection
        tcp::socket socket =
            co_await acceptor.async_accept(peer, net::redirect_error(net::use_awaitable, ec));
        if (ec == net::error::operation_aborted || !acceptor.is_open()) co_return;
        if (ec) {
            // EMFILE and friends: back off briefly instead of spinning.
            spdlog::warn("proxy: accept failed: {}", ec.message());
            net::steady_timer pause(worker.io(), std::chrono::milliseconds(50));
            co_await pause.async_wait(net::redirect_error(net::use_awaitable, ec));
            continue;
        }
        net::co_spawn(worker.io(),
                      serve_client_connection(worker, std::move(socket), peer, netns_cookie),
                      report_session_error);
    }
}

}  // namespace

ProxyWorker::ProxyWorker(ProxyContext& context, const std::vector<tcp::endpoint>& listen)
    : context_(context) {
    for (const auto& endpoint : listen)
        acceptors_.push_back(std::make_shared<tcp::acceptor>(bind_listener(io_, endpoint)));
    host_netns_cookie_ = current_netns_cookie();
    const auto& limits = context_.config.limits;
    const UpstreamTimeouts timeouts{std::chrono::milliseconds(limits.upstream_connect_timeout_ms),
                                    std::chrono::milliseconds(limits.upstream_read_timeout_ms)};
    for (const auto& host : context_.upstreams.hosts()) {
        HostUpstream& entry = upstreams_[host->name];
        entry.host = host.get();
        entry.tls = wrap_ssl_context(host->client_context);
        entry.pool = std::make_unique<UpstreamPool>(io_.get_executor(), *entry.tls, timeouts);
    }
}

ProxyWorker::HostUpstream* ProxyWorker::upstream_for(const std::string& host) {
    auto it = upstreams_.find(host);
    return it == upstreams_.end() ? nullptr : &it->second;
}

ProxyWorker::~ProxyWorker() {
    io_.stop();
    join();
}

void ProxyWorker::post_heartbeat(uint64_t beat) {
    boost::asio::post(io_, [this, beat] { heartbeat_.store(beat, std::memory_order_relaxed); });
}

void ProxyWorker::start() {
    for (auto& acceptor : acceptors_)
        net::co_spawn(io_, accept_loop(*this, acceptor, host_netns_cookie_), net::detached);
    thread_ = std::thread([this] { io_.run(); });
}

void ProxyWorker::stop_accepting() {
    net::post(io_, [this] {
        boost::system::error_code ignored;
        for (auto& acceptor : acceptors_) acceptor->close(ignored);
        for (auto& [cookie, acceptors] : namespace_acceptors_)
            for (auto& acceptor : acceptors) acceptor->close(ignored);
        namespace_acceptors_.clear();
    });
}

void ProxyWorker::adopt_namespace(uint64_t netns_cookie, std::vector<UniqueFd> listeners) {
    auto fds = std::make_shared<std::vector<UniqueFd>>(std::move(listeners));
    net::post(io_, [this, netns_cookie, fds] {
        auto& acceptors = namespace_acceptors_[netns_cookie];
        for (UniqueFd& fd : *fds) {
            sockaddr_storage local{};
            socklen_t len = sizeof(local);
            if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&local), &len) != 0) continue;
            const tcp protocol = local.ss_family == AF_INET6 ? tcp::v6() : tcp::v4();
            boost::system::error_code ec;
            auto acceptor = std::make_shared<tcp::acceptor>(io_);
            acceptor->assign(protocol, fd.get(), ec);
            if (ec) {
                spdlog::warn("proxy: cannot serve a namespace's listener: {}", ec.message());
                continue;
            }
            (void)fd.release();  // the acceptor owns it now
            net::co_spawn(io_, accept_loop(*this, acceptor, netns_cookie), net::detached);
            acceptors.push_back(std::move(acceptor));
        }
    });
}

void ProxyWorker::drop_namespace(uint64_t netns_cookie) {
    net::post(io_, [this, netns_cookie] {
        const auto it = namespace_acceptors_.find(netns_cookie);
        if (it == namespace_acceptors_.end()) return;
        boost::system::error_code ignored;
        for (auto& acceptor : it->second) acceptor->close(ignored);
        namespace_acceptors_.erase(it);
    });
}

void ProxyWorker::join() {
    if (thread_.joinable()) thread_.join();
}

net::ssl::context* ProxyWorker::server_context(const std::string& sni) {
    std::shared_ptr<SSL_CTX> native = context_.server_context(sni);
    if (!native) return nullptr;
    auto& slot = server_contexts_[sni];
    if (slot.native != native) {  // first use, or the CA renewed the leaf
        slot.wrapped = wrap_ssl_context(native);
        slot.native = std::move(native);
    }
    return slot.wrapped.get();
}

}  // namespace sluice
