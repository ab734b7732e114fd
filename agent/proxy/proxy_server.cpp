#include "agent/proxy/proxy_server.h"

#include <chrono>
#include <thread>

#include <spdlog/spdlog.h>
#include <boost/asio/ip/address.hpp>

#include "agent/common/limits.h"
#include "agent/proxy/proxy_worker.h"

namespace sluice {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

// The configured listener, plus its other-family loopback twin at the same port: IPv6
// redirects land on ::1, IPv4 (and v4-mapped) ones on 127.0.0.1.
std::vector<tcp::endpoint> listen_endpoints(const HostPort& listen) {
    boost::system::error_code ec;
    auto address = net::ip::make_address(listen.host, ec);
    if (ec) throw std::runtime_error("listen: '" + listen.host + "' is not an IP address");
    std::vector<tcp::endpoint> endpoints{{address, listen.port}};
    if (address.is_v4() && address.to_v4().is_loopback())
        endpoints.emplace_back(net::ip::address_v6::loopback(), listen.port);
    else if (address.is_v6() && address.to_v6().is_loopback())
        endpoints.emplace_back(net::ip::address_v4::loopback(), listen.port);
    return endpoints;
}

}  // namespace

ProxyServer::ProxyServer(ProxyContext& context, unsigned threads) : context_(context) {
    auto endpoints = listen_endpoints(context.config.listen);
    for (unsigned i = 0; i < std::max(1u, threads); ++i) {
        try {
            workers_.push_back(std::make_unique<ProxyWorker>(context, endpoints));
        } catch (const std::runtime_error& e) {
            // Hosts with IPv6 disabled have no ::1: serve IPv4 and say that IPv6 is not covered.
            if (endpoints.size() < 2) throw;
            spdlog::warn("{}; IPv6 redirects will be refused", e.what());
            endpoints.pop_back();
            workers_.clear();
            i = static_cast<unsigned>(-1);
        }
    }
}

ProxyServer::~ProxyServer() { stop(); }

void ProxyServer::start() {
    for (auto& worker : workers_) worker->start();
}

void ProxyServer::adopt_namespace(uint64_t netns_cookie, std::vector<UniqueFd> listeners) {
    if (workers_.empty()) return;
    size_t worker = 0;
    {
        std::lock_guard lock(namespaces_mu_);
        worker = next_worker_++ % workers_.size();
        namespace_worker_[netns_cookie] = worker;
    }
    workers_[worker]->adopt_namespace(netns_cookie, std::move(listeners));
}

void ProxyServer::drop_namespace(uint64_t netns_cookie) {
    size_t worker = 0;
    {
        std::lock_guard lock(namespaces_mu_);
        const auto it = namespace_worker_.find(netns_cookie);
        if (it == namespace_worker_.end()) return;
        worker = it->second;
        namespace_worker_.erase(it);
    }
    if (worker < workers_.size()) workers_[worker]->drop_namespace(netns_cookie);
}

uint64_t ProxyServer::active_sessions() const {
    uint64_t total = 0;
    for (const auto& worker : workers_) total += worker->active_sessions();
    return total;
}

bool ProxyServer::workers_responsive() {
    bool responsive = true;
    for (const auto& worker : workers_)
        responsive = responsive && worker->last_heartbeat() == beat_;
    ++beat_;
    for (auto& worker : workers_) worker->post_heartbeat(beat_);
    return responsive;
}

std::vector<boost::asio::io_context*> ProxyServer::worker_loops() {
    std::vector<boost::asio::io_context*> loops;
    for (auto& worker : workers_) loops.push_back(&worker->io());
    return loops;
}

void ProxyServer::stop() {
    if (workers_.empty()) return;
    for (auto& worker : workers_) worker->stop_accepting();
    const auto deadline = std::chrono::steady_clock::now() + limits::kShutdownDrainDeadline;
    while (active_sessions() > 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    workers_.clear();  // stops each io_context and joins its thread
}

}  // namespace sluice
