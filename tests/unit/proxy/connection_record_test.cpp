// The audit record a connection's exchanges start from.
#include "agent/proxy/connection_record.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

namespace ip = boost::asio::ip;

TEST(FormatEndpoint, WritesAddressAndPortAsTheAuditShowsThem) {
    EXPECT_EQ(format_endpoint({ip::make_address("127.10.0.1"), 443}), "127.10.0.1:443");
    EXPECT_EQ(format_endpoint({ip::make_address("162.159.140.245"), 65535}),
              "162.159.140.245:65535");
    EXPECT_EQ(format_endpoint({ip::make_address("2001:db8::1"), 443}), "[2001:db8::1]:443");
    EXPECT_EQ(format_endpoint({ip::make_address("::1"), 0}), "[::1]:0");
}

TEST(ConnectionRecord, CarriesTheConnectionsIdentityAndDestination) {
    auto identity = std::make_shared<ConnectionIdentity>();
    identity->audit_json = R"({"uid":1000,"user":"alice"})";
    ConnectionOrigin origin{{ip::make_address("127.10.0.1"), 443}, identity, 1000};
    const AuditRecord first = connection_record(origin, "request");
    const AuditRecord second = connection_record(origin, "request");
    EXPECT_NE(first.id, second.id);
    const auto line = first.to_json();
    EXPECT_EQ(line["identity"]["user"], "alice");
    EXPECT_EQ(line["connection"]["original_destination"], "127.10.0.1:443");
    EXPECT_EQ(line["kind"], "request");
}

}  // namespace
}  // namespace sluice
