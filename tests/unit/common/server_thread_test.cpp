// The side servers' thread: a bad address stops start-up with a line naming the config key;
// accepted sockets reach the handler on the loop's thread; stop() ends the loop with the
// acceptor closed (a new connect is refused) and can be called again.
#include "agent/common/server_thread.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace sluice {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;

TEST(ServerThread, ABadAddressNamesTheConfigKey) {
    ServerThread server;
    try {
        server.listen("not-an-address", 0, "metrics.listen");
        FAIL() << "listen must throw";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("metrics.listen: cannot listen on not-an-address:0"),
                  std::string::npos)
            << e.what();
    }
}

TEST(ServerThread, HandsAcceptedSocketsToTheLoopAndStopsClosingTheAcceptor) {
    ServerThread server;
    server.listen("127.0.0.1", 0, "test.listen");
    ASSERT_NE(server.port(), 0);
    std::atomic<int> accepted{0};
    std::atomic<bool> on_loop_thread{true};
    std::thread::id caller = std::this_thread::get_id();
    server.start([&](tcp::socket socket) {
        if (std::this_thread::get_id() == caller) on_loop_thread = false;
        ++accepted;
        socket.close();
    });
    net::io_context client_io;
    const tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), server.port());
    for (int i = 0; i < 3; ++i) {
        tcp::socket client(client_io);
        client.connect(endpoint);
    }
    for (int i = 0; i < 200 && accepted < 3; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_EQ(accepted, 3);
    EXPECT_TRUE(on_loop_thread);

    server.stop();
    tcp::socket late(client_io);
    boost::system::error_code ec;
    late.connect(endpoint, ec);
    EXPECT_EQ(ec, net::error::connection_refused) << "the acceptor is closed after stop()";
    server.stop();  // again: nothing to do
}

}  // namespace
}  // namespace sluice
