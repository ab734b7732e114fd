#include "agent/resolver/target_resolver.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>

#include "tests/unit/resolver/fake_dns_server.h"

namespace sluice {
namespace {

using std::chrono::seconds;
using TimePoint = TargetResolver::TimePoint;

IpAddress ip(const char* text) { return *parse_ip_address(text); }

std::vector<std::string> describe(const std::vector<ResolvedTarget>& targets) {
    std::vector<std::string> out;
    for (const auto& t : targets) out.push_back(format_target(t));
    return out;
}

// A scripted DNS: answers per (host, family), changed by the test between passes.
struct ScriptedDns {
    std::map<std::pair<std::string, AddressFamily>, DnsAnswer> answers;
    std::map<std::pair<std::string, AddressFamily>, int> calls;
    DnsAnswer operator()(const std::string& host, AddressFamily family) {
        ++calls[{host, family}];
        auto it = answers.find({host, family});
        if (it == answers.end()) return DnsAnswer{DnsStatus::ok, {}, 0, ""};
        return it->second;
    }
};

DnsAnswer ok(std::vector<std::pair<const char*, uint32_t>> records) {
    DnsAnswer a;
    a.status = DnsStatus::ok;
    for (auto [text, ttl] : records) a.records.push_back({ip(text), ttl});
    return a;
}

class TargetResolverTest : public ::testing::Test {
protected:
    TargetResolverOptions options() {
        TargetResolverOptions o;
        o.lookup = [this](const std::string& host, AddressFamily f) { return dns(host, f); };
        o.clock = [this] { return now; };
        o.hosts_file = "";
        return o;
    }
    std::function<void(const std::vector<ResolvedTarget>&)> recorder() {
        return [this](const std::vector<ResolvedTarget>& t) { changes.push_back(t); };
    }

    TimePoint now = TimePoint{} + seconds(1'700'000'000);
    ScriptedDns dns;
    std::vector<std::vector<ResolvedTarget>> changes;
};

TEST_F(TargetResolverTest, FixedAddressesBypassDns) {
    InterceptTarget t;
    t.host = "api.openai.com";
    t.port = 443;
    t.addresses = {"127.10.0.1", "::1"};
    TargetResolver resolver({t}, recorder(), options());
    resolver.start();
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_EQ(describe(changes[0]), (std::vector<std::string>{"api.openai.com [::1]:443",
                                                              "api.openai.com 127.10.0.1:443"}));
    for (const auto& r : changes[0]) EXPECT_EQ(r.expires_unix_s, 0u);
    EXPECT_TRUE(dns.calls.empty());
    resolver.stop();
}

TEST_F(TargetResolverTest, ResolvesEachHostOnceForAllItsPorts) {
    dns.answers[{"api.example", AddressFamily::ipv4}] = ok({{"192.0.2.1", 300}});
    dns.answers[{"api.example", AddressFamily::ipv6}] = ok({{"2001:db8::1", 100}});
    InterceptTarget a{"api.example", 443, {}};
    InterceptTarget b{"api.example", 8443, {}};
    TargetResolver resolver({a, b}, recorder(), options());
    const TimePoint next = resolver.refresh_due();
    EXPECT_EQ(next, now + seconds(100));
    EXPECT_EQ((dns.calls[{"api.example", AddressFamily::ipv4}]), 1);
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_EQ(describe(changes[0]), (std::vector<std::string>{
                                        "api.example 192.0.2.1:443",
                                        "api.example [2001:db8::1]:443",
                                        "api.example 192.0.2.1:8443",
                                        "api.example [2001:db8::1]:8443",
                                    }));
    EXPECT_EQ(changes[0][0].expires_unix_s, 1'700'000'000u + 300u);
    EXPECT_EQ(changes[0][1].expires_unix_s, 1'700'000'000u + 100u);
    EXPECT_EQ(resolver.snapshot(), changes[0]);
}

TEST_F(TargetResolverTest, OnlyDueFamiliesAreQueriedAndUnchangedSetsAreNotRepublished) {
    dns.answers[{"api.example", AddressFamily::ipv4}] = ok({{"192.0.2.1", 300}});
    dns.answers[{"api.example", AddressFamily::ipv6}] = ok({{"2001:db8::1", 100}});
    TargetResolver resolver({InterceptTarget{"api.example", 443, {}}}, recorder(), options());
    resolver.refresh_due();
    now += seconds(100);
    resolver.refresh_due();
    EXPECT_EQ((dns.calls[{"api.example", AddressFamily::ipv4}]), 1);
    EXPECT_EQ((dns.calls[{"api.example", AddressFamily::ipv6}]), 2);
    EXPECT_EQ(changes.size(), 1u);  // same members, only expiries moved
    EXPECT_EQ(resolver.snapshot()[1].expires_unix_s, 1'700'000'000u + 200u);
}

TEST_F(TargetResolverTest, ChangedAnswerPublishesAndOldAddressLeavesAfterGrace) {
    dns.answers[{"api.example", AddressFamily::ipv4}] = ok({{"192.0.2.1", 60}});
    TargetResolver resolver({InterceptTarget{"api.example", 443, {}}}, recorder(), options());
    resolver.refresh_due();
    now += seconds(60);
    dns.answers[{"api.example", AddressFamily::ipv4}] = ok({{"192.0.2.2", 60}});
    resolver.refresh_due();
    ASSERT_EQ(changes.size(), 2u);
    EXPECT_EQ(describe(changes[1]),
              (std::vector<std::string>{"api.example 192.0.2.1:443", "api.example 192.0.2.2:443"}));
    now += seconds(600);
    resolver.refresh_due();
    ASSERT_EQ(changes.size(), 3u);
    EXPECT_EQ(describe(changes[2]), (std::vector<std::string>{"api.example 192.0.2.2:443"}));
}

TEST_F(TargetResolverTest, DnsOutageKeepsTheSet) {
    dns.answers[{"api.example", AddressFamily::ipv4}] = ok({{"192.0.2.1", 60}});
    TargetResolver resolver({InterceptTarget{"api.example", 443, {}}}, recorder(), options());
    resolver.refresh_due();
    dns.answers[{"api.example", AddressFamily::ipv4}] =
        DnsAnswer{DnsStatus::failure, {}, 0, "timeout"};
    for (int i = 0; i < 50; ++i) {
        now += seconds(60);
        resolver.refresh_due();
    }
    EXPECT_EQ(changes.size(), 1u);
    EXPECT_EQ(describe(resolver.snapshot()),
              (std::vector<std::string>{"api.example 192.0.2.1:443"}));
}

TEST_F(TargetResolverTest, HostsFileEntriesAreInterceptedToo) {
    char path[] = "/tmp/sluice-hosts-XXXXXX";
    const int fd = ::mkstemp(path);
    ASSERT_GE(fd, 0);
    ::close(fd);
    std::ofstream(path) << "127.0.0.1 localhost\n127.10.0.1 API.example # pinned\n";
    dns.answers[{"api.example", AddressFamily::ipv4}] = ok({{"192.0.2.1", 300}});
    TargetResolverOptions o = options();
    o.hosts_file = path;
    TargetResolver resolver({InterceptTarget{"api.example", 443, {}}}, recorder(), o);
    // The hosts file is re-read at least every 30 s even though DNS is not due for 300 s.
    EXPECT_EQ(resolver.refresh_due(), now + seconds(30));
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_EQ(describe(changes[0]), (std::vector<std::string>{"api.example 127.10.0.1:443",
                                                              "api.example 192.0.2.1:443"}));
    std::ofstream(path) << "127.0.0.1 localhost\n";
    now += seconds(30);
    resolver.refresh_due();
    ASSERT_EQ(changes.size(), 2u);
    EXPECT_EQ(describe(changes[1]), (std::vector<std::string>{"api.example 192.0.2.1:443"}));
    ::unlink(path);
}

TEST(ParseHostsFile, Table) {
    const std::string text =
        "# comment 10.0.0.1 api.example\n"
        "127.0.0.1\tlocalhost\n"
        "10.0.0.2 other.example api.example\r\n"
        "2001:db8::5 api.example.\n"
        "not-an-ip api.example\n"
        "10.0.0.2 api.example\n"
        "10.0.0.3\n";
    std::vector<std::string> got;
    for (const auto& a : parse_hosts_file(text, "API.example")) got.push_back(format_ip_address(a));
    EXPECT_EQ(got, (std::vector<std::string>{"10.0.0.2", "2001:db8::5"}));
    EXPECT_TRUE(parse_hosts_file("", "api.example").empty());
}

TEST(TargetResolverThread, ResolvesThroughFakeServerAndStopsPromptly) {
    testing::FakeDnsServer server;
    server.set("api.example", testing::kTypeA,
               {0, {{"api.example", testing::kTypeA, 300, "192.0.2.5"}}});
    testing::FakeResponse nodata;
    nodata.soa = {{60, 60}};
    server.set("api.example", testing::kTypeAaaa, nodata);

    TargetResolverOptions o;
    o.dns.nameserver = DnsServerAddress{"127.0.0.1", server.port()};
    o.dns.timeout_s = 1;
    o.dns.attempts = 1;
    std::mutex mu;
    std::vector<std::vector<ResolvedTarget>> changes;
    TargetResolver resolver(
        {InterceptTarget{"api.example", 443, {}}},
        [&](const std::vector<ResolvedTarget>& t) {
            std::lock_guard lock(mu);
            changes.push_back(t);
        },
        o);
    resolver.start();
    {
        std::lock_guard lock(mu);
        ASSERT_EQ(changes.size(), 1u);  // start() returns after the first publication
        EXPECT_EQ(describe(changes[0]), (std::vector<std::string>{"api.example 192.0.2.5:443"}));
    }
    const auto before = std::chrono::steady_clock::now();
    resolver.stop();
    EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(2));
}

}  // namespace
}  // namespace sluice
