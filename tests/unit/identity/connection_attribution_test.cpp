// The kernel's record of a redirected connection becomes where it was going and who opened it;
// a process's identity is resolved once per thread memo and shared across threads.
#include "agent/identity/connection_attribution.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>

namespace sluice {
namespace {

sluice_conn_meta record_of_this_process(const uint8_t (&addr)[16], uint16_t port) {
    sluice_conn_meta meta{};
    std::memcpy(meta.orig_addr, addr, 16);
    meta.orig_port = htons(port);
    meta.tgid = static_cast<uint32_t>(::getpid());
    meta.tid = meta.tgid;
    meta.uid = ::getuid();
    meta.gid = ::getgid();
    std::strncpy(meta.comm, "unit_identity", sizeof meta.comm - 1);
    return meta;
}

constexpr uint8_t kV4Mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 203, 0, 113, 7};
constexpr uint8_t kV6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9};

class ConnectionAttributionTest : public ::testing::Test {
protected:
    IdentityResolver resolver_{IdentitySources{"/nonexistent-cgroup-root", "/proc"}};
    ConnectionAttribution attribution_{resolver_};
};

TEST_F(ConnectionAttributionTest, DestinationIsTheOriginalAddressInItsOwnFamily) {
    RecentIdentities recent;
    const ConnectionOrigin v4 =
        attribution_.origin_of(record_of_this_process(kV4Mapped, 443), recent);
    EXPECT_TRUE(v4.original_destination.address().is_v4());
    EXPECT_EQ(v4.original_destination.address().to_string(), "203.0.113.7");
    EXPECT_EQ(v4.original_destination.port(), 443);
    const ConnectionOrigin v6 = attribution_.origin_of(record_of_this_process(kV6, 8443), recent);
    EXPECT_EQ(v6.original_destination.address().to_string(), "2001:db8::9");
    EXPECT_EQ(v6.original_destination.port(), 8443);
    EXPECT_EQ(v6.uid, ::getuid());
}

TEST_F(ConnectionAttributionTest, IdentityComesFromTheProcessAndIsSharedAcrossThreadsMemos) {
    RecentIdentities first_thread;
    RecentIdentities second_thread;
    const auto meta = record_of_this_process(kV4Mapped, 443);
    const ConnectionOrigin a = attribution_.origin_of(meta, first_thread);
    const ConnectionOrigin b = attribution_.origin_of(meta, first_thread);
    const ConnectionOrigin c = attribution_.origin_of(meta, second_thread);
    ASSERT_NE(a.identity, nullptr);
    EXPECT_EQ(a.identity->policy.uid, ::getuid());
    EXPECT_NE(a.identity->audit_json.find("\"pid\":" + std::to_string(::getpid())),
              std::string::npos)
        << a.identity->audit_json;
    EXPECT_EQ(a.identity.get(), b.identity.get());  // the thread's memo
    EXPECT_EQ(a.identity.get(), c.identity.get());  // the shared copy, while a connection holds it
    EXPECT_EQ(first_thread.size(), 1u);
    EXPECT_EQ(second_thread.size(), 1u);
}

}  // namespace
}  // namespace sluice
