// TlsStream over real loopback sockets: both roles, Beast HTTP on top, the error mapping the
// proxy relies on, TLS 1.2 and 1.3, client session resumption, full duplex.
#include "agent/tls/tls_stream.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "agent/proxy/inline_io.h"  // exercised here: it needs this fixture
#include "agent/tls/certificate_authority.h"
#include "agent/tls/upstream_tls.h"
#include "tests/unit/tls/tls_test_support.h"

namespace sluice {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using boost::system::error_code;

constexpr const char* kHost = "api.openai.com";

auto use_ec(error_code& ec) { return net::redirect_error(net::use_awaitable, ec); }

std::string pattern(std::size_t size) {
    std::string out(size, '\0');
    for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
    return out;
}

class TlsStreamTest : public ::testing::Test {
protected:
    void SetUp() override {
        acceptor_.open(tcp::v4());
        acceptor_.set_option(tcp::acceptor::reuse_address(true));
        acceptor_.bind(tcp::endpoint(net::ip::address_v4::loopback(), 0));
        acceptor_.listen();
        server_ctx_ = ca_.server_context_for(kHost);
        ASSERT_TRUE(server_ctx_);
        client_ctx_ = make_upstream_client_context(ca_.ca_cert_path());
    }

    // A connected pair: `server` accepted, `client` in client mode prepared for `host`.
    struct Pair {
        std::unique_ptr<TlsStream> server;
        std::unique_ptr<TlsStream> client;
    };
    Pair connect(const std::string& host = kHost, SSL_CTX* client_ctx = nullptr) {
        Pair pair;
        pair.client = std::make_unique<TlsStream>(io_.get_executor(),
                                                  client_ctx ? client_ctx : client_ctx_.get());
        pair.client->next_layer().connect(acceptor_.local_endpoint());
        pair.client->next_layer().set_option(tcp::no_delay(true));
        tcp::socket accepted = acceptor_.accept();
        pair.server = std::make_unique<TlsStream>(std::move(accepted), server_ctx_.get());
        SSL* ssl = pair.client->native_handle();
        SSL_set_tlsext_host_name(ssl, host.c_str());
        SSL_set1_host(ssl, host.c_str());
        return pair;
    }

    // Runs both coroutines to completion (or fails after a generous deadline).
    void run(std::function<net::awaitable<void>()> a,
             std::function<net::awaitable<void>()> b = {}) {
        int done = 0;
        const int expected = b ? 2 : 1;
        auto finish = [&](std::exception_ptr e) {
            ++done;
            if (e) std::rethrow_exception(e);
        };
        net::co_spawn(io_, a(), finish);
        if (b) net::co_spawn(io_, b(), finish);
        io_.restart();
        io_.run_for(std::chrono::seconds(30));
        EXPECT_EQ(done, expected) << "coroutines did not finish";
    }

    // Handshakes a pair; returns {server_ec, client_ec}.
    std::pair<error_code, error_code> handshake(Pair& pair) {
        error_code server_ec, client_ec;
        run(
            [&]() -> net::awaitable<void> {
                co_await pair.server->async_handshake(net::ssl::stream_base::server,
                                                      use_ec(server_ec));
            },
            [&]() -> net::awaitable<void> {
                co_await pair.client->async_handshake(net::ssl::stream_base::client,
                                                      use_ec(client_ec));
            });
        return {server_ec, client_ec};
    }

    Pair connected(int max_version = 0) {
        Pair pair = connect();
        if (max_version) SSL_set_max_proto_version(pair.client->native_handle(), max_version);
        auto [s, c] = handshake(pair);
        EXPECT_FALSE(s) << s.message();
        EXPECT_FALSE(c) << c.message();
        return pair;
    }

    // One small server-to-client message, read by the client (consumes TLS 1.3 tickets).
    void exchange_ping(Pair& pair) {
        run(
            [&]() -> net::awaitable<void> {
                error_code ec;
                co_await net::async_write(*pair.server, net::buffer(std::string_view("ping")),
                                          use_ec(ec));
            },
            [&]() -> net::awaitable<void> {
                error_code ec;
                std::array<char, 4> buf;
                co_await net::async_read(*pair.client, net::buffer(buf), use_ec(ec));
                EXPECT_FALSE(ec) << ec.message();
            });
    }

    net::io_context io_{1};
    tcp::acceptor acceptor_{io_};
    test::TempDir tmp_;
    CertificateAuthority ca_ = CertificateAuthority::load_or_create(tmp_.path(), {kHost});
    std::shared_ptr<SSL_CTX> server_ctx_;
    std::shared_ptr<SSL_CTX> client_ctx_;
};

class TlsStreamVersions : public TlsStreamTest, public ::testing::WithParamInterface<int> {};

TEST_P(TlsStreamVersions, HandshakesBothRolesAndVerifiesTheHost) {
    Pair pair = connected(GetParam());
    EXPECT_EQ(SSL_version(pair.client->native_handle()), GetParam());
    EXPECT_EQ(SSL_version(pair.server->native_handle()), GetParam());
    EXPECT_EQ(SSL_get_verify_result(pair.client->native_handle()), X509_V_OK);
}

TEST_P(TlsStreamVersions, CarriesBeastRequestAndThreeMebibyteResponse) {
    Pair pair = connected(GetParam());
    const std::string big = pattern(3 * 1024 * 1024 + 17);
    std::string seen_target, seen_request_body, seen_response_body;
    run(
        [&]() -> net::awaitable<void> {
            error_code ec;
            beast::flat_buffer buffer;
            http::request<http::string_body> request;
            co_await http::async_read(*pair.server, buffer, request, use_ec(ec));
            EXPECT_FALSE(ec) << ec.message();
            seen_target = std::string(request.target());
            seen_request_body = request.body();
            http::response<http::string_body> response{http::status::ok, 11};
            response.body() = big;
            response.prepare_payload();
            co_await http::async_write(*pair.server, response, use_ec(ec));
            EXPECT_FALSE(ec) << ec.message();
        },
        [&]() -> net::awaitable<void> {
            error_code ec;
            http::request<http::string_body> request{http::verb::post, "/v1/chat/completions", 11};
            request.set(http::field::host, kHost);
            request.body() = R"({"model":"gpt-4o"})";
            request.prepare_payload();
            co_await http::async_write(*pair.client, request, use_ec(ec));
            EXPECT_FALSE(ec) << ec.message();
            beast::flat_buffer buffer;
            http::response_parser<http::string_body> parser;
            parser.body_limit(64 * 1024 * 1024);
            co_await http::async_read(*pair.client, buffer, parser, use_ec(ec));
            EXPECT_FALSE(ec) << ec.message();
            seen_response_body = parser.get().body();
        });
    EXPECT_EQ(seen_target, "/v1/chat/completions");
    EXPECT_EQ(seen_request_body, R"({"model":"gpt-4o"})");
    EXPECT_EQ(seen_response_body.size(), big.size());
    EXPECT_TRUE(seen_response_body == big);
}

INSTANTIATE_TEST_SUITE_P(Tls, TlsStreamVersions, ::testing::Values(TLS1_2_VERSION, TLS1_3_VERSION),
                         [](const auto& info) {
                             return info.param == TLS1_2_VERSION ? "Tls12" : "Tls13";
                         });

// The proxy's streaming path: a buffer_body response, chunked, written piece by piece, and read
// back piece by piece with async_read_some on the parser (as intercepted_session does).
TEST_F(TlsStreamTest, RelaysChunkedBodyPieceByPiece) {
    Pair pair = connected();
    std::vector<std::string> pieces = {"data: one\n\n", pattern(20000), "x", pattern(16384),
                                       "data: [DONE]\n\n"};
    std::string expected;
    for (const auto& p : pieces) expected += p;
    std::string received;
    bool chunked = false;
    run(
        [&]() -> net::awaitable<void> {
            error_code ec;
            http::response<http::buffer_body> response{http::status::ok, 11};
            response.set(http::field::content_type, "text/event-stream");
            response.chunked(true);
            response.body().data = nullptr;
            response.body().more = true;
            http::response_serializer<http::buffer_body> writer{response};
            co_await http::async_write_header(*pair.server, writer, use_ec(ec));
            EXPECT_FALSE(ec) << ec.message();
            for (auto& piece : pieces) {
                response.body().data = piece.data();
                response.body().size = piece.size();
                response.body().more = true;
                co_await http::async_write(*pair.server, writer, use_ec(ec));
                if (ec == http::error::need_buffer) ec = {};
                EXPECT_FALSE(ec) << ec.message();
            }
            response.body().data = nullptr;
            response.body().size = 0;
            response.body().more = false;
            co_await http::async_write(*pair.server, writer, use_ec(ec));
            EXPECT_FALSE(ec) << ec.message();
        },
        [&]() -> net::awaitable<void> {
            error_code ec;
            beast::flat_buffer buffer;
            http::response_parser<http::buffer_body> parser;
            co_await http::async_read_header(*pair.client, buffer, parser, use_ec(ec));
            EXPECT_FALSE(ec) << ec.message();
            chunked = parser.chunked();
            std::array<char, 4096> chunk;
            while (!parser.is_done()) {
                parser.get().body().data = chunk.data();
                parser.get().body().size = chunk.size();
                co_await http::async_read_some(*pair.client, buffer, parser, use_ec(ec));
                if (ec == http::error::need_buffer) ec = {};
                if (ec) {
                    ADD_FAILURE() << ec.message();
                    co_return;
                }
                received.append(chunk.data(), chunk.size() - parser.get().body().size);
            }
        });
    EXPECT_TRUE(chunked);
    EXPECT_EQ(received.size(), expected.size());
    EXPECT_TRUE(received == expected);
}

// Beast's parse "grind", at the stream level: a body read back through buffers of every awkward
// size arrives whole and in order, including reads smaller than what OpenSSL already holds.
TEST_F(TlsStreamTest, PartialReadsAtManySizesReassembleTheStream) {
    Pair pair = connected();
    const std::vector<std::size_t> sizes = {1,    2,    3,    5,     7,     13,    100,
                                            1000, 4095, 4096, 16383, 16384, 16385, 65536};
    const std::string sent = pattern(200 * 1000);
    for (std::size_t size : sizes) {
        std::string received;
        run(
            [&]() -> net::awaitable<void> {
                error_code ec;
                co_await net::async_write(*pair.server, net::buffer(sent), use_ec(ec));
                EXPECT_FALSE(ec) << ec.message();
            },
            [&]() -> net::awaitable<void> {
                std::vector<char> buf(size);
                while (received.size() < sent.size()) {
                    error_code ec;
                    const std::size_t want = std::min(size, sent.size() - received.size());
                    std::size_t n = co_await pair.client->async_read_some(
                        net::buffer(buf.data(), want), use_ec(ec));
                    if (ec) {
                        ADD_FAILURE() << "size " << size << ": " << ec.message();
                        co_return;
                    }
                    EXPECT_GT(n, 0u);
                    received.append(buf.data(), n);
                }
            });
        EXPECT_TRUE(received == sent) << "read size " << size;
    }
}

TEST_F(TlsStreamTest, ReadFillsSeveralBuffersFromWhatIsAlreadyDecrypted) {
    Pair pair = connected();
    const std::string sent = pattern(3000);
    std::string first(1000, '\0'), second(2000, '\0');
    std::size_t total = 0;
    run(
        [&]() -> net::awaitable<void> {
            error_code ec;
            co_await net::async_write(*pair.server, net::buffer(sent), use_ec(ec));
        },
        [&]() -> net::awaitable<void> {
            error_code ec;
            std::array<net::mutable_buffer, 2> buffers{net::buffer(first), net::buffer(second)};
            total = co_await net::async_read(*pair.client, buffers, use_ec(ec));
            EXPECT_FALSE(ec) << ec.message();
        });
    EXPECT_EQ(total, sent.size());
    EXPECT_TRUE(first + second == sent);
}

// Counts application-data records the receiving SSL sees (msg callback on record headers).
// Under TLS 1.3 every encrypted record says "application data" on the outside, the server's
// NewSessionTickets included, so tests count only after a first exchange has consumed those.
struct RecordCounter {
    int application_records = 0;
    static void callback(int write_p, int, int content_type, const void* buf, size_t len, SSL*,
                         void* arg) {
        if (write_p != 0 || content_type != SSL3_RT_HEADER || len < 1) return;
        if (static_cast<const unsigned char*>(buf)[0] == SSL3_RT_APPLICATION_DATA)
            ++static_cast<RecordCounter*>(arg)->application_records;
    }
};

TEST_F(TlsStreamTest, SmallGatherWriteLeavesAsOneRecord) {
    Pair pair = connected();
    exchange_ping(pair);
    RecordCounter counter;
    SSL_set_msg_callback(pair.client->native_handle(), RecordCounter::callback);
    SSL_set_msg_callback_arg(pair.client->native_handle(), &counter);
    const std::string header = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
    const std::string body = pattern(1000);
    const std::string crlf = "\r\n";
    std::size_t written = 0;
    std::string received;
    run(
        [&]() -> net::awaitable<void> {
            error_code ec;
            std::array<net::const_buffer, 4> pieces{net::buffer(header), net::const_buffer(),
                                                    net::buffer(body), net::buffer(crlf)};
            written = co_await pair.server->async_write_some(pieces, use_ec(ec));
            EXPECT_FALSE(ec) << ec.message();
        },
        [&]() -> net::awaitable<void> {
            error_code ec;
            std::string buf(header.size() + body.size() + crlf.size(), '\0');
            co_await net::async_read(*pair.client, net::buffer(buf), use_ec(ec));
            EXPECT_FALSE(ec) << ec.message();
            received = buf;
        });
    EXPECT_EQ(written, header.size() + body.size() + crlf.size());
    EXPECT_EQ(received, header + body + crlf);
    EXPECT_EQ(counter.application_records, 1);
}

TEST_F(TlsStreamTest, LargeGatherWriteFillsWholeRecords) {
    Pair pair = connected();
    exchange_ping(pair);
    RecordCounter counter;
    SSL_set_msg_callback(pair.client->native_handle(), RecordCounter::callback);
    SSL_set_msg_callback_arg(pair.client->native_handle(), &counter);
    const std::string header = pattern(300);
    const std::string body = pattern(40000);
    std::string received;
    run(
        [&]() -> net::awaitable<void> {
            error_code ec;
            std::array<net::const_buffer, 2> pieces{net::buffer(header), net::buffer(body)};
            co_await net::async_write(*pair.server, pieces, use_ec(ec));
            EXPECT_FALSE(ec) << ec.message();
        },
        [&]() -> net::awaitable<void> {
            error_code ec;
            std::string buf(header.size() + body.size(), '\0');
            co_await net::async_read(*pair.client, net::buffer(buf), use_ec(ec));
            EXPECT_FALSE(ec) << ec.message();
            received = buf;
        });
    EXPECT_TRUE(received == header + body);
    EXPECT_EQ(counter.application_records, 3);  // ceil(40300 / 16384)
}

TEST_F(TlsStreamTest, PeerCloseNotifyReadsAsEof) {
    Pair pair = connected();
    error_code read_ec;
    run([&]() -> net::awaitable<void> {
        pair.server->send_close_notify();
        pair.server->next_layer().close();
        std::array<char, 64> buf;
        co_await pair.client->async_read_some(net::buffer(buf), use_ec(read_ec));
    });
    EXPECT_EQ(read_ec, net::error::eof) << read_ec.message();
}

TEST_F(TlsStreamTest, FullShutdownBothWays) {
    Pair pair = connected();
    error_code server_ec, client_ec;
    run([&]() -> net::awaitable<void> { co_await pair.server->async_shutdown(use_ec(server_ec)); },
        [&]() -> net::awaitable<void> {
            std::array<char, 64> buf;
            co_await pair.client->async_read_some(net::buffer(buf), use_ec(client_ec));
            EXPECT_EQ(client_ec, net::error::eof) << client_ec.message();
            co_await pair.client->async_shutdown(use_ec(client_ec));
        });
    EXPECT_FALSE(server_ec) << server_ec.message();
    EXPECT_FALSE(client_ec) << client_ec.message();
}

TEST_F(TlsStreamTest, PeerClosingTcpWithoutCloseNotifyIsTruncation) {
    Pair pair = connected();
    error_code read_ec;
    run([&]() -> net::awaitable<void> {
        pair.server->next_layer().shutdown(tcp::socket::shutdown_send);
        std::array<char, 64> buf;
        co_await pair.client->async_read_some(net::buffer(buf), use_ec(read_ec));
    });
    EXPECT_EQ(read_ec, net::ssl::error::stream_truncated) << read_ec.message();
}

TEST_F(TlsStreamTest, PeerResetIsConnectionReset) {
    Pair pair = connected();
    error_code read_ec;
    run([&]() -> net::awaitable<void> {
        pair.server->next_layer().set_option(net::socket_base::linger(true, 0));
        pair.server->next_layer().close();  // RST
        net::steady_timer settle(co_await net::this_coro::executor, std::chrono::milliseconds(20));
        co_await settle.async_wait(net::use_awaitable);
        std::array<char, 64> buf;
        co_await pair.client->async_read_some(net::buffer(buf), use_ec(read_ec));
    });
    EXPECT_EQ(read_ec, net::error::connection_reset) << read_ec.message();
}

TEST_F(TlsStreamTest, UntrustedCertificateFailsHandshakeWithOpensslReason) {
    auto untrusting = make_upstream_client_context("");  // system store only: no test CA
    Pair pair = connect(kHost, untrusting.get());
    auto [server_ec, client_ec] = handshake(pair);
    ASSERT_TRUE(client_ec);
    EXPECT_EQ(&client_ec.category(), &net::error::get_ssl_category());
    EXPECT_NE(client_ec.message().find("certificate verify failed"), std::string::npos)
        << client_ec.message();
    // The server sends its root along, so OpenSSL finds an untrusted self-signed CA in the chain.
    EXPECT_EQ(SSL_get_verify_result(pair.client->native_handle()),
              X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN);
    ASSERT_TRUE(server_ec);  // the client's alert, as the proxy audits it
    EXPECT_NE(server_ec.message().find("alert"), std::string::npos) << server_ec.message();
}

TEST_F(TlsStreamTest, WrongHostnameFailsHandshake) {
    Pair pair = connect("api.evil.example");
    auto [server_ec, client_ec] = handshake(pair);
    ASSERT_TRUE(client_ec);
    EXPECT_EQ(SSL_get_verify_result(pair.client->native_handle()), X509_V_ERR_HOSTNAME_MISMATCH);
}

TEST_F(TlsStreamTest, PlainTextPeerFailsHandshake) {
    tcp::socket client(io_);
    client.connect(acceptor_.local_endpoint());
    TlsStream server(acceptor_.accept(), server_ctx_.get());
    error_code ec;
    run([&]() -> net::awaitable<void> {
        const std::string junk = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        co_await net::async_write(client, net::buffer(junk), net::use_awaitable);
        co_await server.async_handshake(net::ssl::stream_base::server, use_ec(ec));
    });
    ASSERT_TRUE(ec);
    EXPECT_EQ(ec.message(), "http request");  // OpenSSL's SSL_R_HTTP_REQUEST, as the audit shows it
}

// The upstream pool's flow: keep the session after an exchange (TLS 1.3 tickets arrive with
// the first read), offer it on the next connection.
TEST_P(TlsStreamVersions, ClientResumesSession) {
    SslSessionPtr session;
    for (int round = 0; round < 2; ++round) {
        Pair pair = connect();
        SSL* ssl = pair.client->native_handle();
        SSL_set_max_proto_version(ssl, GetParam());
        if (session) {
            ASSERT_EQ(SSL_set_session(ssl, session.get()), 1);
        }
        auto [server_ec, client_ec] = handshake(pair);
        ASSERT_FALSE(server_ec) << server_ec.message();
        ASSERT_FALSE(client_ec) << client_ec.message();
        EXPECT_EQ(SSL_session_reused(ssl), round == 0 ? 0 : 1) << "round " << round;
        std::string reply;
        run(
            [&]() -> net::awaitable<void> {
                error_code ec;
                co_await net::async_write(*pair.server, net::buffer(std::string_view("pong")),
                                          use_ec(ec));
                co_await pair.server->async_shutdown(use_ec(ec));
            },
            [&]() -> net::awaitable<void> {
                error_code ec;
                std::array<char, 4> buf;
                co_await net::async_read(*pair.client, net::buffer(buf), use_ec(ec));
                reply.assign(buf.data(), buf.size());
                co_await pair.client->async_shutdown(use_ec(ec));
            });
        EXPECT_EQ(reply, "pong");
        session.reset(SSL_get1_session(ssl));
        ASSERT_TRUE(session);
        EXPECT_EQ(SSL_SESSION_is_resumable(session.get()), 1);
    }
}

// Streaming in both directions at once on each stream, more than the socket buffers hold, so
// neither side's write can finish unless its read runs concurrently.
TEST_F(TlsStreamTest, FullDuplexReadAndWriteOnOneStream) {
    Pair pair = connected();
    const std::string up = pattern(3 * 1024 * 1024);
    const std::string down = pattern(3 * 1024 * 1024 + 1);
    std::string got_up, got_down;
    int finished = 0;
    auto writer = [&](TlsStream& s, const std::string& data) -> net::awaitable<void> {
        error_code ec;
        co_await net::async_write(s, net::buffer(data), use_ec(ec));
        EXPECT_FALSE(ec) << ec.message();
        ++finished;
    };
    auto reader = [&](TlsStream& s, std::string& out, std::size_t size) -> net::awaitable<void> {
        error_code ec;
        out.resize(size);
        co_await net::async_read(s, net::buffer(out), use_ec(ec));
        EXPECT_FALSE(ec) << ec.message();
        ++finished;
    };
    net::co_spawn(io_, writer(*pair.server, down), net::detached);
    net::co_spawn(io_, reader(*pair.server, got_up, up.size()), net::detached);
    net::co_spawn(io_, writer(*pair.client, up), net::detached);
    net::co_spawn(io_, reader(*pair.client, got_down, down.size()), net::detached);
    io_.restart();
    io_.run_for(std::chrono::seconds(30));
    EXPECT_EQ(finished, 4);
    EXPECT_TRUE(got_up == up);
    EXPECT_TRUE(got_down == down);
}

TEST_F(TlsStreamTest, CompletionNeverRunsInsideTheInitiatingCall) {
    Pair pair = connected();
    bool returned = false;
    bool completed_after_return = false;
    std::size_t written = 0;
    const std::string data = "hello";
    pair.server->async_write_some(net::buffer(data), [&](error_code ec, std::size_t n) {
        EXPECT_FALSE(ec);
        written = n;
        completed_after_return = returned;
    });
    returned = true;
    io_.restart();
    io_.run_for(std::chrono::seconds(5));
    EXPECT_EQ(written, data.size());
    EXPECT_TRUE(completed_after_return);
}

TEST_F(TlsStreamTest, ClosingTheSocketAbortsAPendingRead) {
    Pair pair = connected();
    error_code read_ec;
    std::array<char, 16> buf;
    pair.server->async_read_some(net::buffer(buf),
                                 [&](error_code ec, std::size_t) { read_ec = ec; });
    net::post(io_, [&] { pair.server->next_layer().close(); });
    io_.restart();
    io_.run_for(std::chrono::seconds(5));
    EXPECT_EQ(read_ec, net::error::operation_aborted) << read_ec.message();
    // And the next operation does not touch the old descriptor.
    pair.server->async_read_some(net::buffer(buf),
                                 [&](error_code ec, std::size_t) { read_ec = ec; });
    io_.restart();
    io_.run_for(std::chrono::seconds(5));
    EXPECT_EQ(read_ec, net::error::bad_descriptor) << read_ec.message();
}

TEST_F(TlsStreamTest, SynchronousReadSaysWouldBlockUntilTheSocketIsReady) {
    Pair pair = connected();
    exchange_ping(pair);  // the client has read the server's session tickets
    std::array<char, 16> buf;
    error_code ec;
    EXPECT_EQ(pair.server->read_some(net::buffer(buf), ec), 0u);
    EXPECT_EQ(ec, net::error::would_block) << ec.message();
    const std::string data = "hello";
    EXPECT_EQ(pair.client->write_some(net::buffer(data), ec), data.size());
    EXPECT_FALSE(ec) << ec.message();
    error_code wait_ec = net::error::fault;
    pair.server->async_wait_ready([&](error_code e) { wait_ec = e; });
    io_.restart();
    io_.run_for(std::chrono::seconds(5));
    EXPECT_FALSE(wait_ec) << wait_ec.message();
    EXPECT_EQ(pair.server->read_some(net::buffer(buf), ec), data.size());
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_EQ(std::string_view(buf.data(), data.size()), data);
    pair.server->next_layer().close();
    EXPECT_EQ(pair.server->read_some(net::buffer(buf), ec), 0u);
    EXPECT_EQ(ec, net::error::bad_descriptor);
}

// agent/proxy/inline_io.h: Beast's synchronous HTTP over the non-blocking attempts, waiting
// only for readiness; a body larger than the socket buffers forces many waits both ways.
TEST_F(TlsStreamTest, InlineHttpCarriesRequestAndLargeResponse) {
    Pair pair = connected();
    const std::string big = pattern(3 * 1024 * 1024 + 7);
    std::string got_body, got_target;
    run(
        [&]() -> net::awaitable<void> {
            error_code ec;
            beast::flat_buffer buffer;
            http::request_parser<http::string_body> parser;
            co_await inline_io::read_header(*pair.server, buffer, parser, ec);
            EXPECT_FALSE(ec) << ec.message();
            while (!ec && !parser.is_done())
                co_await inline_io::read_some(*pair.server, buffer, parser, ec);
            EXPECT_FALSE(ec) << ec.message();
            got_target = std::string(parser.get().target());
            http::response<http::string_body> response{http::status::ok, 11};
            response.body() = big;
            response.prepare_payload();
            http::response_serializer<http::string_body> writer{response};
            co_await inline_io::write(*pair.server, writer, ec);
            EXPECT_FALSE(ec) << ec.message();
        },
        [&]() -> net::awaitable<void> {
            error_code ec;
            http::request<http::string_body> request{http::verb::post, "/v1/chat/completions", 11};
            request.body() = "{\"model\":\"gpt-4o\"}";
            request.prepare_payload();
            http::request_serializer<http::string_body> writer{request};
            co_await inline_io::write(*pair.client, writer, ec);
            EXPECT_FALSE(ec) << ec.message();
            beast::flat_buffer buffer;
            http::response_parser<http::string_body> parser;
            parser.body_limit(64 * 1024 * 1024);
            co_await inline_io::read_header(*pair.client, buffer, parser, ec);
            while (!ec && !parser.is_done())
                co_await inline_io::read_some(*pair.client, buffer, parser, ec);
            EXPECT_FALSE(ec) << ec.message();
            got_body = parser.get().body();
        });
    EXPECT_EQ(got_target, "/v1/chat/completions");
    EXPECT_TRUE(got_body == big);
}

TEST_F(TlsStreamTest, InlineReadEndsWithOperationAbortedWhenTheSocketIsClosedDuringItsWait) {
    Pair pair = connected();
    error_code read_ec;
    run([&]() -> net::awaitable<void> {
        beast::flat_buffer buffer;
        http::request_parser<http::empty_body> parser;
        net::post(io_, [&] { pair.server->next_layer().close(); });
        co_await inline_io::read_header(*pair.server, buffer, parser, read_ec);
    });
    EXPECT_EQ(read_ec, net::error::operation_aborted) << read_ec.message();
}

TEST_F(TlsStreamTest, BeastFindsTheSocketAsLowestLayer) {
    Pair pair = connect();
    tcp::socket& lowest = beast::get_lowest_layer(*pair.client);
    EXPECT_EQ(&lowest, &pair.client->next_layer());
    static_assert(beast::is_async_stream<TlsStream>::value);
    static_assert(beast::is_sync_stream<TlsStream>::value);
}

}  // namespace
}  // namespace sluice
