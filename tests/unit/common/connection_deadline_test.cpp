// The per-connection watchdog: expiry closes the socket it guards (aborting what is pending, and
// only that socket), re-arming pushes expiry out without restarting the timer, and a shorter
// timeout pulls it in.
// Real time, kept short (tens of milliseconds); the assertions allow for a loaded machine.
#include "agent/common/connection_deadline.h"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <optional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include "agent/tls/certificate_authority.h"
#include "agent/tls/tls_stream.h"
#include "agent/tls/upstream_tls.h"
#include "tests/unit/tls/tls_test_support.h"

namespace sluice {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

class ConnectionDeadlineTest : public ::testing::Test {
protected:
    void SetUp() override {
        tcp::acceptor acceptor(io_, tcp::endpoint(net::ip::address_v4::loopback(), 0));
        client_.connect(acceptor.local_endpoint());
        server_ = acceptor.accept();
    }

    // Starts a read on the server socket that only a deadline (or the client) can end.
    void start_read() {
        server_.async_read_some(net::buffer(buf_), [this](error_code ec, std::size_t) {
            read_ec_ = ec;
            read_done_at_ = Clock::now();
        });
    }

    // Runs `fn` after `delay` on the io_context.
    void after(milliseconds delay, std::function<void()> fn) {
        auto timer = std::make_shared<net::steady_timer>(io_, delay);
        timer->async_wait([timer, fn = std::move(fn)](error_code) { fn(); });
    }

    void run_for(milliseconds d) {
        io_.restart();
        io_.run_for(d);
    }

    net::io_context io_{1};
    tcp::socket client_{io_};
    tcp::socket server_{io_};
    std::array<char, 16> buf_{};
    std::optional<error_code> read_ec_;
    Clock::time_point read_done_at_{};
};

TEST_F(ConnectionDeadlineTest, ExpiryClosesTheSocketAndAbortsThePendingRead) {
    ConnectionDeadline deadline(io_.get_executor());
    const auto started = Clock::now();
    deadline.arm(milliseconds(40), server_);
    start_read();
    run_for(milliseconds(2000));
    ASSERT_TRUE(read_ec_);
    EXPECT_EQ(*read_ec_, net::error::operation_aborted);
    EXPECT_TRUE(deadline.timed_out());
    EXPECT_FALSE(server_.is_open());
    EXPECT_GE(read_done_at_ - started, milliseconds(40));
    EXPECT_LT(read_done_at_ - started, milliseconds(1000));
}

// stop_reading (waiting for a request header): the read is cancelled but the socket stays
// open, so a 408 can still be written; re-arming for that write keeps it open.
TEST_F(ConnectionDeadlineTest, StopReadingCancelsTheReadAndLeavesTheSocketOpenForAnAnswer) {
    ConnectionDeadline deadline(io_.get_executor());
    deadline.arm(milliseconds(40), server_, ConnectionDeadline::OnExpiry::stop_reading);
    start_read();
    run_for(milliseconds(500));
    ASSERT_TRUE(read_ec_);
    EXPECT_EQ(*read_ec_, net::error::operation_aborted);
    EXPECT_TRUE(deadline.timed_out());
    ASSERT_TRUE(server_.is_open());
    deadline.arm(milliseconds(5000), server_);
    error_code ec;
    net::write(server_, net::buffer("HTTP/1.1 408", 12), ec);
    EXPECT_FALSE(ec);
    std::array<char, 12> got{};
    net::read(client_, net::buffer(got), ec);
    EXPECT_EQ(std::string(got.data(), got.size()), "HTTP/1.1 408");
    run_for(milliseconds(1500));  // past the grace: the re-armed deadline holds
    EXPECT_TRUE(server_.is_open());
}

// A cancel an operation misses (it was between two steps) must not leave it without a deadline:
// if the session does not re-arm, the socket is closed after the grace period.
TEST_F(ConnectionDeadlineTest, StopReadingClosesAfterTheGraceWhenNobodyReArms) {
    ConnectionDeadline deadline(io_.get_executor());
    deadline.arm(milliseconds(20), server_, ConnectionDeadline::OnExpiry::stop_reading);
    run_for(milliseconds(200));
    EXPECT_TRUE(deadline.timed_out());
    EXPECT_TRUE(server_.is_open());
    run_for(ConnectionDeadline::kCancelGrace + milliseconds(1000));
    EXPECT_FALSE(server_.is_open());
}

TEST_F(ConnectionDeadlineTest, ReArmingPushesExpiryOutWithoutRestartingTheTimer) {
    ConnectionDeadline deadline(io_.get_executor());
    const auto started = Clock::now();
    deadline.arm(milliseconds(100), server_);
    start_read();
    // Every operation re-arms: 60 of them here, all before the first wake-up.
    for (int i = 1; i <= 60; ++i)
        after(milliseconds(i), [&] { deadline.arm(milliseconds(100), server_); });
    run_for(milliseconds(3000));
    ASSERT_TRUE(read_ec_);
    EXPECT_EQ(*read_ec_, net::error::operation_aborted);
    EXPECT_TRUE(deadline.timed_out());
    EXPECT_GE(read_done_at_ - started, milliseconds(160));
    // The first wait, then one re-wait for the moved deadline: not one per arm().
    EXPECT_EQ(deadline.timer_waits(), 2u);
}

TEST_F(ConnectionDeadlineTest, ArmingForEachOperationCostsNoTimerWait) {
    ConnectionDeadline deadline(io_.get_executor());
    deadline.arm(std::chrono::seconds(60), server_);
    for (int i = 0; i < 10000; ++i) deadline.arm(std::chrono::seconds(60), server_);
    EXPECT_EQ(deadline.timer_waits(), 1u);
}

TEST_F(ConnectionDeadlineTest, ShorterTimeoutPullsExpiryIn) {
    ConnectionDeadline deadline(io_.get_executor());
    const auto started = Clock::now();
    deadline.arm(std::chrono::seconds(60), server_);
    deadline.arm(milliseconds(30), server_);
    start_read();
    run_for(milliseconds(2000));
    ASSERT_TRUE(read_ec_);
    EXPECT_TRUE(deadline.timed_out());
    EXPECT_LT(read_done_at_ - started, milliseconds(1000));
}

TEST_F(ConnectionDeadlineTest, DisarmedDeadlineNeverFires) {
    ConnectionDeadline deadline(io_.get_executor());
    deadline.arm(milliseconds(20), server_);
    deadline.disarm();
    start_read();
    after(milliseconds(120), [&] { client_.write_some(net::buffer("x", 1)); });
    run_for(milliseconds(2000));
    ASSERT_TRUE(read_ec_);
    EXPECT_FALSE(*read_ec_) << read_ec_->message();
    EXPECT_FALSE(deadline.timed_out());
    EXPECT_TRUE(server_.is_open());
}

TEST_F(ConnectionDeadlineTest, ExpiryClosesOnlyTheSocketOfTheLastArmAndReArmClearsTimedOut) {
    ConnectionDeadline deadline(io_.get_executor());
    deadline.arm(milliseconds(50), server_);
    start_read();
    client_.write_some(net::buffer("x", 1));
    run_for(milliseconds(20));
    ASSERT_TRUE(read_ec_);
    EXPECT_FALSE(*read_ec_);
    // Armed for another socket (a session moving from its client to its upstream), expiry
    // closes that one and leaves the first alone; timed_out() reports it until the next arm().
    deadline.arm(milliseconds(50), client_);
    EXPECT_TRUE(deadline.guards(client_));
    EXPECT_FALSE(deadline.guards(server_));
    run_for(milliseconds(200));
    EXPECT_TRUE(deadline.timed_out());
    EXPECT_FALSE(client_.is_open());
    EXPECT_TRUE(server_.is_open());
    deadline.arm(milliseconds(50), server_);
    EXPECT_FALSE(deadline.timed_out());
}

TEST_F(ConnectionDeadlineTest, DestroyingItCancelsTheWaitSoTheLoopCanFinish) {
    {
        ConnectionDeadline deadline(io_.get_executor());
        deadline.arm(std::chrono::seconds(600), server_);
    }
    const auto started = Clock::now();
    io_.restart();
    io_.run();  // returns only when no work is left
    EXPECT_LT(Clock::now() - started, milliseconds(1000));
    EXPECT_TRUE(server_.is_open());
}

// What the session does with it: a TLS read waiting for a request is cut off by the deadline
// and reads as a timeout (operation_aborted while timed_out()).
TEST(ConnectionDeadlineTls, CutsOffAPendingTlsRead) {
    net::io_context io{1};
    test::TempDir tmp;
    auto ca = CertificateAuthority::load_or_create(tmp.path(), {"api.openai.com"});
    auto server_ctx = ca.server_context_for("api.openai.com");
    auto client_ctx = make_upstream_client_context(ca.ca_cert_path());
    tcp::acceptor acceptor(io, tcp::endpoint(net::ip::address_v4::loopback(), 0));
    TlsStream client(io.get_executor(), client_ctx.get());
    client.next_layer().connect(acceptor.local_endpoint());
    ASSERT_TRUE(prepare_upstream_ssl(client.native_handle(), "api.openai.com"));
    TlsStream server(acceptor.accept(), server_ctx.get());
    ConnectionDeadline deadline(io.get_executor());

    std::optional<error_code> read_ec;
    std::array<char, 64> buf{};
    deadline.arm(std::chrono::seconds(5), server.next_layer());
    server.async_handshake(net::ssl::stream_base::server, [&](error_code ec) {
        ASSERT_FALSE(ec) << ec.message();
        deadline.arm(milliseconds(50), server.next_layer());
        server.async_read_some(net::buffer(buf),
                               [&](error_code ec2, std::size_t) { read_ec = ec2; });
    });
    client.async_handshake(net::ssl::stream_base::client,
                           [](error_code ec) { ASSERT_FALSE(ec) << ec.message(); });
    io.run_for(std::chrono::seconds(5));
    ASSERT_TRUE(read_ec);
    EXPECT_EQ(*read_ec, net::error::operation_aborted) << read_ec->message();
    EXPECT_TRUE(deadline.timed_out());
}

}  // namespace
}  // namespace sluice
