// Real-kernel test scaffolding for the redirect programs: a child cgroup the client processes
// join, a pin directory, a stub proxy / "direct" listener that tags what it accepted, and a way
// to run a client body in a forked child inside the cgroup and get a POD result back.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "agent/common/unique_fd.h"
#include "agent/loader/connection_table.h"
#include "bpf/redirect_abi.h"

namespace sluice::test {

// Tag bytes a listener writes to every connection it accepts, so the client knows where it
// landed without trusting getpeername (which the programs rewrite).
inline constexpr char kTagProxy = 'P';
inline constexpr char kTagDirect = 'D';

struct SockAddr {
    sockaddr_storage storage{};
    socklen_t len = 0;
    const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
    int family() const { return storage.ss_family; }
};

// "192.0.2.10" -> AF_INET, "2001:db8::10" / "::ffff:192.0.2.10" -> AF_INET6.
SockAddr make_addr(const std::string& ip, uint16_t port);
std::string to_string(const SockAddr& addr);
uint16_t port_of(const SockAddr& addr);

// <cgroup2 root>/<name>, removed (after killing anything left in it) on destruction.
class TestCgroup {
public:
    explicit TestCgroup(const std::string& path);
    ~TestCgroup();
    TestCgroup(const TestCgroup&) = delete;
    TestCgroup& operator=(const TestCgroup&) = delete;
    const std::string& path() const { return path_; }
    uint64_t id() const { return id_; }

private:
    std::string path_;
    uint64_t id_ = 0;
};

// A TCP listener on one or more addresses sharing a port. Each accepted connection gets `tag`
// and, if a connection table is set, is looked up (take) first; results are kept by client port.
class TagListener {
public:
    // Binds every address (port 0 in the first picks the port used for all). Throws.
    TagListener(const std::vector<std::string>& ips, uint16_t port, char tag);
    ~TagListener();
    TagListener(const TagListener&) = delete;
    TagListener& operator=(const TagListener&) = delete;

    uint16_t port() const { return port_; }
    void set_table(std::optional<ConnectionTable> table);
    void set_take(bool take) { take_ = take; }
    // Closes the listening sockets (new connects are refused); accepted ones are kept.
    void stop_listening();
    // Also accepts on listening sockets made elsewhere (another network namespace), until
    // drop_adopted(cookie) closes them. Records are taken in the namespace of the listener.
    void adopt(uint64_t netns_cookie, std::vector<UniqueFd> listeners);
    void drop_adopted(uint64_t netns_cookie);
    size_t adopted_namespaces() const;
    uint64_t accepted() const { return accepted_; }
    // The record take() returned for the connection from `client_port` (nullopt: taken but no
    // record). Waits up to timeout_ms for the connection to be accepted; throws on timeout.
    std::optional<sluice_conn_meta> wait_record(uint16_t client_port, int timeout_ms = 5000);
    // Waits until every accepted connection has been closed by its client.
    bool wait_idle(int timeout_ms);

private:
    void run();
    void on_accept(int listen_fd);

    uint16_t port_ = 0;
    char tag_;
    std::vector<UniqueFd> listen_fds_;
    std::map<int, uint64_t> adopted_;  // listening fd -> its namespace (in listen_fds_ too)
    std::vector<UniqueFd> open_conns_;
    UniqueFd wake_fd_;
    std::atomic<bool> stop_{false};
    std::atomic<bool> take_{true};
    std::atomic<uint64_t> accepted_{0};
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::optional<ConnectionTable> table_;
    std::map<uint16_t, std::optional<sluice_conn_meta>> records_;
    std::atomic<size_t> open_count_{0};
    std::thread thread_;
};

// What a client child observed.
struct ClientReport {
    int error = 0;       // errno of the failing step, 0 on success
    char step[16] = {};  // "socket", "connect", "recv", ...
    char landed = 0;     // tag read from the listener (0 if none)
    uint16_t local_port = 0;
    SockAddr peer;  // getpeername() after connect
    uint32_t tgid = 0, tid = 0, uid = 0, gid = 0;
    char comm[16] = {};
};

enum class ConnectMode { plain, fastopen_sendto, fastopen_connect };

struct ConnectSpec {
    std::string ip;
    uint16_t port = 443;
    ConnectMode mode = ConnectMode::plain;
    uint32_t mark = 0;     // SO_MARK before connect (0 = none)
    bool read_tag = true;  // wait for the listener's tag byte
};

// Runs in the client: socket, connect, getpeername, read the tag, close (RST, no TIME_WAIT).
ClientReport client_connect(const ConnectSpec& spec);

// Forks; the child joins `cgroup_dir` (cgroup.procs), waits until `before_go(child_pid)` has run
// in the parent, then runs `body`, whose bytes come back here. Throws on timeout/crash.
std::string run_in_cgroup_bytes(const std::string& cgroup_dir,
                                const std::function<std::string()>& body,
                                const std::function<void(pid_t)>& before_go, int timeout_ms);

template <class T>
T run_in_cgroup(const std::string& cgroup_dir, const std::function<T()>& body,
                const std::function<void(pid_t)>& before_go = {}, int timeout_ms = 60000) {
    static_assert(std::is_trivially_copyable_v<T>);
    const std::string bytes = run_in_cgroup_bytes(
        cgroup_dir,
        [&] {
            T value = body();
            return std::string(reinterpret_cast<const char*>(&value), sizeof(value));
        },
        before_go, timeout_ms);
    if (bytes.size() != sizeof(T)) throw std::runtime_error("client child returned no result");
    T value;
    std::memcpy(&value, bytes.data(), sizeof(T));
    return value;
}

// A loopback address unique to this test process (127.11.x.y), for the "direct" listener.
std::string unique_loopback_ip();

}  // namespace sluice::test
