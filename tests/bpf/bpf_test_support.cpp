#include "tests/bpf/bpf_test_support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>

#include "agent/common/netns_cookie.h"
#include "agent/loader/cgroup.h"

namespace sluice::test {
namespace {

void fail(const std::string& what) { throw std::runtime_error(what + ": " + std::strerror(errno)); }

void write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path);
    out << text;
    out.flush();
    if (!out) throw std::runtime_error("cannot write " + path);
}

ClientReport& failed(ClientReport& report, const char* step) {
    report.error = errno;
    std::strncpy(report.step, step, sizeof(report.step) - 1);
    return report;
}

}  // namespace

SockAddr make_addr(const std::string& ip, uint16_t port) {
    SockAddr addr;
    auto* sin = reinterpret_cast<sockaddr_in*>(&addr.storage);
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&addr.storage);
    if (inet_pton(AF_INET, ip.c_str(), &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        addr.len = sizeof(sockaddr_in);
    } else if (inet_pton(AF_INET6, ip.c_str(), &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        addr.len = sizeof(sockaddr_in6);
    } else {
        throw std::runtime_error("bad test address " + ip);
    }
    return addr;
}

std::string to_string(const SockAddr& addr) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (addr.family() == AF_INET) {
        const auto* sin = reinterpret_cast<const sockaddr_in*>(&addr.storage);
        inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf));
        return std::string(buf) + ":" + std::to_string(ntohs(sin->sin_port));
    }
    if (addr.family() == AF_INET6) {
        const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&addr.storage);
        inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf));
        return "[" + std::string(buf) + "]:" + std::to_string(ntohs(sin6->sin6_port));
    }
    return "<family " + std::to_string(addr.family()) + ">";
}

uint16_t port_of(const SockAddr& addr) {
    if (addr.family() == AF_INET) {
        return ntohs(reinterpret_cast<const sockaddr_in*>(&addr.storage)->sin_port);
    }
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&addr.storage)->sin6_port);
}

TestCgroup::TestCgroup(const std::string& path) : path_(path) {
    if (::mkdir(path.c_str(), 0755) != 0) fail("mkdir " + path);
    id_ = cgroup_id_of(path);
}

TestCgroup::~TestCgroup() {
    // Children may still be in there (a failed test): kill them, then wait for the cgroup to
    // empty before rmdir. Nested test cgroups are removed first.
    for (int attempt = 0; attempt < 200; ++attempt) {
        std::ofstream(path_ + "/cgroup.kill") << "1";
        std::error_code ec;
        for (const auto& entry : std::filesystem::directory_iterator(path_, ec)) {
            if (entry.is_directory(ec)) ::rmdir(entry.path().c_str());
        }
        if (::rmdir(path_.c_str()) == 0 || errno == ENOENT) return;
        ::usleep(10'000);
    }
}

TagListener::TagListener(const std::vector<std::string>& ips, uint16_t port, char tag)
    : port_(port), tag_(tag) {
    for (int attempt = 0; attempt < 50 && listen_fds_.size() != ips.size(); ++attempt) {
        listen_fds_.clear();
        port_ = port;
        for (const std::string& ip : ips) {
            SockAddr addr = make_addr(ip, port_);
            UniqueFd fd(::socket(addr.family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
            if (!fd) fail("socket");
            int one = 1;
            ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
            if (addr.family() == AF_INET6) {
                ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
            }
            if (::bind(fd.get(), addr.get(), addr.len) != 0) {
                if (errno == EADDRINUSE && port == 0) break;  // pick another shared port
                fail("bind " + to_string(addr));
            }
            if (::listen(fd.get(), 4096) != 0) fail("listen");
            if (port_ == 0) {
                SockAddr bound;
                bound.len = sizeof(bound.storage);
                ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound.storage), &bound.len);
                port_ = port_of(bound);
            }
            listen_fds_.push_back(std::move(fd));
        }
    }
    if (listen_fds_.size() != ips.size()) throw std::runtime_error("cannot bind stub listener");
    wake_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    thread_ = std::thread([this] { run(); });
}

TagListener::~TagListener() {
    stop_ = true;
    uint64_t one = 1;
    (void)!::write(wake_fd_.get(), &one, sizeof(one));
    thread_.join();
}

void TagListener::set_table(std::optional<ConnectionTable> table) {
    std::lock_guard lock(mu_);
    table_ = std::move(table);
}

void TagListener::adopt(uint64_t netns_cookie, std::vector<UniqueFd> listeners) {
    {
        std::lock_guard lock(mu_);
        for (UniqueFd& fd : listeners) {
            adopted_[fd.get()] = netns_cookie;
            listen_fds_.push_back(std::move(fd));
        }
    }
    uint64_t one = 1;
    (void)!::write(wake_fd_.get(), &one, sizeof(one));
}

void TagListener::drop_adopted(uint64_t netns_cookie) {
    {
        std::lock_guard lock(mu_);
        std::erase_if(listen_fds_, [&](const UniqueFd& fd) {
            const auto it = adopted_.find(fd.get());
            if (it == adopted_.end() || it->second != netns_cookie) return false;
            adopted_.erase(it);
            return true;
        });
    }
    uint64_t one = 1;
    (void)!::write(wake_fd_.get(), &one, sizeof(one));
}

size_t TagListener::adopted_namespaces() const {
    std::lock_guard lock(mu_);
    std::set<uint64_t> cookies;
    for (const auto& [fd, cookie] : adopted_) cookies.insert(cookie);
    return cookies.size();
}

void TagListener::stop_listening() {
    std::lock_guard lock(mu_);
    for (auto& fd : listen_fds_) ::shutdown(fd.get(), SHUT_RDWR);  // closed by the thread
}

std::optional<sluice_conn_meta> TagListener::wait_record(uint16_t client_port, int timeout_ms) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                      [&] { return records_.contains(client_port); })) {
        throw std::runtime_error("listener never accepted client port " +
                                 std::to_string(client_port));
    }
    auto record = records_[client_port];
    records_.erase(client_port);
    return record;
}

bool TagListener::wait_idle(int timeout_ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
        if (open_count_ == 0) return true;
        ::usleep(10'000);
    }
    return false;
}

void TagListener::on_accept(int listen_fd) {
    for (;;) {
        SockAddr peer;
        peer.len = sizeof(peer.storage);
        int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&peer.storage), &peer.len,
                           SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) return;
        ++accepted_;
        {
            std::lock_guard lock(mu_);
            std::optional<sluice_conn_meta> record;
            if (table_ && take_)
                record =
                    table_->take(socket_netns_cookie(listen_fd).value_or(0), peer.get(), peer.len);
            if (take_) records_[port_of(peer)] = record;
        }
        cv_.notify_all();
        (void)::send(fd, &tag_, 1, MSG_NOSIGNAL);
        open_conns_.emplace_back(fd);
        open_count_ = open_conns_.size();
    }
}

void TagListener::run() {
    std::vector<pollfd> fds;
    while (!stop_) {
        fds.clear();
        fds.push_back({wake_fd_.get(), POLLIN, 0});
        {
            std::lock_guard lock(mu_);
            for (auto& fd : listen_fds_) fds.push_back({fd.get(), POLLIN, 0});
        }
        const size_t first_conn = fds.size();
        for (auto& fd : open_conns_) fds.push_back({fd.get(), POLLIN, 0});
        if (::poll(fds.data(), fds.size(), 200) < 0 && errno != EINTR) return;
        if (fds[0].revents & POLLIN) {
            uint64_t count = 0;
            (void)!::read(wake_fd_.get(), &count, sizeof(count));
            continue;  // the set of listeners changed
        }
        for (size_t i = 1; i < first_conn; ++i) {
            if (fds[i].revents & (POLLERR | POLLHUP)) {
                std::lock_guard lock(mu_);
                std::erase_if(listen_fds_,
                              [&](const UniqueFd& fd) { return fd.get() == fds[i].fd; });
            } else if (fds[i].revents & POLLIN) {
                on_accept(fds[i].fd);
            }
        }
        // The client closes first (RST): then we close, so neither side keeps TIME_WAIT.
        std::vector<int> done;
        for (size_t i = first_conn; i < fds.size(); ++i) {
            if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
                char buf[256];
                ssize_t n = ::recv(fds[i].fd, buf, sizeof(buf), 0);
                if (n <= 0 && !(n < 0 && errno == EAGAIN)) done.push_back(fds[i].fd);
            }
        }
        std::erase_if(open_conns_, [&](const UniqueFd& fd) {
            return std::find(done.begin(), done.end(), fd.get()) != done.end();
        });
        open_count_ = open_conns_.size();
    }
}

ClientReport client_connect(const ConnectSpec& spec) {
    ClientReport report;
    report.tgid = static_cast<uint32_t>(::getpid());
    report.tid = static_cast<uint32_t>(::gettid());
    report.uid = ::getuid();
    report.gid = ::getgid();
    ::prctl(PR_GET_NAME, report.comm);

    const SockAddr dst = make_addr(spec.ip, spec.port);
    UniqueFd fd(::socket(dst.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return failed(report, "socket");
    timeval timeout{5, 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    linger reset{1, 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
    if (spec.mark != 0 &&
        ::setsockopt(fd.get(), SOL_SOCKET, SO_MARK, &spec.mark, sizeof(spec.mark)) != 0) {
        return failed(report, "so_mark");
    }
    switch (spec.mode) {
        case ConnectMode::plain:
            if (::connect(fd.get(), dst.get(), dst.len) != 0) {
                return failed(report, "connect");
            }
            break;
        case ConnectMode::fastopen_sendto:
            if (::sendto(fd.get(), "x", 1, MSG_FASTOPEN, dst.get(), dst.len) != 1) {
                return failed(report, "sendto_tfo");
            }
            break;
        case ConnectMode::fastopen_connect: {
            int one = 1;
            if (::setsockopt(fd.get(), IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &one, sizeof(one)) != 0) {
                return failed(report, "tfo_sockopt");
            }
            if (::connect(fd.get(), dst.get(), dst.len) != 0) {
                return failed(report, "connect");
            }
            if (::send(fd.get(), "x", 1, MSG_NOSIGNAL) != 1) return failed(report, "send");
            break;
        }
    }
    SockAddr local;
    local.len = sizeof(local.storage);
    ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&local.storage), &local.len);
    report.local_port = port_of(local);
    report.peer.len = sizeof(report.peer.storage);
    if (::getpeername(fd.get(), reinterpret_cast<sockaddr*>(&report.peer.storage),
                      &report.peer.len) != 0) {
        return failed(report, "getpeername");
    }
    if (spec.read_tag && ::recv(fd.get(), &report.landed, 1, 0) != 1) {
        return failed(report, "recv");
    }
    return report;
}

std::string run_in_cgroup_bytes(const std::string& cgroup_dir,
                                const std::function<std::string()>& body,
                                const std::function<void(pid_t)>& before_go, int timeout_ms) {
    int result_pipe[2], go_pipe[2];
    if (::pipe2(result_pipe, O_CLOEXEC) != 0 || ::pipe2(go_pipe, O_CLOEXEC) != 0) fail("pipe");
    const pid_t child = ::fork();
    if (child < 0) fail("fork");
    if (child == 0) {
        ::close(result_pipe[0]);
        ::close(go_pipe[1]);
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        std::string result;
        try {
            write_file(cgroup_dir + "/cgroup.procs", std::to_string(::getpid()));
            char go;
            if (::read(go_pipe[0], &go, 1) != 1) ::_exit(3);
            result = body();
        } catch (...) {
            ::_exit(2);
        }
        size_t off = 0;
        while (off < result.size()) {
            ssize_t n = ::write(result_pipe[1], result.data() + off, result.size() - off);
            if (n <= 0) ::_exit(4);
            off += static_cast<size_t>(n);
        }
        ::_exit(0);
    }
    ::close(result_pipe[1]);
    ::close(go_pipe[0]);
    UniqueFd result_fd(result_pipe[0]), go_fd(go_pipe[1]);
    // The child must be in the cgroup before it runs: its own write precedes the go read, and
    // before_go may need the pid (exemptions).
    if (before_go) before_go(child);
    (void)!::write(go_fd.get(), "g", 1);

    std::string result;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        pollfd pfd{result_fd.get(), POLLIN, 0};
        if (left.count() <= 0 || ::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) {
            ::kill(child, SIGKILL);
            ::waitpid(child, nullptr, 0);
            throw std::runtime_error("client child timed out");
        }
        char buf[4096];
        ssize_t n = ::read(result_fd.get(), buf, sizeof(buf));
        if (n <= 0) break;
        result.append(buf, static_cast<size_t>(n));
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        throw std::runtime_error("client child failed, status " + std::to_string(status));
    }
    return result;
}

std::string unique_loopback_ip() {
    const unsigned pid = static_cast<unsigned>(::getpid());
    return "127.11." + std::to_string((pid >> 8) & 0xff) + "." + std::to_string(pid & 0xff);
}

}  // namespace sluice::test
