#include "agent/netns/namespace_server.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <future>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include <spdlog/spdlog.h>

#include "agent/common/netns_cookie.h"
#include "agent/common/socket_mark.h"
#include "agent/netns/namespace_owner.h"

#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78
#endif

namespace sluice {
namespace {

constexpr size_t kLatencyWindow = 1024;

uint64_t monotonic_ns() {
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    return static_cast<uint64_t>(now.tv_sec) * 1'000'000'000ull +
           static_cast<uint64_t>(now.tv_nsec);
}

std::string errno_text() { return std::strerror(errno); }

// A listening socket on the loopback address of the calling thread's namespace, on `port` when
// it is free there and on a port of the kernel's choosing otherwise (something in the
// namespace took it first: the redirect goes to whichever port sluiced holds). IP_FREEBIND: a
// namespace whose `lo` is still down (being set up) gets the listener all the same, and it
// accepts from the moment `lo` is up. Returns the socket and the port, or an empty fd.
std::pair<UniqueFd, uint16_t> listen_on_loopback(int family, uint16_t port) {
    UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) return {};
    const int on = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    sockaddr_storage storage{};
    socklen_t len = 0;
    if (family == AF_INET) {
        ::setsockopt(fd.get(), IPPROTO_IP, IP_FREEBIND, &on, sizeof on);
        auto* sin = reinterpret_cast<sockaddr_in*>(&storage);
        sin->sin_family = AF_INET;
        sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sin->sin_port = htons(port);
        len = sizeof(sockaddr_in);
    } else {
        ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
        ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_FREEBIND, &on, sizeof on);
        auto* sin6 = reinterpret_cast<sockaddr_in6*>(&storage);
        sin6->sin6_family = AF_INET6;
        sin6->sin6_addr = in6addr_loopback;
        sin6->sin6_port = htons(port);
        len = sizeof(sockaddr_in6);
    }
    auto* addr = reinterpret_cast<sockaddr*>(&storage);
    if (::bind(fd.get(), addr, len) != 0) {
        if (errno != EADDRINUSE || port == 0) return {};
        reinterpret_cast<sockaddr_in*>(&storage)->sin_port = 0;  // same offset in sockaddr_in6
        if (::bind(fd.get(), addr, len) != 0) return {};
    }
    if (::listen(fd.get(), SOMAXCONN) != 0) return {};
    sockaddr_storage bound{};
    socklen_t bound_len = sizeof(bound);
    if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &bound_len) != 0) return {};
    const uint16_t bound_port =
        ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
    return {std::move(fd), bound_port};
}

// A UDP socket for route lookups in the calling thread's namespace: dual-stack when the kernel
// has IPv6, IPv4 only when it has not. Marked like sluiced's upstream sockets: its connect() to
// a target on 443 is sluiced's own (the QUIC refusal does not apply), whoever else exempts it.
UniqueFd open_probe() {
    UniqueFd fd(::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (fd) {
        const int off = 0;
        ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
    } else {
        fd.reset(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    }
    if (fd) mark_as_sluice_socket(fd.get());
    return fd;
}

double percentile(std::vector<double> values, double p) {
    if (values.empty()) return 0;
    std::sort(values.begin(), values.end());
    const size_t index = std::min(values.size() - 1, static_cast<size_t>(p * values.size()));
    return values[index];
}

}  // namespace

NamespaceServer::NamespaceServer(NamespaceServerOptions options, NetnsTable table,
                                 uint64_t host_netns_cookie, int events_map_fd, NetnsWatch& watch,
                                 AdoptListeners adopt, DropListeners drop)
    : options_(options),
      table_(std::move(table)),
      host_cookie_(host_netns_cookie),
      watch_(watch),
      adopt_(std::move(adopt)),
      drop_(std::move(drop)),
      events_(events_map_fd, [this](const sluice_netns_event& event) { on_event(event); }) {}

NamespaceServer::~NamespaceServer() { stop(); }

void NamespaceServer::start() {
    host_ns_.reset(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    if (!host_ns_)
        throw std::runtime_error("cannot open this thread's network namespace: " + errno_text());
    // Entering the namespace we are in changes nothing and fails exactly when entering any
    // other would (ztunnel's InpodNetns::capable does the same).
    if (::setns(host_ns_.get(), CLONE_NEWNET) != 0)
        throw std::runtime_error(
            "cannot enter network namespaces (setns needs CAP_SYS_ADMIN), so containers "
            "cannot be served: " +
            errno_text() + "; set namespaces.serve: false to run without");
    wake_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!wake_) throw std::runtime_error("eventfd: " + errno_text());
    std::promise<void> started;
    std::future<void> ready = started.get_future();
    thread_ = std::thread([this, &started] {
        ::pthread_setname_np(::pthread_self(), "sluice-netns");
        rescan();
        started.set_value();
        run();
    });
    ready.wait();
}

void NamespaceServer::stop() {
    if (!thread_.joinable()) return;
    stopping_ = true;
    const uint64_t one = 1;
    if (::write(wake_.get(), &one, sizeof one) < 0) spdlog::warn("netns: wake: {}", errno_text());
    thread_.join();
    std::map<uint64_t, Served> served;
    {
        std::lock_guard lock(mu_);
        served.swap(served_);
    }
    // Routes first: a connect from now on is held (and refused once sluiced is gone) instead of
    // being sent to a listener that is about to close.
    for (const auto& [cookie, entry] : served) table_.erase(cookie);
    for (const auto& [cookie, entry] : served) drop_(cookie);
}

void NamespaceServer::run() {
    auto next_rescan = std::chrono::steady_clock::now() + options_.rescan_interval;
    pollfd fds[2] = {{events_.fd(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
    while (!stopping_) {
        const auto now = std::chrono::steady_clock::now();
        const auto due = std::min(next_rescan, release_check_at_);
        const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(due - now);
        const int timeout = static_cast<int>(std::clamp<int64_t>(wait.count() + 1, 0, 60'000));
        if (::poll(fds, 2, timeout) < 0 && errno != EINTR) {
            spdlog::error("netns: poll: {}", errno_text());
            return;
        }
        if (stopping_) return;
        events_.drain();
        const auto after = std::chrono::steady_clock::now();
        if (after >= next_rescan || after >= release_check_at_) {
            rescan();
            release_check_at_ = std::chrono::steady_clock::time_point::max();
            next_rescan = after + options_.rescan_interval;
        }
    }
}

bool NamespaceServer::is_served(uint64_t cookie) const {
    std::lock_guard lock(mu_);
    return cookie == host_cookie_ || served_.contains(cookie);
}

void NamespaceServer::on_event(const sluice_netns_event& event) {
    {
        std::lock_guard lock(mu_);
        ++stats_.events;
    }
    spdlog::trace("netns: event {} for namespace {} (task {}/{}, inode {})", event.reason,
                  event.netns_cookie, event.tgid, event.tid, event.inum);
    if (event.reason == SLUICE_NETNS_RELEASED) {
        // The host's namespace is never released (its processes with private namespaces of
        // other kinds exit all the time).
        if (event.netns_cookie == host_cookie_) return;
        if (release_check_at_ == std::chrono::steady_clock::time_point::max())
            release_check_at_ = std::chrono::steady_clock::now() + options_.release_check_delay;
        return;
    }
    if (is_served(event.netns_cookie)) return;
    serve_task(event.tgid, event.tid, event.inum, event.ts_ns, event.reason);
}

void NamespaceServer::serve_task(uint32_t tgid, uint32_t tid, uint32_t inum, uint64_t since_ns,
                                 uint32_t reason) {
    const std::string path =
        tgid != 0 ? "/proc/" + std::to_string(tgid) + "/task/" + std::to_string(tid) + "/ns/net"
                  : "/proc/" + std::to_string(tid) + "/ns/net";
    UniqueFd ns(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns) return;  // the task is gone: a later task, connect or rescan names the namespace
    struct stat st {};
    if (::fstat(ns.get(), &st) != 0) return;
    // The task already moved on (e.g. a runtime's thread that made the namespace, bind-mounted
    // it and went back): what it is in now is not what the kernel announced.
    if (inum != 0 && st.st_ino != inum) return;
    {
        std::lock_guard lock(mu_);
        for (const auto& [cookie, entry] : served_)
            if (entry.inode == st.st_ino) return;
    }
    // A namespace whose owner the kernel does not name counts against one shared "unknown" user.
    const uid_t owner = namespace_owner_uid(ns.get()).value_or(static_cast<uid_t>(-1));
    if (owner != 0 && over_limit(owner)) {
        refuse(ns.get(), st.st_ino, owner);
        return;
    }
    std::optional<Opened> opened = open_in(ns.get());
    if (!opened) {
        std::lock_guard lock(mu_);
        ++stats_.failed_total;
        return;
    }
    if (is_served(opened->cookie)) return;  // the host's, or served meanwhile
    try {
        table_.put(opened->cookie, opened->route);
    } catch (const std::exception& e) {
        spdlog::error("netns: {}", e.what());
        std::lock_guard lock(mu_);
        ++stats_.failed_total;
        return;
    }
    const uint64_t ready_ns = monotonic_ns();
    Served served{static_cast<uint64_t>(st.st_ino),
                  owner,
                  false,
                  opened->route,
                  std::make_shared<UniqueFd>(std::move(opened->probe)),
                  std::make_shared<std::mutex>()};
    {
        std::lock_guard lock(mu_);
        served_.emplace(opened->cookie, std::move(served));
        ++stats_.served_total;
        switch (reason) {
            case SLUICE_NETNS_CLONED:
                ++stats_.served_on_clone;
                break;
            case SLUICE_NETNS_SWITCHED:
                ++stats_.served_on_exec;
                break;
            case SLUICE_NETNS_CONNECT:
                ++stats_.served_on_connect;
                break;
            default:
                ++stats_.served_on_rescan;
                break;
        }
        if (since_ns != 0 && ready_ns > since_ns) {
            latencies_us_.push_back(static_cast<double>(ready_ns - since_ns) / 1000.0);
            if (latencies_us_.size() > kLatencyWindow) latencies_us_.pop_front();
        }
    }
    spdlog::debug("netns: serving network namespace {} (inode {}) on 127.0.0.1:{}{}",
                  opened->cookie, st.st_ino, opened->route.port4,
                  opened->route.v6 ? " and [::1]:" + std::to_string(opened->route.port6) : "");
    adopt_(NamespaceListeners{opened->cookie, std::move(opened->listeners)});
}

std::optional<NamespaceServer::Opened> NamespaceServer::open_in(int ns_fd) {
    if (::setns(ns_fd, CLONE_NEWNET) != 0) {
        spdlog::warn("netns: cannot enter a network namespace: {}", errno_text());
        return std::nullopt;
    }
    Opened opened;
    auto [v4, port4] = listen_on_loopback(AF_INET, options_.port);
    // The same port for IPv6 when it is free: one number per namespace to look for.
    auto [v6, port6] = listen_on_loopback(AF_INET6, v4 ? port4 : options_.port);
    opened.probe = open_probe();
    std::optional<uint64_t> cookie;
    for (const UniqueFd* fd : {&v4, &v6, &opened.probe})
        if (*fd && !cookie) cookie = socket_netns_cookie(fd->get());
    if (::setns(host_ns_.get(), CLONE_NEWNET) != 0) {
        // This thread would make every later socket in a container's namespace.
        spdlog::critical("netns: cannot return to the host's network namespace: {}", errno_text());
        std::abort();
    }
    if (!cookie) {
        spdlog::warn("netns: no socket could be opened in a network namespace");
        return std::nullopt;
    }
    opened.cookie = *cookie;
    opened.route.addr4 = v4_mapped(htonl(INADDR_LOOPBACK));
    opened.route.addr6 = *parse_ip_address("::1");
    if (v4) {
        opened.route.v4 = true;
        opened.route.port4 = port4;
        opened.listeners.push_back(std::move(v4));
    }
    if (v6) {
        opened.route.v6 = true;
        opened.route.port6 = port6;
        opened.listeners.push_back(std::move(v6));
    }
    return opened;
}

bool NamespaceServer::over_limit(uid_t owner) const {
    if (options_.max_per_user == 0) return false;
    std::lock_guard lock(mu_);
    size_t count = 0;
    for (const auto& [cookie, entry] : served_)
        if (entry.owner == owner && !entry.refused) ++count;
    return count >= options_.max_per_user;
}

void NamespaceServer::refuse(int ns_fd, uint64_t inode, uid_t owner) {
    if (::setns(ns_fd, CLONE_NEWNET) != 0) return;
    UniqueFd probe(::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!probe) probe.reset(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    const std::optional<uint64_t> cookie = probe ? socket_netns_cookie(probe.get()) : std::nullopt;
    if (::setns(host_ns_.get(), CLONE_NEWNET) != 0) {
        spdlog::critical("netns: cannot return to the host's network namespace: {}", errno_text());
        std::abort();
    }
    if (!cookie || is_served(*cookie)) return;
    NamespaceRoute refusing;  // neither family: the redirect refuses every connect (EPERM)
    try {
        table_.put(*cookie, refusing);
    } catch (const std::exception& e) {
        spdlog::error("netns: {}", e.what());
        return;
    }
    bool first_for_owner = false;
    {
        std::lock_guard lock(mu_);
        served_.emplace(*cookie, Served{inode, owner, true, refusing, nullptr, nullptr});
        ++stats_.refused_over_limit;
        first_for_owner = refused_owners_.insert(owner).second;
    }
    const auto level = first_for_owner ? spdlog::level::warn : spdlog::level::debug;
    spdlog::log(
        level,
        "netns: user {} already has {} network namespaces served (namespaces.max_per_user): "
        "connections from namespace {} (inode {}) are refused",
        owner, options_.max_per_user, *cookie, inode);
}

void NamespaceServer::rescan() {
    std::vector<sluice_task_netns> tasks;
    try {
        tasks = watch_.tasks();
    } catch (const std::exception& e) {
        spdlog::error("netns: {}", e.what());
        return;
    }
    std::unordered_set<uint64_t> live;
    std::unordered_map<uint64_t, sluice_task_netns> unserved;
    for (const sluice_task_netns& task : tasks) {
        live.insert(task.netns_cookie);
        if (!is_served(task.netns_cookie)) unserved.emplace(task.netns_cookie, task);
    }
    std::vector<uint64_t> gone;
    {
        std::lock_guard lock(mu_);
        ++stats_.rescans;
        for (const auto& [cookie, entry] : served_)
            if (!live.contains(cookie)) gone.push_back(cookie);
    }
    for (uint64_t cookie : gone) release(cookie);
    for (const auto& [cookie, task] : unserved) serve_task(task.tgid, task.tid, task.inum, 0, 0);
}

void NamespaceServer::release(uint64_t cookie) {
    table_.erase(cookie);
    {
        std::lock_guard lock(mu_);
        const auto it = served_.find(cookie);
        if (it == served_.end()) return;
        const bool refused = it->second.refused;
        served_.erase(it);
        if (refused) return;  // no listeners to close
        ++stats_.released_total;
    }
    spdlog::debug("netns: network namespace {} has no task left: listeners closed", cookie);
    drop_(cookie);
}

bool NamespaceServer::reaches(uint64_t netns_cookie,
                              const boost::asio::ip::tcp::endpoint& destination) const {
    if (netns_cookie == host_cookie_) return true;
    std::shared_ptr<UniqueFd> probe;
    std::shared_ptr<std::mutex> probe_mu;
    {
        std::lock_guard lock(mu_);
        const auto it = served_.find(netns_cookie);
        if (it == served_.end()) return false;
        probe = it->second.probe;
        probe_mu = it->second.probe_mu;
    }
    if (!probe || !*probe) return false;
    sockaddr_storage storage{};
    socklen_t len = 0;
    int family = AF_UNSPEC;
    socklen_t family_len = sizeof(family);
    ::getsockopt(probe->get(), SOL_SOCKET, SO_DOMAIN, &family, &family_len);
    const boost::asio::ip::address address = destination.address();
    if (family == AF_INET6) {
        auto* sin6 = reinterpret_cast<sockaddr_in6*>(&storage);
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(destination.port());
        const auto bytes = address.is_v4() ? boost::asio::ip::make_address_v6(
                                                 boost::asio::ip::v4_mapped, address.to_v4())
                                                 .to_bytes()
                                           : address.to_v6().to_bytes();
        std::memcpy(&sin6->sin6_addr, bytes.data(), 16);
        len = sizeof(sockaddr_in6);
    } else {
        if (!address.is_v4()) return false;
        auto* sin = reinterpret_cast<sockaddr_in*>(&storage);
        sin->sin_family = AF_INET;
        sin->sin_port = htons(destination.port());
        const auto bytes = address.to_v4().to_bytes();
        std::memcpy(&sin->sin_addr, bytes.data(), 4);
        len = sizeof(sockaddr_in);
    }
    std::lock_guard lock(*probe_mu);
    const bool routed = ::connect(probe->get(), reinterpret_cast<sockaddr*>(&storage), len) == 0;
    sockaddr unspec{};
    unspec.sa_family = AF_UNSPEC;
    ::connect(probe->get(), &unspec, sizeof(unspec));
    return routed;
}

NamespaceServerStats NamespaceServer::stats() const {
    std::lock_guard lock(mu_);
    NamespaceServerStats out = stats_;
    out.served = static_cast<size_t>(std::count_if(
        served_.begin(), served_.end(), [](const auto& entry) { return !entry.second.refused; }));
    out.ready_latency_us.assign(latencies_us_.begin(), latencies_us_.end());
    return out;
}

nlohmann::json NamespaceServer::status_json() const {
    const NamespaceServerStats s = stats();
    nlohmann::json latency = {{"count", s.ready_latency_us.size()},
                              {"p50_us", percentile(s.ready_latency_us, 0.5)},
                              {"max_us", percentile(s.ready_latency_us, 1.0)}};
    return {{"serving", true},
            {"served", s.served},
            {"served_total", s.served_total},
            {"released_total", s.released_total},
            {"failed_total", s.failed_total},
            {"refused_over_limit", s.refused_over_limit},
            {"max_per_user", options_.max_per_user},
            {"events", s.events},
            {"rescans", s.rescans},
            {"served_on",
             {{"clone", s.served_on_clone},
              {"exec", s.served_on_exec},
              {"connect", s.served_on_connect},
              {"rescan", s.served_on_rescan}}},
            {"ready_latency", latency}};
}

}  // namespace sluice
