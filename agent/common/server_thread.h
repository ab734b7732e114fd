// One event loop on its own thread with one listening socket: the shape of sluiced's side
// servers (the Prometheus endpoint, the approvers' web page), which must never run on a proxy
// worker. listen() binds at once, so a bad address stops start-up with one line; start() runs
// the accept loop and hands each accepted socket to `on_accept` on the loop's thread; stop()
// closes the acceptor and then stops the loop, both on the loop's own thread (an acceptor is
// not thread-safe, and a close posted after stop() would never run), then joins it.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

namespace sluice {

class ServerThread {
public:
    using OnAccept = std::function<void(boost::asio::ip::tcp::socket)>;

    ServerThread() = default;
    ~ServerThread();
    ServerThread(const ServerThread&) = delete;
    ServerThread& operator=(const ServerThread&) = delete;

    // Throws std::runtime_error "<config_key>: cannot listen on host:port: why".
    void listen(const std::string& host, uint16_t port, const std::string& config_key);
    void start(OnAccept on_accept);
    void stop();

    boost::asio::io_context& io() { return io_; }
    uint16_t port() const { return port_; }

private:
    boost::asio::io_context io_{1};
    boost::asio::ip::tcp::acceptor acceptor_{io_};
    uint16_t port_ = 0;
    std::thread thread_;
};

}  // namespace sluice
