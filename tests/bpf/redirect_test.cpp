// What a client in the cgroup sees, and what the proxy learns, for each kind of connect.
#include <arpa/inet.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "tests/bpf/redirect_fixture.h"

namespace sluice::test {
namespace {

uint64_t own_netns_cookie() {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM, 0));
    uint64_t cookie = 0;
    socklen_t len = sizeof(cookie);
    ::getsockopt(fd.get(), SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len);
    return cookie;
}

class RedirectTest : public RedirectFixture {
protected:
    // Connects to ip:443 from the cgroup and checks the proxy got it with the right record.
    sluice_conn_meta expect_redirected(const std::string& ip, int family) {
        const ClientReport report = connect_in_cgroup({.ip = ip});
        EXPECT_EQ(report.error, 0) << describe(report);
        EXPECT_EQ(report.landed, kTagProxy) << describe(report);
        EXPECT_EQ(to_string(report.peer), to_string(make_addr(ip, 443)))
            << "getpeername must show the original destination";
        const auto meta = proxy_->wait_record(report.local_port);
        if (!meta) {
            ADD_FAILURE() << "no conn_by_tuple record for client port " << report.local_port;
            return {};
        }
        EXPECT_EQ(format_ip_address(addr16(meta->orig_addr)),
                  format_ip_address(*parse_ip_address(ip)));
        EXPECT_EQ(ntohs(meta->orig_port), 443);
        EXPECT_EQ(meta->orig_family, family);
        EXPECT_EQ(meta->tgid, report.tgid);
        EXPECT_EQ(meta->tid, report.tid);
        EXPECT_EQ(meta->uid, report.uid);
        EXPECT_EQ(meta->gid, report.gid);
        EXPECT_STREQ(meta->comm, report.comm);
        EXPECT_EQ(meta->cgroup_id, cgroup_->id());
        EXPECT_EQ(meta->netns_cookie, own_netns_cookie());
        EXPECT_NE(meta->sock_cookie, 0u);
        EXPECT_NE(meta->ts_ns, 0u);
        return *meta;
    }
};

TEST_F(RedirectTest, RedirectsIpv4TargetAndTellsTheProxyWhoAndWhere) {
    expect_redirected(kTarget4, AF_INET);
    EXPECT_EQ(loader_->status().tracked_connections, 0u) << "take_connection deletes the record";
}

TEST_F(RedirectTest, RedirectsIpv6Target) { expect_redirected(kTarget6, AF_INET6); }

TEST_F(RedirectTest, RedirectsV4MappedTargetOnDualStackSocket) {
    expect_redirected(kTargetMapped, AF_INET6);
}

TEST_F(RedirectTest, GetpeernameShowsOriginalDestinationAndCountsIt) {
    const uint64_t before = counter("getpeername_restored");
    expect_redirected(kTarget4, AF_INET);
    expect_redirected(kTarget6, AF_INET6);
    EXPECT_GE(counter("getpeername_restored"), before + 2);
}

TEST_F(RedirectTest, LeavesNonTargetsAlone) {
    TagListener other({"127.0.0.1", "::1"}, 0, 'N');
    const uint64_t redirected = counter("redirected");
    for (const std::string ip : {"127.0.0.1", "::1"}) {
        const ClientReport report = connect_in_cgroup({.ip = ip, .port = other.port()});
        EXPECT_EQ(report.error, 0) << describe(report);
        EXPECT_EQ(report.landed, 'N') << describe(report);
        EXPECT_EQ(to_string(report.peer), to_string(make_addr(ip, other.port())));
    }
    // A target address on another port is not a target: nothing listens there, so refused.
    const ClientReport other_port = connect_in_cgroup({.ip = direct_ip_, .port = 444});
    EXPECT_EQ(other_port.error, ECONNREFUSED) << describe(other_port);
    EXPECT_EQ(counter("redirected"), redirected);
    EXPECT_EQ(loader_->status().tracked_connections, 0u);
}

struct ThreadReport {
    ClientReport report;
    uint32_t main_tid;
};

TEST_F(RedirectTest, AttributesNonRootClientConnectingFromASecondThread) {
    const auto result = run_in_cgroup<ThreadReport>(cgroup_->path(), [] {
        // Joined the cgroup as root; now become nobody, as an unprivileged client would be.
        ThreadReport out{};
        out.main_tid = static_cast<uint32_t>(::gettid());
        if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0) {
            out.report.error = errno;
            return out;
        }
        std::thread worker([&] {
            ::prctl(PR_SET_NAME, "sluice-worker");
            out.report = client_connect({.ip = kTarget4});
        });
        worker.join();
        return out;
    });
    const ClientReport& report = result.report;
    ASSERT_EQ(report.error, 0) << describe(report);
    EXPECT_EQ(report.landed, kTagProxy);
    const auto meta = proxy_->wait_record(report.local_port);
    ASSERT_TRUE(meta.has_value());
    EXPECT_EQ(meta->uid, 65534u);
    EXPECT_EQ(meta->gid, 65534u);
    EXPECT_EQ(meta->tgid, result.main_tid) << "tgid is the process, not the thread";
    EXPECT_EQ(meta->tid, report.tid);
    EXPECT_NE(meta->tid, meta->tgid);
    EXPECT_STREQ(meta->comm, "sluice-worker");
    EXPECT_EQ(meta->cgroup_id, cgroup_->id());
}

TEST_F(RedirectTest, RedirectsAndAttributesAForkedChild) {
    const ClientReport report = run_in_cgroup<ClientReport>(cgroup_->path(), [] {
        int fds[2];
        if (::pipe(fds) != 0) return ClientReport{};
        const pid_t grandchild = ::fork();
        if (grandchild == 0) {
            const ClientReport inner = client_connect({.ip = kTarget6});
            (void)!::write(fds[1], &inner, sizeof(inner));
            ::_exit(0);
        }
        ClientReport inner{};
        (void)!::read(fds[0], &inner, sizeof(inner));
        ::waitpid(grandchild, nullptr, 0);
        return inner;
    });
    ASSERT_EQ(report.error, 0) << describe(report);
    EXPECT_EQ(report.landed, kTagProxy);
    const auto meta = proxy_->wait_record(report.local_port);
    ASSERT_TRUE(meta.has_value());
    EXPECT_EQ(meta->tgid, report.tgid);
    EXPECT_EQ(meta->cgroup_id, cgroup_->id());
}

bool fastopen_client_enabled() {
    int mode = 0;
    std::ifstream("/proc/sys/net/ipv4/tcp_fastopen") >> mode;
    return (mode & 1) != 0;
}

TEST_F(RedirectTest, RedirectsFastOpenSendto) {
    if (!fastopen_client_enabled()) GTEST_SKIP() << "net.ipv4.tcp_fastopen has no client bit";
    for (const std::string& ip : {kTarget4, kTarget6}) {
        const ClientReport report =
            connect_in_cgroup({.ip = ip, .mode = ConnectMode::fastopen_sendto});
        EXPECT_EQ(report.error, 0) << describe(report);
        EXPECT_EQ(report.landed, kTagProxy) << describe(report);
        EXPECT_EQ(to_string(report.peer), to_string(make_addr(ip, 443)));
        EXPECT_TRUE(proxy_->wait_record(report.local_port).has_value());
    }
}

TEST_F(RedirectTest, RedirectsFastOpenConnect) {
    if (!fastopen_client_enabled()) GTEST_SKIP() << "net.ipv4.tcp_fastopen has no client bit";
    for (const std::string& ip : {kTarget4, kTarget6, direct_ip_}) {
        const ClientReport report =
            connect_in_cgroup({.ip = ip, .mode = ConnectMode::fastopen_connect});
        EXPECT_EQ(report.error, 0) << describe(report);
        EXPECT_EQ(report.landed, kTagProxy) << describe(report);
        EXPECT_TRUE(proxy_->wait_record(report.local_port).has_value());
    }
    EXPECT_EQ(direct_->accepted(), 0u);
}

struct UdpReport {
    int connect4, sendto4, connect6, sendto6, connect_other_port, sendto_non_target;
};

TEST_F(RedirectTest, RefusesUdpToTargetsOnQuicPort) {
    const auto udp = run_in_cgroup<UdpReport>(cgroup_->path(), [] {
        auto attempt = [](const std::string& ip, uint16_t port, bool use_connect) {
            const SockAddr dst = make_addr(ip, port);
            UniqueFd fd(::socket(dst.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0));
            const int rc =
                use_connect ? ::connect(fd.get(), dst.get(), dst.len)
                            : static_cast<int>(::sendto(fd.get(), "q", 1, 0, dst.get(), dst.len));
            return rc < 0 ? errno : 0;
        };
        UdpReport out{};
        out.connect4 = attempt(kTarget4, 443, true);
        out.sendto4 = attempt(kTarget4, 443, false);
        out.connect6 = attempt(kTarget6, 443, true);
        out.sendto6 = attempt(kTargetMapped, 443, false);
        out.connect_other_port = attempt(kTarget4, 53, true);
        out.sendto_non_target = attempt("127.0.0.1", 443, false);
        return out;
    });
    EXPECT_EQ(udp.connect4, EPERM);
    EXPECT_EQ(udp.sendto4, EPERM);
    EXPECT_EQ(udp.connect6, EPERM);
    EXPECT_EQ(udp.sendto6, EPERM);
    EXPECT_EQ(udp.connect_other_port, 0);
    EXPECT_EQ(udp.sendto_non_target, 0);
    EXPECT_GE(counter("udp_refused"), 4u);
}

TEST_F(RedirectTest, SocketWithBypassMarkGoesDirect) {
    const ClientReport marked = connect_in_cgroup({.ip = direct_ip_, .mark = SLUICE_BYPASS_MARK});
    EXPECT_EQ(marked.error, 0) << describe(marked);
    EXPECT_EQ(marked.landed, kTagDirect) << describe(marked);
    const ClientReport other_mark = connect_in_cgroup({.ip = direct_ip_, .mark = 0x1234});
    EXPECT_EQ(other_mark.landed, kTagProxy) << describe(other_mark);
    EXPECT_EQ(direct_->accepted(), 1u);
}

struct TwoReports {
    ClientReport main_thread, other_thread;
};

TEST_F(RedirectTest, ExemptProcessGoesDirectFromEveryThread) {
    const auto exempt = run_in_cgroup<TwoReports>(
        cgroup_->path(),
        [this] {
            TwoReports out{};
            out.main_thread = client_connect({.ip = direct_ip_});
            std::thread worker([&] { out.other_thread = client_connect({.ip = direct_ip_}); });
            worker.join();
            return out;
        },
        [this](pid_t child) { loader_->set_exemptions(static_cast<uint32_t>(child), 0); });
    EXPECT_EQ(exempt.main_thread.landed, kTagDirect) << describe(exempt.main_thread);
    EXPECT_EQ(exempt.other_thread.landed, kTagDirect) << describe(exempt.other_thread);
    EXPECT_NE(exempt.other_thread.tid, exempt.other_thread.tgid);

    // Another process with the same comm is not exempt: exemption is by tgid only.
    const ClientReport other = connect_in_cgroup({.ip = direct_ip_});
    EXPECT_EQ(other.landed, kTagProxy) << describe(other);
    EXPECT_GE(counter("exempt"), 2u);
}

TEST_F(RedirectTest, ExemptCgroupGoesDirect) {
    TestCgroup sluiced_cgroup(cgroup_->path() + "/sluiced");
    loader_->set_exemptions(0, sluiced_cgroup.id());
    const ClientReport exempt = run_in_cgroup<ClientReport>(
        sluiced_cgroup.path(), [this] { return client_connect({.ip = direct_ip_}); });
    EXPECT_EQ(exempt.landed, kTagDirect) << describe(exempt);
    const ClientReport other = connect_in_cgroup({.ip = direct_ip_});
    EXPECT_EQ(other.landed, kTagProxy) << describe(other);
}

struct NetnsReport {
    int setup_error;
    ClientReport v4, v6;
    int in_netns_accepts;
};

TEST_F(RedirectTest, NewNetworkNamespaceDoesNotBypass) {
    const auto result = run_in_cgroup<NetnsReport>(cgroup_->path(), [] {
        NetnsReport out{};
        // A fresh netns where the target addresses are local and something listens on them:
        // the redirect must still win (here: to a proxy port nobody listens on -> refused).
        if (::unshare(CLONE_NEWNET) != 0 ||
            std::system("ip link set lo up && ip addr add 192.0.2.10/32 dev lo && "
                        "ip addr add 2001:db8::10/128 dev lo nodad") != 0) {
            out.setup_error = errno ? errno : -1;
            return out;
        }
        std::vector<UniqueFd> listeners;
        for (const std::string& ip : {kTarget4, kTarget6}) {
            const SockAddr addr = make_addr(ip, 443);
            UniqueFd fd(::socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK, 0));
            if (::bind(fd.get(), addr.get(), addr.len) != 0 || ::listen(fd.get(), 16) != 0) {
                out.setup_error = errno;
                return out;
            }
            listeners.push_back(std::move(fd));
        }
        out.v4 = client_connect({.ip = kTarget4});
        out.v6 = client_connect({.ip = kTarget6});
        for (auto& fd : listeners) {
            UniqueFd accepted(::accept(fd.get(), nullptr, nullptr));
            if (accepted) ++out.in_netns_accepts;
        }
        return out;
    });
    ASSERT_EQ(result.setup_error, 0);
    EXPECT_EQ(result.v4.error, ECONNREFUSED) << describe(result.v4);
    EXPECT_EQ(result.v6.error, ECONNREFUSED) << describe(result.v6);
    EXPECT_EQ(result.in_netns_accepts, 0) << "a target listener inside the netns was reached";
}

}  // namespace
}  // namespace sluice::test
