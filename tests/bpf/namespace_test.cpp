// Other network namespaces are served (agent/netns): a listener of "sluiced" (this process) in
// each one, found as tasks enter it, the first connect held until it is there, released with
// the namespace's last task; fail closed wherever no listener is. Real kernel, a child cgroup.
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "agent/common/netns_cookie.h"
#include "agent/loader/netns_watch.h"
#include "agent/netns/namespace_server.h"
#include "tests/bpf/redirect_fixture.h"

namespace sluice::test {
namespace {

class NamespaceTest : public RedirectFixture {
protected:
    std::string name_prefix() const override { return "sluice-c17"; }

    LoaderOptions options() const override {
        LoaderOptions options = RedirectFixture::options();
        options.serve_netns = true;
        return options;
    }

    // Starts serving namespaces the way sluiced does, with the stub proxy taking the
    // listeners.
    void serve(size_t max_per_user = NamespaceServerOptions{}.max_per_user) {
        watch_ = std::make_unique<NetnsWatch>(pin_dir());
        NamespaceServerOptions options;
        options.port = proxy_->port();
        options.max_per_user = max_per_user;
        server_ = std::make_unique<NamespaceServer>(
            options, loader_->netns_table(), loader_->host_netns_cookie(),
            loader_->netns_events_fd(), *watch_,
            [this](NamespaceListeners listeners) {
                proxy_->adopt(listeners.netns_cookie, std::move(listeners.fds));
            },
            [this](uint64_t cookie) { proxy_->drop_adopted(cookie); });
        server_->start();
    }

    void TearDown() override {
        server_.reset();
        watch_.reset();
        RedirectFixture::TearDown();
    }

    // Whether the redirect has a route for that namespace (sluiced serves it). Other namespaces
    // on the host are served too, so tests look for their own.
    bool routed(uint64_t cookie) const { return loader_->netns_table().entries().contains(cookie); }

    // Waits until `done` holds (true) or `timeout_ms` passes (false).
    template <class F>
    static bool eventually(F done, int timeout_ms = 3000) {
        const auto deadline =
            std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
        while (!done()) {
            if (std::chrono::steady_clock::now() > deadline) return false;
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        return true;
    }

    std::unique_ptr<NetnsWatch> watch_;
    std::unique_ptr<NamespaceServer> server_;
};

struct NamespaceReport {
    int setup_error;
    uint64_t cookie;
    ClientReport v4, v6;
    int lo_up_after;  // 1: lo was up afterwards
    int in_netns_accepts;
    uint64_t elapsed_ms;
};

bool loopback_up() {
    UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    return fd && ::ioctl(fd.get(), SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_UP);
}

bool set_loopback_up() {
    UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    if (!fd || ::ioctl(fd.get(), SIOCGIFFLAGS, &ifr) != 0) return false;
    ifr.ifr_flags |= IFF_UP;
    return ::ioctl(fd.get(), SIOCSIFFLAGS, &ifr) == 0;
}

uint64_t ms_since(std::chrono::steady_clock::time_point start) {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now() - start)
                                     .count());
}

// A new namespace's first connect, at once: nothing but the connect itself tells sluiced about
// it (no exec, no clone), so the redirect must hold it until the listener is up.
TEST_F(NamespaceTest, FirstConnectFromANewNamespaceIsHeldThenServed) {
    serve();
    const auto result = run_in_cgroup<NamespaceReport>(cgroup_->path(), [] {
        NamespaceReport out{};
        if (::unshare(CLONE_NEWNET) != 0 || !set_loopback_up()) {
            out.setup_error = errno ? errno : -1;
            return out;
        }
        out.cookie = current_netns_cookie();
        const auto start = std::chrono::steady_clock::now();
        out.v4 = client_connect({.ip = kTarget4});
        out.elapsed_ms = ms_since(start);
        out.v6 = client_connect({.ip = kTarget6});
        return out;
    });
    ASSERT_EQ(result.setup_error, 0);
    EXPECT_EQ(result.v4.error, 0) << describe(result.v4);
    EXPECT_EQ(result.v4.landed, kTagProxy) << describe(result.v4);
    EXPECT_EQ(result.v6.landed, kTagProxy) << describe(result.v6);
    EXPECT_EQ(to_string(result.v4.peer), kTarget4 + ":443") << "getpeername shows the target";
    EXPECT_LT(result.elapsed_ms, 1000u) << "held for a few retries of 20 ms, not a second";
    const auto record = proxy_->wait_record(result.v4.local_port);
    ASSERT_TRUE(record) << "the proxy found the record in that namespace";
    EXPECT_EQ(record->netns_cookie, result.cookie);
    EXPECT_EQ(record->tgid, result.v4.tgid);
    EXPECT_GE(counter("netns_held"), 1u);
    EXPECT_GE(counter("hold_released"), 1u);
    std::cout << "first connect from a new namespace: " << result.elapsed_ms
              << " ms (held: " << counter("netns_held") << ", SYNs held: " << counter("syn_held")
              << ")\n";
}

// Two namespaces, each with a client on 127.0.0.1 of its own: their records never mix, though
// the clients' addresses and even ports may be the same.
TEST_F(NamespaceTest, RecordsAreKeptPerNamespace) {
    serve();
    for (int i = 0; i < 2; ++i) {
        const auto result = run_in_cgroup<NamespaceReport>(cgroup_->path(), [] {
            NamespaceReport out{};
            if (::unshare(CLONE_NEWNET) != 0 || !set_loopback_up()) out.setup_error = -1;
            out.cookie = current_netns_cookie();
            out.v4 = client_connect({.ip = kTarget4});
            return out;
        });
        ASSERT_EQ(result.setup_error, 0);
        ASSERT_EQ(result.v4.landed, kTagProxy) << describe(result.v4);
        const auto record = proxy_->wait_record(result.v4.local_port);
        ASSERT_TRUE(record);
        EXPECT_EQ(record->netns_cookie, result.cookie);
    }
    EXPECT_EQ(loader_->status().tracked_connections, 0u);
}

// A namespace that existed before sluiced started is served at start (the task iterator), and
// one a task enters by exec is served before that program's first connect.
TEST_F(NamespaceTest, NamespacesThatExistAndThatAreEnteredAreServed) {
    int ready[2], go[2];
    ASSERT_EQ(::pipe(ready), 0);
    ASSERT_EQ(::pipe(go), 0);
    const pid_t holder = ::fork();
    if (holder == 0) {
        if (::unshare(CLONE_NEWNET) != 0) ::_exit(1);
        const uint64_t cookie = current_netns_cookie();
        (void)!::write(ready[1], &cookie, sizeof cookie);
        char c;
        (void)!::read(go[0], &c, 1);
        ::_exit(0);
    }
    uint64_t cookie = 0;
    ASSERT_EQ(::read(ready[0], &cookie, sizeof cookie), static_cast<ssize_t>(sizeof cookie));
    serve();
    EXPECT_TRUE(routed(cookie)) << "the namespace of a task that was already there";
    (void)!::write(go[1], "g", 1);
    ::waitpid(holder, nullptr, 0);
    EXPECT_TRUE(eventually([&] { return !routed(cookie); })) << "released with its last task";

    // exec in a new namespace: sluiced hears of it before the program runs.
    const uint64_t held_before = counter("netns_held");
    const pid_t child = ::fork();
    if (child == 0) {
        if (::unshare(CLONE_NEWNET) != 0 || !set_loopback_up()) ::_exit(1);
        const uint64_t mine = current_netns_cookie();
        (void)!::write(ready[1], &mine, sizeof mine);
        ::execl("/bin/sh", "sh", "-c", "sleep 0.3", nullptr);
        ::_exit(2);
    }
    ASSERT_EQ(::read(ready[0], &cookie, sizeof cookie), static_cast<ssize_t>(sizeof cookie));
    EXPECT_TRUE(eventually([&] { return routed(cookie); }, 2000));
    int status = 0;
    ::waitpid(child, &status, 0);
    EXPECT_EQ(status, 0);
    EXPECT_TRUE(eventually([&] { return !routed(cookie); }));
    EXPECT_EQ(counter("netns_held"), held_before) << "nothing connected";
    for (int fd : {ready[0], ready[1], go[0], go[1]}) ::close(fd);
}

// sluiced changes nothing in a namespace: a loopback that is down stays down (the listener is
// bound with IP_FREEBIND and waits), so a client there fails as it would have without sluice,
// and never goes direct.
TEST_F(NamespaceTest, LoopbackDownIsLeftDownAndNothingGoesDirect) {
    serve();
    const auto result = run_in_cgroup<NamespaceReport>(cgroup_->path(), [] {
        NamespaceReport out{};
        if (::unshare(CLONE_NEWNET) != 0) out.setup_error = errno;
        out.v4 = client_connect({.ip = kTarget4});
        std::this_thread::sleep_for(std::chrono::milliseconds(200));  // served meanwhile
        out.lo_up_after = loopback_up() ? 1 : 0;
        out.v6 = client_connect({.ip = kTarget4});
        return out;
    });
    ASSERT_EQ(result.setup_error, 0);
    EXPECT_EQ(result.v4.error, ENETUNREACH) << describe(result.v4);
    EXPECT_EQ(result.v6.error, ENETUNREACH) << describe(result.v6);
    EXPECT_EQ(result.lo_up_after, 0) << "sluiced brought the namespace's lo up";
    EXPECT_EQ(direct_->accepted(), 0u);
}

// IPv6 off in a namespace: IPv4 is served, IPv6 fails there as it would without sluice.
TEST_F(NamespaceTest, IPv6DisabledNamespaceIsServedOverIPv4) {
    serve();
    const auto result = run_in_cgroup<NamespaceReport>(cgroup_->path(), [] {
        NamespaceReport out{};
        if (::unshare(CLONE_NEWNET) != 0 || !set_loopback_up()) out.setup_error = -1;
        std::ofstream("/proc/sys/net/ipv6/conf/all/disable_ipv6") << "1";
        std::ofstream("/proc/sys/net/ipv6/conf/lo/disable_ipv6") << "1";
        out.v4 = client_connect({.ip = kTarget4});
        out.v6 = client_connect({.ip = kTarget6});
        return out;
    });
    ASSERT_EQ(result.setup_error, 0);
    EXPECT_EQ(result.v4.landed, kTagProxy) << describe(result.v4);
    EXPECT_NE(result.v6.error, 0) << describe(result.v6);
    EXPECT_NE(result.v6.landed, kTagDirect);
    EXPECT_EQ(direct_->accepted(), 0u);
}

// sluiced is no namespace's way out: it serves a connection only to where the namespace has a
// route (here: its loopback, nothing else), checked with a probe socket inside it.
TEST_F(NamespaceTest, ReachesOnlyWhatTheNamespaceRoutes) {
    serve();
    int ready[2], go[2];
    ASSERT_EQ(::pipe(ready), 0);
    ASSERT_EQ(::pipe(go), 0);
    const pid_t child = ::fork();
    if (child == 0) {
        if (::unshare(CLONE_NEWNET) != 0 || !set_loopback_up()) ::_exit(1);
        const uint64_t cookie = current_netns_cookie();
        (void)!::write(ready[1], &cookie, sizeof cookie);
        ::execl("/bin/sh", "sh", "-c", "read x", nullptr);  // exec: sluiced hears of it
        ::_exit(2);
    }
    ::close(go[0]);
    uint64_t cookie = 0;
    ASSERT_EQ(::read(ready[0], &cookie, sizeof cookie), static_cast<ssize_t>(sizeof cookie));
    ASSERT_TRUE(eventually([&] { return routed(cookie); }));
    using boost::asio::ip::make_address;
    using boost::asio::ip::tcp;
    EXPECT_FALSE(server_->reaches(cookie, tcp::endpoint(make_address(kTarget4), 443)));
    EXPECT_FALSE(server_->reaches(cookie, tcp::endpoint(make_address(kTarget6), 443)));
    EXPECT_TRUE(server_->reaches(cookie, tcp::endpoint(make_address("127.0.0.5"), 443)));
    EXPECT_TRUE(
        server_->reaches(loader_->host_netns_cookie(), tcp::endpoint(make_address(kTarget4), 443)));
    EXPECT_FALSE(server_->reaches(cookie + 1000000, tcp::endpoint(make_address("127.0.0.5"), 443)))
        << "a namespace sluiced does not serve";
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    for (int fd : {ready[0], ready[1], go[1]}) ::close(fd);
}

// A namespace whose route names no listener of the family: refused at connect (EPERM).
TEST_F(NamespaceTest, ServedNamespaceWithoutTheFamilyIsRefused) {
    const auto result = run_in_cgroup<NamespaceReport>(
        cgroup_->path(),
        [] {
            NamespaceReport out{};
            if (::unshare(CLONE_NEWNET) != 0 || !set_loopback_up()) out.setup_error = -1;
            out.cookie = current_netns_cookie();
            // Wait for the parent to write a route without IPv6 for this namespace.
            std::this_thread::sleep_for(std::chrono::milliseconds(300));
            out.v6 = client_connect({.ip = kTarget6});
            return out;
        },
        [&](pid_t child) {
            std::thread([this, child] {
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
                UniqueFd ns(::open(("/proc/" + std::to_string(child) + "/ns/net").c_str(),
                                   O_RDONLY | O_CLOEXEC));
                UniqueFd self(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
                if (!ns || ::setns(ns.get(), CLONE_NEWNET) != 0) return;
                const uint64_t cookie = current_netns_cookie();
                (void)!::setns(self.get(), CLONE_NEWNET);
                NamespaceRoute route = loader_->host_route();
                route.v6 = false;
                loader_->netns_table().put(cookie, route);
            }).detach();
        });
    ASSERT_EQ(result.setup_error, 0);
    EXPECT_EQ(result.v6.error, EPERM) << describe(result.v6);
    EXPECT_GE(counter("netns_refused"), 1u);
}

// Something in the namespace took sluiced's port there before sluiced came: sluiced listens on
// another port and routes there; the connect held meanwhile (rewritten to the taken port) is
// never let through to the squatter: it times out.
TEST_F(NamespaceTest, APortTakenFirstGetsNothing) {
    serve();
    const uint16_t port = proxy_->port();
    const auto result = run_in_cgroup<NamespaceReport>(cgroup_->path(), [port] {
        NamespaceReport out{};
        if (::unshare(CLONE_NEWNET) != 0 || !set_loopback_up()) out.setup_error = -1;
        out.cookie = current_netns_cookie();
        const SockAddr addr = make_addr("127.0.0.1", port);
        UniqueFd squatter(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
        if (::bind(squatter.get(), addr.get(), addr.len) != 0 || ::listen(squatter.get(), 8) != 0)
            out.setup_error = errno;
        out.v4 = client_connect({.ip = kTarget4});
        UniqueFd accepted(::accept(squatter.get(), nullptr, nullptr));
        out.in_netns_accepts = accepted ? 1 : 0;
        out.v6 = client_connect({.ip = kTarget4});  // after sluiced listens: served
        return out;
    });
    ASSERT_EQ(result.setup_error, 0);
    EXPECT_EQ(result.v4.error, ETIMEDOUT) << describe(result.v4);
    EXPECT_EQ(result.in_netns_accepts, 0) << "the squatter got a held connection";
    EXPECT_EQ(result.v6.landed, kTagProxy)
        << "served by sluiced's listener on another port: " << describe(result.v6);
}

// How a test process makes a network namespace.
enum class Maker {
    root,         // unshare(CLONE_NEWNET) with the host's privileges (a system runtime)
    user,         // an unprivileged user's own user namespace, then a network namespace
    user_nested,  // the same one user namespace deeper: still that user's
    other_user,   // a second unprivileged user
};

struct MadeNamespace {
    int setup_error;
    uint64_t cookie;
    ClientReport first, second;
};

bool write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path);
    out << text;
    return static_cast<bool>(out.flush());
}

// Enters a user namespace of its own as the calling (unprivileged) user: root inside, mapped
// to that one uid outside.
bool enter_own_user_namespace() {
    const uid_t uid = ::geteuid();
    const gid_t gid = ::getegid();
    return ::unshare(CLONE_NEWUSER) == 0 && write_file("/proc/self/setgroups", "deny") &&
           write_file("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1") &&
           write_file("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1");
}

// In a child: makes a network namespace as `maker` says, connects to the target twice (the
// first connect is what tells sluiced of the namespace: unshare is not announced), reports on
// `report_fd`, then stays (the namespace with it) until `hold_fd` is closed.
[[noreturn]] void make_namespace_and_connect(Maker maker, int report_fd, int hold_fd) {
    MadeNamespace out{};
    const uid_t uid = maker == Maker::other_user ? 65533 : 65534;
    bool ok = true;
    if (maker != Maker::root) {
        // Dumpable again after the uid change, or /proc/self stays root's (no uid_map write).
        ok = ::setresgid(uid, uid, uid) == 0 && ::setresuid(uid, uid, uid) == 0 &&
             ::prctl(PR_SET_DUMPABLE, 1) == 0 && enter_own_user_namespace() &&
             (maker != Maker::user_nested || enter_own_user_namespace());
    }
    if (!ok || ::unshare(CLONE_NEWNET) != 0 || !set_loopback_up())
        out.setup_error = errno ? errno : -1;
    out.cookie = current_netns_cookie();
    if (out.setup_error == 0) {
        out.first = client_connect({.ip = kTarget4});
        out.second = client_connect({.ip = kTarget4});
    }
    (void)!::write(report_fd, &out, sizeof out);
    char c;
    (void)!::read(hold_fd, &c, 1);
    ::_exit(0);
}

struct LimitReport {
    int setup_error;
    MadeNamespace made[6];
};

// No user can make sluiced serve (and hold descriptors and memory for) more than
// `max_per_user` namespaces at once: their next ones are refused at connect, whether made
// directly or through nested user namespaces; root's and other users' are served as before;
// once the user's namespaces are gone, new ones are served again.
TEST_F(NamespaceTest, AUsersNamespacesBeyondTheLimitAreRefusedOthersServed) {
    serve(/*max_per_user=*/2);
    const std::vector<Maker> makers = {Maker::user,        Maker::user_nested, Maker::user,
                                       Maker::user_nested, Maker::root,        Maker::other_user};
    const auto result = run_in_cgroup<LimitReport>(cgroup_->path(), [&makers] {
        LimitReport out{};
        int report[2], hold[2];
        if (::pipe(report) != 0 || ::pipe(hold) != 0) {
            out.setup_error = errno;
            return out;
        }
        std::vector<pid_t> children;
        for (size_t i = 0; i < makers.size(); ++i) {
            const pid_t child = ::fork();
            if (child == 0) {
                ::close(hold[1]);
                make_namespace_and_connect(makers[i], report[1], hold[0]);
            }
            children.push_back(child);
            if (::read(report[0], &out.made[i], sizeof out.made[i]) !=
                static_cast<ssize_t>(sizeof out.made[i]))
                out.setup_error = -2;
        }
        ::close(hold[1]);  // all exit, their namespaces with them
        for (pid_t child : children) ::waitpid(child, nullptr, 0);
        return out;
    });
    ASSERT_EQ(result.setup_error, 0);
    for (size_t i = 0; i < makers.size(); ++i) ASSERT_EQ(result.made[i].setup_error, 0) << i;
    for (size_t i : {0, 1, 4, 5}) {
        EXPECT_EQ(result.made[i].first.landed, kTagProxy)
            << i << ": " << describe(result.made[i].first);
        EXPECT_EQ(result.made[i].second.landed, kTagProxy)
            << i << ": " << describe(result.made[i].second);
    }
    for (size_t i : {2, 3}) {
        // The first connect was held while sluiced looked: it times out, never goes anywhere.
        EXPECT_EQ(result.made[i].first.error, ETIMEDOUT)
            << i << ", over the user's limit: " << describe(result.made[i].first);
        EXPECT_EQ(result.made[i].second.error, EPERM)
            << i << ", over the user's limit: " << describe(result.made[i].second);
    }
    EXPECT_EQ(direct_->accepted(), 0u);
    EXPECT_EQ(server_->stats().refused_over_limit, 2u);
    for (const MadeNamespace& made : result.made)
        EXPECT_TRUE(eventually([&] { return !routed(made.cookie); })) << "released when gone";

    // The user's namespaces are gone: their next one is served again.
    const auto again = run_in_cgroup<MadeNamespace>(cgroup_->path(), [] {
        int report[2], hold[2];
        MadeNamespace out{};
        if (::pipe(report) != 0 || ::pipe(hold) != 0) return out;
        const pid_t child = ::fork();
        if (child == 0) {
            ::close(hold[1]);
            make_namespace_and_connect(Maker::user, report[1], hold[0]);
        }
        (void)!::read(report[0], &out, sizeof out);
        ::close(hold[1]);
        ::waitpid(child, nullptr, 0);
        return out;
    });
    EXPECT_EQ(again.first.landed, kTagProxy) << describe(again.first);
}

// With namespaces served but nobody serving (sluiced gone): a held connect times out, never
// reaching anything else; the in-namespace listener on the target address never accepts.
TEST_F(NamespaceTest, HeldConnectFailsClosedWhenNobodyServes) {
    const auto result = run_in_cgroup<NamespaceReport>(cgroup_->path(), [] {
        NamespaceReport out{};
        if (::unshare(CLONE_NEWNET) != 0 || !set_loopback_up() ||
            std::system("ip addr add 192.0.2.10/32 dev lo") != 0) {
            out.setup_error = -1;
            return out;
        }
        const SockAddr addr = make_addr(kTarget4, 443);
        UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
        if (::bind(listener.get(), addr.get(), addr.len) != 0 || ::listen(listener.get(), 8) != 0)
            out.setup_error = errno;
        const auto start = std::chrono::steady_clock::now();
        out.v4 = client_connect({.ip = kTarget4});
        out.elapsed_ms = ms_since(start);
        UniqueFd accepted(::accept(listener.get(), nullptr, nullptr));
        out.in_netns_accepts = accepted ? 1 : 0;
        return out;
    });
    ASSERT_EQ(result.setup_error, 0);
    EXPECT_EQ(result.v4.error, ETIMEDOUT) << describe(result.v4);
    EXPECT_EQ(result.in_netns_accepts, 0);
    EXPECT_GE(result.elapsed_ms, 2000u) << "held for the SYN retries";
    EXPECT_LE(result.elapsed_ms, 5000u);
    EXPECT_GE(counter("syn_held"), 5u);
}

}  // namespace
}  // namespace sluice::test
