#include "agent/resolver/dns_lookup.h"

#include <gtest/gtest.h>

#include <chrono>

#include "tests/unit/resolver/fake_dns_server.h"

namespace sluice {
namespace {

using testing::FakeDnsServer;
using testing::FakeRecord;
using testing::FakeResponse;
using testing::kTypeA;
using testing::kTypeAaaa;
using testing::kTypeCname;

IpAddress ip(const char* text) { return *parse_ip_address(text); }

class DnsLookupTest : public ::testing::Test {
protected:
    DnsLookupOptions options() const {
        DnsLookupOptions o;
        o.nameserver = DnsServerAddress{"127.0.0.1", server_.port()};
        o.timeout_s = 1;
        o.attempts = 1;
        return o;
    }
    FakeDnsServer server_;
};

TEST_F(DnsLookupTest, ARecordsKeepTheirTtls) {
    server_.set(
        "api.example", kTypeA,
        {0, {{"api.example", kTypeA, 120, "192.0.2.1"}, {"api.example", kTypeA, 60, "192.0.2.2"}}});
    const DnsAnswer a = lookup_addresses("api.example", AddressFamily::ipv4, options());
    ASSERT_EQ(a.status, DnsStatus::ok) << a.error;
    ASSERT_EQ(a.records.size(), 2u);
    EXPECT_EQ(a.records[0].addr, ip("192.0.2.1"));
    EXPECT_EQ(a.records[0].ttl_s, 120u);
    EXPECT_EQ(a.records[1].addr, ip("192.0.2.2"));
    EXPECT_EQ(a.records[1].ttl_s, 60u);
    EXPECT_TRUE(is_v4_mapped(a.records[0].addr));
}

TEST_F(DnsLookupTest, AaaaRecords) {
    server_.set("api.example", kTypeAaaa, {0, {{"api.example", kTypeAaaa, 300, "2001:db8::7"}}});
    const DnsAnswer a = lookup_addresses("api.example", AddressFamily::ipv6, options());
    ASSERT_EQ(a.status, DnsStatus::ok) << a.error;
    ASSERT_EQ(a.records.size(), 1u);
    EXPECT_EQ(format_ip_address(a.records[0].addr), "2001:db8::7");
    EXPECT_EQ(a.records[0].ttl_s, 300u);
}

TEST_F(DnsLookupTest, CnameChainInOneResponseTakesMinimumTtl) {
    server_.set("api.example", kTypeA,
                {0,
                 {{"api.example", kTypeCname, 40, "edge.cdn.example"},
                  {"EDGE.cdn.example", kTypeCname, 500, "pop1.cdn.example"},
                  {"pop1.cdn.example", kTypeA, 300, "192.0.2.9"},
                  // Not on the chain: must not be taken.
                  {"evil.example", kTypeA, 300, "203.0.113.66"}}});
    const DnsAnswer a = lookup_addresses("api.example", AddressFamily::ipv4, options());
    ASSERT_EQ(a.status, DnsStatus::ok) << a.error;
    ASSERT_EQ(a.records.size(), 1u);
    EXPECT_EQ(a.records[0].addr, ip("192.0.2.9"));
    EXPECT_EQ(a.records[0].ttl_s, 40u);
}

TEST_F(DnsLookupTest, CnameWithoutTargetRecordsIsFollowedByANewQuery) {
    server_.set("api.example", kTypeAaaa, {0, {{"api.example", kTypeCname, 90, "v6.cdn.example"}}});
    server_.set("v6.cdn.example", kTypeAaaa,
                {0, {{"v6.cdn.example", kTypeAaaa, 600, "2001:db8::1"}}});
    const DnsAnswer a = lookup_addresses("api.example", AddressFamily::ipv6, options());
    ASSERT_EQ(a.status, DnsStatus::ok) << a.error;
    ASSERT_EQ(a.records.size(), 1u);
    EXPECT_EQ(format_ip_address(a.records[0].addr), "2001:db8::1");
    EXPECT_EQ(a.records[0].ttl_s, 90u);
    EXPECT_EQ(server_.queries("v6.cdn.example", kTypeAaaa), 1);
}

TEST_F(DnsLookupTest, CnameLoopFails) {
    server_.set("a.example", kTypeA, {0, {{"a.example", kTypeCname, 60, "b.example"}}});
    server_.set("b.example", kTypeA, {0, {{"b.example", kTypeCname, 60, "a.example"}}});
    const DnsAnswer a = lookup_addresses("a.example", AddressFamily::ipv4, options());
    EXPECT_EQ(a.status, DnsStatus::failure);
    EXPECT_NE(a.error.find("CNAME"), std::string::npos) << a.error;
}

TEST_F(DnsLookupTest, NxdomainIsReported) {
    const DnsAnswer a = lookup_addresses("missing.example", AddressFamily::ipv4, options());
    EXPECT_EQ(a.status, DnsStatus::nxdomain);
    EXPECT_TRUE(a.records.empty());
}

TEST_F(DnsLookupTest, NodataUsesSoaNegativeTtl) {
    FakeResponse nodata;
    nodata.soa = {{900, 120}};  // RFC 2308: min(SOA TTL, MINIMUM)
    server_.set("v4only.example", kTypeAaaa, nodata);
    const DnsAnswer a = lookup_addresses("v4only.example", AddressFamily::ipv6, options());
    ASSERT_EQ(a.status, DnsStatus::ok) << a.error;
    EXPECT_TRUE(a.records.empty());
    EXPECT_EQ(a.negative_ttl_s, 120u);
}

TEST_F(DnsLookupTest, ServfailIsAFailure) {
    server_.set("broken.example", kTypeA, {2, {}});
    const DnsAnswer a = lookup_addresses("broken.example", AddressFamily::ipv4, options());
    EXPECT_EQ(a.status, DnsStatus::failure);
}

TEST_F(DnsLookupTest, SilentServerTimesOut) {
    FakeResponse drop;
    drop.drop = true;
    server_.set("slow.example", kTypeA, drop);
    const auto start = std::chrono::steady_clock::now();
    const DnsAnswer a = lookup_addresses("slow.example", AddressFamily::ipv4, options());
    EXPECT_EQ(a.status, DnsStatus::failure);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(DnsLookup, NothingListeningIsAFailure) {
    // Bind and close a socket to get a loopback port with no server behind it.
    uint16_t port = 0;
    {
        FakeDnsServer gone;
        port = gone.port();
    }
    DnsLookupOptions o;
    o.nameserver = DnsServerAddress{"127.0.0.1", port};
    o.timeout_s = 1;
    o.attempts = 1;
    EXPECT_EQ(lookup_addresses("x.example", AddressFamily::ipv4, o).status, DnsStatus::failure);
}

// A response captured from the fake server, then fed to the parser cut at every length:
// no prefix may crash or yield addresses it does not contain.
TEST(ParseDnsResponse, EveryTruncationIsSafe) {
    const uint8_t response[] =
        {
            0x12, 0x34, 0x84, 0x80, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,  // header
            3,    'a',  'p',  'i',  7,    'e',  'x',  'a',  'm',  'p',  'l',  'e',
            0,    0x00, 0x01, 0x00, 0x01, 0xc0, 0x0c, 0x00, 0x05, 0x00, 0x01, 0x00,
            0x00, 0x00, 0x3c, 0x00, 0x06,        // CNAME, ttl 60
            3,    'c',  'd',  'n',  0xc0, 0x10,  // cdn.example
            3,    'c',  'd',  'n',  0xc0, 0x10, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00,
            0x01, 0x2c, 0x00, 0x04, 192,  0,    2,    44};
    const ParsedDnsResponse full =
        parse_dns_response(response, sizeof response, "api.example", AddressFamily::ipv4);
    ASSERT_EQ(full.answer.status, DnsStatus::ok) << full.answer.error;
    ASSERT_EQ(full.answer.records.size(), 1u);
    EXPECT_EQ(full.answer.records[0].addr, ip("192.0.2.44"));
    EXPECT_EQ(full.answer.records[0].ttl_s, 60u);
    for (size_t n = 0; n < sizeof response; ++n) {
        const ParsedDnsResponse cut =
            parse_dns_response(response, n, "api.example", AddressFamily::ipv4);
        EXPECT_NE(cut.answer.status, DnsStatus::ok) << "length " << n;
        EXPECT_TRUE(cut.answer.records.empty()) << "length " << n;
    }
}

TEST(ResolvedTarget, FormatAndParse) {
    EXPECT_EQ(format_ip_address(ip("10.1.2.3")), "10.1.2.3");
    EXPECT_EQ(format_ip_address(ip("2001:DB8:0:0::1")), "2001:db8::1");
    EXPECT_FALSE(parse_ip_address("api.openai.com").has_value());
    EXPECT_FALSE(parse_ip_address("").has_value());
    EXPECT_EQ(format_target({"api.openai.com", ip("162.159.140.245"), 443, 0}),
              "api.openai.com 162.159.140.245:443");
    EXPECT_EQ(format_target({"api.openai.com", ip("::1"), 8443, 0}), "api.openai.com [::1]:8443");
}

}  // namespace
}  // namespace sluice
