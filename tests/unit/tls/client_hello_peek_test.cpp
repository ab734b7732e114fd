#include "agent/tls/client_hello_peek.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <utility>
#include <vector>

#include "agent/common/limits.h"
#include "tests/unit/tls/tls_test_support.h"

namespace sluice {
namespace {

using Bytes = std::vector<uint8_t>;
constexpr std::size_t kRecordHeader = 5;

void put_u16(Bytes& b, std::size_t v) {
    b.push_back(static_cast<uint8_t>(v >> 8));
    b.push_back(static_cast<uint8_t>(v));
}

Bytes extension(uint16_t type, const Bytes& data) {
    Bytes b;
    put_u16(b, type);
    put_u16(b, data.size());
    b.insert(b.end(), data.begin(), data.end());
    return b;
}

Bytes sni_extension(const std::string& host) {
    Bytes entry{0};  // host_name
    put_u16(entry, host.size());
    entry.insert(entry.end(), host.begin(), host.end());
    Bytes data;
    put_u16(data, entry.size());
    data.insert(data.end(), entry.begin(), entry.end());
    return extension(0, data);
}

Bytes alpn_extension(const std::vector<std::string>& names) {
    auto wire = test::alpn_wire(names);
    Bytes data;
    put_u16(data, wire.size());
    data.insert(data.end(), wire.begin(), wire.end());
    return extension(16, data);
}

// A handshake-layer ClientHello (type, 24-bit length, body) with the given extensions.
Bytes client_hello_message(const std::vector<Bytes>& extensions) {
    Bytes body{0x03, 0x03};
    body.insert(body.end(), 32, 0xab);                  // random
    body.push_back(0);                                  // session id
    body.insert(body.end(), {0x00, 0x02, 0x13, 0x01});  // one cipher suite
    body.insert(body.end(), {0x01, 0x00});              // null compression
    Bytes ext;
    for (const auto& e : extensions) ext.insert(ext.end(), e.begin(), e.end());
    put_u16(body, ext.size());
    body.insert(body.end(), ext.begin(), ext.end());
    Bytes msg{1, static_cast<uint8_t>(body.size() >> 16), static_cast<uint8_t>(body.size() >> 8),
              static_cast<uint8_t>(body.size())};
    msg.insert(msg.end(), body.begin(), body.end());
    return msg;
}

// Frames a handshake message into handshake records of at most `fragment` payload bytes.
Bytes records(const Bytes& message, std::size_t fragment) {
    Bytes out;
    for (std::size_t off = 0; off < message.size(); off += fragment) {
        std::size_t n = std::min(fragment, message.size() - off);
        out.insert(out.end(), {22, 0x03, 0x01});
        put_u16(out, n);
        out.insert(out.end(), message.begin() + static_cast<std::ptrdiff_t>(off),
                   message.begin() + static_cast<std::ptrdiff_t>(off + n));
    }
    return out;
}

// The handshake message inside a single-record capture.
Bytes message_of(const Bytes& single_record) {
    return Bytes(single_record.begin() + kRecordHeader, single_record.end());
}

SniResult parse(const Bytes& b) { return parse_client_hello(b); }

// Encrypted Client Hello (extension 0xfe0d) is reported wherever it sits among the
// extensions, with the outer name as the SNI; a hello without it never reports it.
TEST(ClientHelloEch, IsReportedWithTheOuterName) {
    const Bytes ech = extension(0xfe0d, Bytes{0, 0, 1, 0, 1, 1, 0x20});
    const std::vector<std::vector<Bytes>> orders = {
        {sni_extension("public.example"), ech},
        {ech, sni_extension("public.example")},
        {alpn_extension({"h2"}), ech, sni_extension("public.example")}};
    for (const auto& extensions : orders) {
        auto r = parse(records(client_hello_message(extensions), 16384));
        ASSERT_EQ(r.status, ClientHelloStatus::ok);
        EXPECT_TRUE(r.encrypted_client_hello);
        EXPECT_EQ(r.sni, "public.example");
    }
    auto plain = parse(records(client_hello_message({sni_extension("api.openai.com")}), 16384));
    EXPECT_FALSE(plain.encrypted_client_hello);
    auto no_name = parse(records(client_hello_message({ech}), 16384));
    EXPECT_TRUE(no_name.encrypted_client_hello);
    EXPECT_FALSE(no_name.sni);
}

class RealClientHello : public ::testing::Test {
protected:
    Bytes hello_ = test::capture_client_hello("api.openai.com", {"h2", "http/1.1"});
};

TEST_F(RealClientHello, YieldsSniAndAlpn) {
    ASSERT_GT(hello_.size(), 100u);
    auto r = parse(hello_);
    ASSERT_EQ(r.status, ClientHelloStatus::ok) << to_string(r.status);
    ASSERT_TRUE(r.sni.has_value());
    EXPECT_EQ(*r.sni, "api.openai.com");
    EXPECT_EQ(r.alpn, (std::vector<std::string>{"h2", "http/1.1"}));
}

TEST_F(RealClientHello, EveryTruncationNeedsMore) {
    for (std::size_t n = 0; n < hello_.size(); ++n) {
        auto r = parse_client_hello(std::span<const uint8_t>(hello_.data(), n));
        ASSERT_EQ(r.status, ClientHelloStatus::need_more) << "prefix length " << n;
        EXPECT_FALSE(r.sni.has_value());
    }
}

TEST_F(RealClientHello, SplitAcrossRecordsAtEveryFragmentSize) {
    const Bytes message = message_of(hello_);
    for (std::size_t fragment : {1u, 2u, 3u, 4u, 5u, 7u, 64u, 100u, 255u, 512u}) {
        Bytes wire = records(message, fragment);
        auto r = parse(wire);
        ASSERT_EQ(r.status, ClientHelloStatus::ok) << "fragment " << fragment;
        EXPECT_EQ(r.sni, "api.openai.com");
        EXPECT_EQ(r.alpn.size(), 2u);
        for (std::size_t n = 0; n < wire.size(); ++n) {
            ASSERT_EQ(parse_client_hello(std::span<const uint8_t>(wire.data(), n)).status,
                      ClientHelloStatus::need_more)
                << "fragment " << fragment << " prefix " << n;
        }
    }
}

TEST_F(RealClientHello, BytesAfterTheHelloAreIgnored) {
    Bytes wire = hello_;
    wire.insert(wire.end(), {0x17, 0x03, 0x03, 0x00, 0x01, 0xff});  // e.g. early data
    auto r = parse(wire);
    EXPECT_EQ(r.status, ClientHelloStatus::ok);
    EXPECT_EQ(r.sni, "api.openai.com");
}

TEST_F(RealClientHello, SingleByteMutationsNeverCrashOrReadPastTheBuffer) {
    // Run under -DSLUICE_SANITIZE=ON to turn any overread into a failure.
    for (std::size_t i = 0; i < hello_.size(); ++i) {
        for (uint8_t mask : {0x01, 0x80, 0xff}) {
            Bytes mutated = hello_;
            mutated[i] ^= mask;
            auto r = parse(mutated);
            EXPECT_TRUE(
                r.status == ClientHelloStatus::ok || r.status == ClientHelloStatus::not_tls ||
                r.status == ClientHelloStatus::need_more || r.status == ClientHelloStatus::too_big);
        }
    }
}

TEST(ClientHelloPeek, RealClientWithoutSniHasNoSni) {
    auto r = parse(test::capture_client_hello("", {}));
    ASSERT_EQ(r.status, ClientHelloStatus::ok);
    EXPECT_FALSE(r.sni.has_value());
    EXPECT_TRUE(r.alpn.empty());
}

TEST(ClientHelloPeek, SniIsLowercased) {
    auto r = parse(test::capture_client_hello("API.OpenAI.COM", {"http/1.1"}));
    ASSERT_EQ(r.status, ClientHelloStatus::ok);
    EXPECT_EQ(r.sni, "api.openai.com");
}

TEST(ClientHelloPeek, GarbageIsNotTlsFromTheFirstByte) {
    const std::string http = "GET / HTTP/1.1\r\nHost: api.openai.com\r\n\r\n";
    EXPECT_EQ(parse(Bytes(http.begin(), http.end())).status, ClientHelloStatus::not_tls);
    EXPECT_EQ(parse(Bytes{'G'}).status, ClientHelloStatus::not_tls);
    const std::string ssh = "SSH-2.0-OpenSSH_9.6\r\n";
    EXPECT_EQ(parse(Bytes(ssh.begin(), ssh.end())).status, ClientHelloStatus::not_tls);
    EXPECT_EQ(parse(Bytes(64, 0)).status, ClientHelloStatus::not_tls);
    // Handshake record header, wrong major version.
    EXPECT_EQ(parse(Bytes{22, 2}).status, ClientHelloStatus::not_tls);
    // Alert record instead of a handshake.
    EXPECT_EQ(parse(Bytes{21, 3, 1, 0, 2, 2, 40}).status, ClientHelloStatus::not_tls);
    EXPECT_EQ(parse(Bytes{}).status, ClientHelloStatus::need_more);
}

TEST(ClientHelloPeek, RandomBytesNeverCrash) {
    std::mt19937 rng(7);
    for (int i = 0; i < 2000; ++i) {
        Bytes b(rng() % 600);
        for (auto& x : b) x = static_cast<uint8_t>(rng());
        if (!b.empty() && i % 2 == 0) b[0] = 22;  // get past the first check half the time
        if (b.size() > 1 && i % 4 == 0) b[1] = 3;
        (void)parse(b);
    }
}

TEST(ClientHelloPeek, OtherHandshakeMessageIsNotTls) {
    Bytes msg = client_hello_message({sni_extension("api.openai.com")});
    msg[0] = 2;  // ServerHello
    EXPECT_EQ(parse(records(msg, 16384)).status, ClientHelloStatus::not_tls);
}

TEST(ClientHelloPeek, MalformedHellosAreNotTls) {
    // Zero-length and oversized records.
    EXPECT_EQ(parse(Bytes{22, 3, 1, 0, 0}).status, ClientHelloStatus::not_tls);
    EXPECT_EQ(parse(Bytes{22, 3, 1, 0x40, 0x01}).status, ClientHelloStatus::not_tls);
    // Duplicate extension.
    EXPECT_EQ(parse(records(client_hello_message(
                                {sni_extension("a.example"), sni_extension("b.example")}),
                            16384))
                  .status,
              ClientHelloStatus::not_tls);
    // NUL and space inside the host name.
    EXPECT_EQ(
        parse(records(client_hello_message({sni_extension(std::string("api\0x.com", 9))}), 16384))
            .status,
        ClientHelloStatus::not_tls);
    EXPECT_EQ(parse(records(client_hello_message({sni_extension("a b")}), 16384)).status,
              ClientHelloStatus::not_tls);
    // Empty host name and empty ALPN name.
    EXPECT_EQ(parse(records(client_hello_message({sni_extension("")}), 16384)).status,
              ClientHelloStatus::not_tls);
    EXPECT_EQ(parse(records(client_hello_message({alpn_extension({""})}), 16384)).status,
              ClientHelloStatus::not_tls);
    // An extension whose length runs past the extensions block.
    Bytes msg = client_hello_message({sni_extension("api.openai.com")});
    msg[msg.size() - sni_extension("api.openai.com").size() + 3] += 1;
    EXPECT_EQ(parse(records(msg, 16384)).status, ClientHelloStatus::not_tls);
    // Trailing bytes inside the message after the extensions.
    Bytes trailing = client_hello_message({});
    trailing.push_back(0);
    trailing[3] += 1;
    EXPECT_EQ(parse(records(trailing, 16384)).status, ClientHelloStatus::not_tls);
}

TEST(ClientHelloPeek, HelloWithoutExtensionsIsAcceptedWithoutSni) {
    Bytes msg = client_hello_message({});
    msg.pop_back();  // drop the empty extensions length too (pre-TLS 1.3 form)
    msg.pop_back();
    msg[3] -= 2;
    auto r = parse(records(msg, 16384));
    EXPECT_EQ(r.status, ClientHelloStatus::ok);
    EXPECT_FALSE(r.sni.has_value());
}

// A single-record hello of exactly `wire_bytes` on the wire, padded with extension 21.
Bytes hello_of_wire_size(std::size_t wire_bytes) {
    Bytes base = client_hello_message({sni_extension("api.openai.com"), extension(21, {})});
    std::size_t pad = wire_bytes - kRecordHeader - base.size();
    Bytes msg =
        client_hello_message({sni_extension("api.openai.com"), extension(21, Bytes(pad, 0))});
    Bytes wire{22, 3, 1};
    put_u16(wire, msg.size());  // may exceed 2^14 for the limit+1 case, as a real peer could
    wire.insert(wire.end(), msg.begin(), msg.end());
    return wire;
}

TEST(ClientHelloPeek, SizeLimitAtMinusOneExactAndPlusOne) {
    const std::size_t limit = limits::kClientHelloMaxBytes;
    auto below = parse(hello_of_wire_size(limit - 1));
    EXPECT_EQ(below.status, ClientHelloStatus::ok);
    EXPECT_EQ(below.sni, "api.openai.com");
    Bytes exact = hello_of_wire_size(limit);
    ASSERT_EQ(exact.size(), limit);
    EXPECT_EQ(parse(exact).status, ClientHelloStatus::ok);
    // One byte over no longer fits a single 16 KiB record: refused as soon as the handshake
    // header is in, not after buffering it all.
    Bytes over = hello_of_wire_size(limit + 1);
    EXPECT_NE(parse(over).status, ClientHelloStatus::ok);
    Bytes over_framed = records(message_of(over), 16384);
    EXPECT_EQ(parse_client_hello(std::span<const uint8_t>(over_framed.data(), 9)).status,
              ClientHelloStatus::too_big);
}

TEST(ClientHelloPeek, TooFragmentedToFitTheCapIsTooBig) {
    // ~4 KiB hello in 1-byte records is ~24 KiB on the wire, past the peek cap.
    Bytes msg =
        client_hello_message({sni_extension("api.openai.com"), extension(21, Bytes(4000, 0))});
    Bytes wire = records(msg, 1);
    ASSERT_GT(wire.size(), limits::kClientHelloMaxBytes);
    EXPECT_EQ(parse(wire).status, ClientHelloStatus::too_big);
    EXPECT_EQ(
        parse_client_hello(std::span<const uint8_t>(wire.data(), limits::kClientHelloMaxBytes - 1))
            .status,
        ClientHelloStatus::need_more);
}

}  // namespace
}  // namespace sluice
