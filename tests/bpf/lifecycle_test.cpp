// Restart, fail modes and unload: the redirect must never open a window for a direct connection.
#include <bpf/bpf.h>
#include <fcntl.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "tests/bpf/redirect_fixture.h"

namespace sluice::test {
namespace {

class LifecycleTest : public RedirectFixture {};

// connect4/6, sendmsg4/6, getpeername4/6, sockops and the SYN hold (cgroup_skb/egress).
constexpr size_t kPrograms = 8;

struct LoopReport {
    uint32_t attempts, proxied, direct, refused, other;
    int last_other_errno;
};

// Connects to the loopback target over and over until `stop_file` exists.
LoopReport connect_until(const std::string& ip, const std::string& stop_file) {
    LoopReport out{};
    while (!std::filesystem::exists(stop_file)) {
        const ClientReport report = client_connect({.ip = ip});
        ++out.attempts;
        if (report.landed == kTagProxy) {
            ++out.proxied;
        } else if (report.landed == kTagDirect) {
            ++out.direct;
        } else if (report.error == ECONNREFUSED) {
            ++out.refused;
        } else {
            ++out.other;
            out.last_other_errno = report.error;
        }
    }
    return out;
}

TEST_F(LifecycleTest, RestartFromPinsNeverLetsATargetConnectionGoDirect) {
    const std::string stop_file = "/tmp/sluice-test-stop-" + std::to_string(::getpid());
    std::filesystem::remove(stop_file);
    std::optional<LoopReport> report;
    std::thread client([&] {
        report = run_in_cgroup<LoopReport>(cgroup_->path(),
                                           [&] { return connect_until(direct_ip_, stop_file); });
    });
    std::set<uint32_t> prog_ids;
    for (int restart = 0; restart < 5; ++restart) {
        std::this_thread::sleep_for(std::chrono::milliseconds(150));
        const LoaderOptions opts = options();
        loader_.reset();  // sluiced exits: pinned links keep redirecting
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        loader_ = RedirectLoader::load(opts);  // sluiced starts again: swap programs in place
        for (const auto& program : loader_->status().programs) prog_ids.insert(program.prog_id);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    { std::ofstream(stop_file) << "stop"; }
    client.join();
    std::filesystem::remove(stop_file);

    ASSERT_TRUE(report.has_value());
    EXPECT_EQ(report->direct, 0u) << "a connection bypassed the redirect during a restart";
    EXPECT_GT(report->proxied, 10u);
    EXPECT_EQ(report->other, 0u) << "errno " << report->last_other_errno;
    EXPECT_EQ(direct_->accepted(), 0u);
    EXPECT_EQ(loader_->status().programs.size(), kPrograms) << "links were swapped, not duplicated";
    EXPECT_GT(prog_ids.size(), kPrograms) << "each restart loads new programs into the same links";
    EXPECT_EQ(loader_->status().targets.size(), 3u) << "targets survive restarts";
}

TEST_F(LifecycleTest, FailsClosedWhileTheProxyIsGone) {
    loader_.reset();           // sluiced gone ...
    proxy_->stop_listening();  // ... and so is its listener
    const ClientReport v4 = connect_in_cgroup({.ip = direct_ip_});
    EXPECT_EQ(v4.error, ECONNREFUSED) << describe(v4);
    const ClientReport v6 = connect_in_cgroup({.ip = kTarget6});
    EXPECT_EQ(v6.error, ECONNREFUSED) << describe(v6);
    EXPECT_EQ(direct_->accepted(), 0u);
    EXPECT_EQ(RedirectLoader::read_status(pin_dir()).tracked_connections, 0u)
        << "refused connections leave no records";
}

TEST_F(LifecycleTest, FailOpenGoesDirectOnlyWhenNoProxyListens) {
    LoaderOptions opts = options();
    opts.fail_open = true;
    loader_ = RedirectLoader::load(opts);
    const ClientReport alive = connect_in_cgroup({.ip = direct_ip_});
    EXPECT_EQ(alive.landed, kTagProxy) << describe(alive);
    proxy_->stop_listening();
    const ClientReport dead = connect_in_cgroup({.ip = direct_ip_});
    EXPECT_EQ(dead.landed, kTagDirect) << describe(dead);
    EXPECT_EQ(to_string(dead.peer), to_string(make_addr(direct_ip_, 443)));
    EXPECT_GE(counter("fail_open"), 1u);
}

TEST_F(LifecycleTest, DisabledConfigPassesThrough) {
    loader_->set_enabled(false);
    const ClientReport report = connect_in_cgroup({.ip = direct_ip_});
    EXPECT_EQ(report.landed, kTagDirect) << describe(report);
    loader_->set_enabled(true);
    EXPECT_EQ(connect_in_cgroup({.ip = direct_ip_}).landed, kTagProxy);
}

uint32_t attached_count(int cgroup_fd, bpf_attach_type type) {
    uint32_t ids[16] = {};
    uint32_t count = 16, flags = 0;
    if (bpf_prog_query(cgroup_fd, type, 0, &flags, ids, &count) != 0) return 999;
    return count;
}

std::string run_command(const std::string& command) {
    std::string output;
    if (FILE* pipe = ::popen(command.c_str(), "r")) {
        char buf[512];
        while (size_t n = std::fread(buf, 1, sizeof(buf), pipe)) output.append(buf, n);
        ::pclose(pipe);
    }
    return output;
}

TEST_F(LifecycleTest, UnloadDetachesEverythingAndRemovesPins) {
    const LoaderStatus status = loader_->status();
    ASSERT_EQ(status.programs.size(), kPrograms);
    EXPECT_EQ(status.cgroup_path, cgroup_->path());
    EXPECT_NE(run_command("bpftool cgroup show " + cgroup_->path()), "");

    RedirectLoader::unload(pin_dir());
    RedirectLoader::unload(pin_dir());  // idempotent

    UniqueFd cgroup_fd(::open(cgroup_->path().c_str(), O_RDONLY | O_DIRECTORY));
    for (bpf_attach_type type :
         {BPF_CGROUP_INET4_CONNECT, BPF_CGROUP_INET6_CONNECT, BPF_CGROUP_UDP4_SENDMSG,
          BPF_CGROUP_UDP6_SENDMSG, BPF_CGROUP_INET4_GETPEERNAME, BPF_CGROUP_INET6_GETPEERNAME,
          BPF_CGROUP_SOCK_OPS, BPF_CGROUP_INET_EGRESS}) {
        EXPECT_EQ(attached_count(cgroup_fd.get(), type), 0u) << "attach type " << type;
    }
    EXPECT_EQ(run_command("bpftool cgroup show " + cgroup_->path()), "");
    EXPECT_FALSE(std::filesystem::exists(pin_dir()));
    EXPECT_TRUE(RedirectLoader::read_status(pin_dir()).programs.empty());

    // Even with this process still holding the loader, nothing redirects any more.
    const ClientReport report = connect_in_cgroup({.ip = direct_ip_});
    EXPECT_EQ(report.landed, kTagDirect) << describe(report);
}

TEST_F(LifecycleTest, StatusReportsWhatIsPinned) {
    const LoaderStatus status = RedirectLoader::read_status(pin_dir());
    EXPECT_EQ(status.programs.size(), kPrograms);
    for (const auto& program : status.programs) {
        EXPECT_NE(program.prog_id, 0u) << program.name;
        EXPECT_NE(program.link_id, 0u) << program.name;
        EXPECT_NE(program.attach_type, "") << program.name;
    }
    EXPECT_EQ(status.cgroup_path, cgroup_->path());
    EXPECT_EQ(status.targets.size(), 3u);
    EXPECT_TRUE(status.counters.contains("redirected"));

    loader_->replace_targets({TargetEntry{*parse_ip_address(kTarget6), 443, 1234}});
    const auto targets = RedirectLoader::read_status(pin_dir()).targets;
    ASSERT_EQ(targets.size(), 1u);
    EXPECT_EQ(format_ip_address(targets[0].addr), kTarget6);
    EXPECT_EQ(targets[0].expires_unix_s, 1234u);
}

}  // namespace
}  // namespace sluice::test
