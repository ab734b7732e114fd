// Serves processes in other network namespaces (containers) with a listener of sluiced's inside
// each namespace, the way Istio's ztunnel does in its in-pod mode: a dedicated thread enters
// the namespace (setns), opens the listening sockets there - a socket stays in the namespace it
// was made in - and returns to the host's namespace. The proxy then accepts on them like on its
// own listener; the redirect programs learn where each namespace's connects go from
// `netns_listeners` (agent/loader/netns_table.h).
//
// How namespaces are found (docs/architecture.md, "Containers"):
//   - at start, every namespace a task is in (the task iterator);
//   - then as tasks enter new ones: bpf/netns_watch.bpf.c announces clone(CLONE_NEWNET),
//     unshare and setns into a namespace sluiced does not serve, and the redirect announces a
//     target connect from one (and holds it until the listener is up);
//   - a served namespace whose last tasks left (free_nsproxy) is checked against the task
//     iterator and, with no task left in it, its route is removed and its listeners closed: the
//     namespace can then be freed (sluiced's sockets were the last thing holding it).
// Nothing in a namespace is changed: its loopback is not brought up (the listeners bind with
// IP_FREEBIND and accept once the namespace's own `lo` is up) and no route is added. A
// connection is served only to a destination the namespace has a route to (reaches()), so a
// namespace without network (`--network=none`) does not get one through sluiced.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include <sys/types.h>

#include <boost/asio/ip/tcp.hpp>
#include <nlohmann/json.hpp>

#include "agent/common/unique_fd.h"
#include "agent/loader/netns_table.h"
#include "agent/loader/netns_watch.h"

namespace sluice {

struct NamespaceServerOptions {
    uint16_t port = 15443;  // the port the listeners take in each namespace, when it is free
    // After a namespace's last tasks left (free_nsproxy), the check waits this long so a burst
    // of exits is one pass of the task iterator.
    std::chrono::milliseconds release_check_delay{20};
    // Every namespace with a task is served, and every served one without is released, at
    // least this often (events can be lost when the ring buffer is full).
    std::chrono::milliseconds rescan_interval{10'000};
    // Namespaces served at once for one user other than root (namespace_owner.h); beyond it a
    // user's new namespaces are refused (connects there fail with EPERM), so no user can make
    // sluiced hold descriptors and memory without bound or crowd out others' containers. 0: no
    // limit. Namespaces of the host's user namespace (root's, system runtimes') are not limited.
    size_t max_per_user = 128;
};

// The listening sockets opened in one namespace (IPv4 first), handed to the proxy.
struct NamespaceListeners {
    uint64_t netns_cookie = 0;
    std::vector<UniqueFd> fds;
};
// The proxy's side: serve these listeners / stop serving (close) a namespace's listeners.
using AdoptListeners = std::function<void(NamespaceListeners listeners)>;
using DropListeners = std::function<void(uint64_t netns_cookie)>;

struct NamespaceServerStats {
    size_t served = 0;  // namespaces with listeners now (the host's not counted)
    uint64_t served_total = 0;
    uint64_t released_total = 0;
    uint64_t failed_total = 0;        // namespaces that could not be entered or listened in
    uint64_t refused_over_limit = 0;  // namespaces refused: their user had max_per_user served
    uint64_t events = 0;              // from the kernel, all reasons
    uint64_t rescans = 0;             // passes of the task iterator
    // What told sluiced first about each namespace it served: a task cloned into it, a program
    // exec'd in it, a target connect from it (then held), or a pass of the task iterator.
    uint64_t served_on_clone = 0;
    uint64_t served_on_exec = 0;
    uint64_t served_on_connect = 0;
    uint64_t served_on_rescan = 0;
    // From the kernel's first word of a namespace (its creation, or the first task or connect
    // seen in it) to its route being written, over the last 1024 namespaces served.
    std::vector<double> ready_latency_us;
};

class NamespaceServer {
public:
    // `table`, `events_map_fd` and `host_netns_cookie` from RedirectLoader; `watch` must outlive
    // this object. Throws std::runtime_error.
    NamespaceServer(NamespaceServerOptions options, NetnsTable table, uint64_t host_netns_cookie,
                    int events_map_fd, NetnsWatch& watch, AdoptListeners adopt, DropListeners drop);
    ~NamespaceServer();
    NamespaceServer(const NamespaceServer&) = delete;
    NamespaceServer& operator=(const NamespaceServer&) = delete;

    // Serves every namespace a task is in now, then follows the kernel's events on a thread of
    // its own. Throws std::runtime_error if sluiced cannot enter namespaces (CAP_SYS_ADMIN).
    void start();
    // Stops the thread, removes every route it wrote and drops the listeners.
    void stop();

    // Whether a connection from the namespace `netns_cookie` to `destination` could have gone
    // there without sluiced: the namespace has a route to it (a UDP connect in the namespace
    // looks it up; nothing is sent). The host's namespace always does. Any thread.
    bool reaches(uint64_t netns_cookie, const boost::asio::ip::tcp::endpoint& destination) const;

    NamespaceServerStats stats() const;
    nlohmann::json status_json() const;

private:
    struct Served {
        uint64_t inode = 0;
        uid_t owner = 0;
        bool refused = false;  // over its owner's limit: a route that refuses, no listeners
        NamespaceRoute route;
        std::shared_ptr<UniqueFd> probe;  // a UDP socket in the namespace, for reaches()
        std::shared_ptr<std::mutex> probe_mu;
    };
    struct Opened {
        uint64_t cookie = 0;
        NamespaceRoute route;
        std::vector<UniqueFd> listeners;
        UniqueFd probe;
    };

    void run();
    void on_event(const sluice_netns_event& event);
    // `reason`: enum sluice_netns_reason, 0 for a rescan.
    void serve_task(uint32_t tgid, uint32_t tid, uint32_t inum, uint64_t since_ns, uint32_t reason);
    // Enters the namespace `ns_fd`, opens the listeners there and comes back. nullopt if the
    // namespace could not be entered.
    std::optional<Opened> open_in(int ns_fd);
    // Whether `owner` already has max_per_user namespaces served.
    bool over_limit(uid_t owner) const;
    // Writes a route that refuses every connect from the namespace `ns_fd` (no listener opened).
    void refuse(int ns_fd, uint64_t inode, uid_t owner);
    void rescan();
    void release(uint64_t cookie);
    bool is_served(uint64_t cookie) const;

    const NamespaceServerOptions options_;
    const NetnsTable table_;
    const uint64_t host_cookie_;
    NetnsWatch& watch_;
    AdoptListeners adopt_;
    DropListeners drop_;
    NetnsEvents events_;
    UniqueFd host_ns_;
    UniqueFd wake_;  // eventfd: stop
    std::thread thread_;
    std::atomic<bool> stopping_{false};

    mutable std::mutex mu_;  // guards everything below (the thread writes, reaches() reads)
    std::map<uint64_t, Served> served_;
    NamespaceServerStats stats_;
    std::deque<double> latencies_us_;
    std::set<uid_t> refused_owners_;  // users told about once (warning) when over their limit
    std::chrono::steady_clock::time_point release_check_at_ =
        std::chrono::steady_clock::time_point::max();
};

}  // namespace sluice
