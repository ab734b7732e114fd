// conn_by_tuple must not grow: every record leaves either through the proxy's take or at
// TCP_CLOSE of the client socket.
#include "tests/bpf/redirect_fixture.h"

namespace sluice::test {
namespace {

class ConnTableStressTest : public RedirectFixture {};

struct StressReport {
    uint32_t proxied, closed_early, failed;
    int last_errno;
    char last_step[16];
};

constexpr uint32_t kTakenConnects = 50'000;
constexpr uint32_t kUntakenConnects = 50'000;

StressReport connect_many(const std::string& ip, uint32_t count, bool read_tag) {
    StressReport out{};
    for (uint32_t i = 0; i < count; ++i) {
        const ClientReport report = client_connect({.ip = ip, .read_tag = read_tag});
        if (report.error != 0) {
            ++out.failed;
            out.last_errno = report.error;
            std::memcpy(out.last_step, report.step, sizeof(out.last_step));
        } else if (report.landed == kTagProxy) {
            ++out.proxied;
        } else {
            ++out.closed_early;
        }
    }
    return out;
}

TEST_F(ConnTableStressTest, HundredThousandShortConnectsLeaveNoRecords) {
    const size_t baseline = loader_->status().tracked_connections;
    const uint64_t recorded_before = counter("tuple_recorded");

    // Half: accepted and looked up by the proxy before the client closes.
    const auto taken = run_in_cgroup<StressReport>(
        cgroup_->path(), [this] { return connect_many(kTarget4, kTakenConnects, true); });
    EXPECT_EQ(taken.failed, 0u) << taken.last_step << " errno " << taken.last_errno;
    EXPECT_EQ(taken.proxied, kTakenConnects);

    // Half: the proxy never looks them up; the client resets right after connect().
    proxy_->set_take(false);
    const auto untaken = run_in_cgroup<StressReport>(cgroup_->path(), [this] {
        StressReport out = connect_many(kTarget6, kUntakenConnects / 2, false);
        const StressReport v4 = connect_many(direct_ip_, kUntakenConnects / 2, false);
        out.closed_early += v4.closed_early;
        out.failed += v4.failed;
        return out;
    });
    EXPECT_EQ(untaken.failed, 0u) << untaken.last_step << " errno " << untaken.last_errno;

    // And refused ones (no proxy): SYN_SENT -> CLOSE must clean up too.
    proxy_->stop_listening();
    const auto refused = run_in_cgroup<StressReport>(
        cgroup_->path(), [this] { return connect_many(kTarget4, 1000, false); });
    EXPECT_EQ(refused.failed, 1000u);

    EXPECT_TRUE(proxy_->wait_idle(10'000));
    EXPECT_EQ(loader_->status().tracked_connections, baseline);
    EXPECT_GE(counter("tuple_recorded") - recorded_before,
              uint64_t{kTakenConnects + kUntakenConnects});
    EXPECT_EQ(direct_->accepted(), 0u);
}

}  // namespace
}  // namespace sluice::test
