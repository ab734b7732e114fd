// One connection to Redis (or Valkey) on an Asio event loop: either a thread of its own
// (`RedisConnection::on_own_thread`) or a loop the caller runs, such as a proxy worker's, so a
// request's round trip to Redis never leaves its thread. Commands are pipelined in order and
// each reply goes to its command's callback, on the loop's thread. Commands are written with
// hiredis's formatter and replies read with hiredis's reader (Debian's libhiredis), over TCP or TLS
// (Asio + OpenSSL).
//
// Connection loss is never fatal: pending commands fail at once, the loop reconnects with
// backoff (100 ms doubling to 5 s), and on each new connection it authenticates, selects the
// database and hands the link to `on_connected` before taking commands again. A server that
// stops answering (stopped, partitioned) is dropped after `stall_timeout`.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/state_store/redis_reply.h"

namespace sluice {

struct RedisEndpoint {
    std::string host;
    uint16_t port = 6379;
    uint32_t database = 0;
    bool tls = false;
    std::string tls_ca_file;
    std::string tls_server_name;
    std::string user;      // ACL user; "" = default
    std::string password;  // "" = no AUTH
};

class RedisConnection : public std::enable_shared_from_this<RedisConnection> {
public:
    // ok false: the command never got a reply (not connected, connection lost); the reply is
    // then empty. A Redis error reply is ok with reply.is_error().
    using Callback = std::function<void(bool ok, const RedisReply& reply)>;

    // A connection with a thread and event loop of its own; stop() (or the destructor) ends both.
    static std::shared_ptr<RedisConnection> on_own_thread(
        RedisEndpoint endpoint, std::chrono::milliseconds stall_timeout = std::chrono::seconds(1));
    // A connection on `loop`, which the caller runs. Once started, the loop owns it: it lives
    // until stop() has been called and its coroutines ended, or until the loop is destroyed.
    static std::shared_ptr<RedisConnection> on_loop(
        boost::asio::io_context& loop, RedisEndpoint endpoint,
        std::chrono::milliseconds stall_timeout = std::chrono::seconds(1));
    ~RedisConnection();
    RedisConnection(const RedisConnection&) = delete;
    RedisConnection& operator=(const RedisConnection&) = delete;

    // Called on the connection's thread each time a connection is ready (to replay what
    // waited for it); set before start().
    void on_connected(std::function<void()> callback) { on_connected_ = std::move(callback); }
    void start();
    // Own thread: from any other thread. On a loop: on the loop's thread, or once it has stopped.
    void stop();

    // Sends a command; `done` runs on the connection's thread. When not connected it fails at
    // once (the caller's fail_mode decides), so nothing waits on a dead server. Called on the
    // loop's thread, the command is written at once (and `done` may run before send returns).
    void send(std::vector<std::string> argv, Callback done);
    boost::asio::io_context& loop() { return io_; }
    const RedisEndpoint& endpoint() const { return endpoint_; }
    std::chrono::milliseconds stall_timeout() const { return stall_timeout_; }
    bool connected() const { return connected_.load(std::memory_order_acquire); }
    // What went wrong last, for status and logs ("" while connected).
    std::string last_error() const;

private:
    struct Session;
    RedisConnection(boost::asio::io_context* loop, RedisEndpoint endpoint,
                    std::chrono::milliseconds stall_timeout);

    boost::asio::awaitable<void> run();
    boost::asio::awaitable<std::string> establish(Session& s);
    boost::asio::awaitable<void> watch_stalls(std::shared_ptr<Session> s);
    void set_error(const std::string& why);

    std::unique_ptr<boost::asio::io_context> own_io_;  // null on a caller's loop
    boost::asio::io_context& io_;
    RedisEndpoint endpoint_;
    std::chrono::milliseconds stall_timeout_;
    std::function<void()> on_connected_;
    std::shared_ptr<boost::asio::ssl::context> tls_context_;
    std::shared_ptr<Session> session_;  // touched on the connection's thread only
    std::atomic<bool> connected_{false};
    std::atomic<bool> stopping_{false};
    mutable std::mutex error_mutex_;
    std::string last_error_;
    std::thread thread_;  // own thread only
};

}  // namespace sluice
