#include "agent/state_store/redis_connection.h"

#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <deque>
#include <mutex>
#include <optional>

#include "agent/tls/openssl_handles.h"
#include "agent/tls/upstream_tls.h"

namespace sluice {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

inline auto use_ec(boost::system::error_code& ec) {
    return net::redirect_error(net::use_awaitable, ec);
}

constexpr std::chrono::milliseconds kFirstBackoff{100};
constexpr std::chrono::milliseconds kMaxBackoff{5000};
constexpr std::chrono::milliseconds kConnectTimeout{2000};
// Beyond this many unanswered commands new ones fail at once: a server that has stopped
// answering must not grow memory without bound before the stall timeout drops it.
constexpr std::size_t kMaxPending = 100'000;
constexpr std::size_t kReadChunkBytes = 16 * 1024;

RedisReply convert(const redisReply* r) {
    RedisReply out;
    switch (r->type) {
        case REDIS_REPLY_STRING:
            out.type = RedisReply::Type::string;
            out.text.assign(r->str, r->len);
            break;
        case REDIS_REPLY_STATUS:
            out.type = RedisReply::Type::status;
            out.text.assign(r->str, r->len);
            break;
        case REDIS_REPLY_ERROR:
            out.type = RedisReply::Type::error;
            out.text.assign(r->str, r->len);
            break;
        case REDIS_REPLY_INTEGER:
            out.type = RedisReply::Type::integer;
            out.integer = r->integer;
            break;
        case REDIS_REPLY_ARRAY:
            out.type = RedisReply::Type::array;
            out.elements.reserve(r->elements);
            for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
            break;
        default:
            break;
    }
    return out;
}

void append_command(std::string& out, const std::vector<std::string>& argv) {
    std::vector<const char*> parts;
    std::vector<size_t> lengths;
    parts.reserve(argv.size());
    lengths.reserve(argv.size());
    for (const auto& a : argv) {
        parts.push_back(a.data());
        lengths.push_back(a.size());
    }
    char* formatted = nullptr;
    const int length = redisFormatCommandArgv(&formatted, static_cast<int>(argv.size()),
                                              parts.data(), lengths.data());
    if (length < 0 || !formatted) throw std::bad_alloc();
    out.append(formatted, static_cast<size_t>(length));
    redisFreeCommand(formatted);
}

struct ReaderDeleter {
    void operator()(redisReader* r) const { redisReaderFree(r); }
};

}  // namespace

struct RedisConnection::Session {
    Session(net::io_context& io, net::ssl::context& tls_context, bool use_tls)
        : stream(io, tls_context), tls(use_tls), reader(redisReaderCreate()) {
        if (!reader) throw std::bad_alloc();
    }

    tcp::socket& socket() { return stream.next_layer(); }

    template <typename Handler>
    void write(const std::string& data, Handler&& handler) {
        if (tls)
            net::async_write(stream, net::buffer(data), std::forward<Handler>(handler));
        else
            net::async_write(socket(), net::buffer(data), std::forward<Handler>(handler));
    }

    net::awaitable<std::size_t> read_some(char* data, std::size_t size,
                                          boost::system::error_code& ec) {
        if (tls) co_return co_await stream.async_read_some(net::buffer(data, size), use_ec(ec));
        co_return co_await socket().async_read_some(net::buffer(data, size), use_ec(ec));
    }

    // The next reply, reading as needed; nullopt with `why` set when the link failed.
    net::awaitable<std::optional<RedisReply>> next_reply(std::string& why) {
        for (;;) {
            void* raw = nullptr;
            if (redisReaderGetReply(reader.get(), &raw) != REDIS_OK) {
                why = "malformed reply from server";
                co_return std::nullopt;
            }
            if (raw) {
                RedisReply reply = convert(static_cast<redisReply*>(raw));
                freeReplyObject(raw);
                co_return reply;
            }
            boost::system::error_code ec;
            char buffer[kReadChunkBytes];
            const std::size_t n = co_await read_some(buffer, sizeof buffer, ec);
            if (ec) {
                why = ec == net::error::eof ? "connection closed by server" : ec.message();
                co_return std::nullopt;
            }
            redisReaderFeed(reader.get(), buffer, n);
        }
    }

    void close() {
        open = false;
        boost::system::error_code ignored;
        socket().shutdown(tcp::socket::shutdown_both, ignored);
        socket().close(ignored);
    }

    net::ssl::stream<tcp::socket> stream;
    bool tls;
    std::unique_ptr<redisReader, ReaderDeleter> reader;
    struct Pending {
        Callback done;
        Clock::time_point sent;
    };
    std::deque<Pending> pending;
    std::string out;        // formatted, not yet handed to the socket
    std::string in_flight;  // being written
    bool writing = false;
    bool open = true;
};

RedisConnection::RedisConnection(net::io_context* loop, RedisEndpoint endpoint,
                                 std::chrono::milliseconds stall_timeout)
    : own_io_(loop ? nullptr : std::make_unique<net::io_context>(1)),
      io_(loop ? *loop : *own_io_),
      endpoint_(std::move(endpoint)),
      stall_timeout_(stall_timeout) {}

std::shared_ptr<RedisConnection> RedisConnection::on_own_thread(
    RedisEndpoint endpoint, std::chrono::milliseconds stall_timeout) {
    return std::shared_ptr<RedisConnection>(
        new RedisConnection(nullptr, std::move(endpoint), stall_timeout));
}

std::shared_ptr<RedisConnection> RedisConnection::on_loop(net::io_context& loop,
                                                          RedisEndpoint endpoint,
                                                          std::chrono::milliseconds stall_timeout) {
    return std::shared_ptr<RedisConnection>(
        new RedisConnection(&loop, std::move(endpoint), stall_timeout));
}

RedisConnection::~RedisConnection() {
    if (own_io_) stop();
}

std::string RedisConnection::last_error() const {
    std::lock_guard lock(error_mutex_);
    return last_error_;
}

void RedisConnection::set_error(const std::string& why) {
    std::lock_guard lock(error_mutex_);
    last_error_ = why;
}

void RedisConnection::start() {
    // The TLS context is built here so a bad CA file stops start-up with one line.
    if (endpoint_.tls) {
        std::shared_ptr<SSL_CTX> native = make_upstream_client_context(endpoint_.tls_ca_file);
        SSL_CTX_up_ref(native.get());  // asio's context frees its handle; give it its own
        tls_context_ = std::make_shared<net::ssl::context>(native.get());
    } else {
        tls_context_ = std::make_shared<net::ssl::context>(net::ssl::context::tls_client);
    }
    // On a caller's loop the coroutine holds the connection, so it outlives whoever started it
    // until it ends (or the loop is destroyed with it).
    if (own_io_) {
        net::co_spawn(io_, run(), net::detached);
        thread_ = std::thread([this] { io_.run(); });
        return;
    }
    net::co_spawn(
        io_,
        [](std::shared_ptr<RedisConnection> self) -> net::awaitable<void> {
            co_await self->run();
        }(shared_from_this()),
        net::detached);
}

net::awaitable<std::string> RedisConnection::establish(Session& s) {
    boost::system::error_code ec;
    tcp::resolver resolver(io_);
    auto endpoints =
        co_await resolver.async_resolve(endpoint_.host, std::to_string(endpoint_.port), use_ec(ec));
    if (ec) co_return "resolve " + endpoint_.host + ": " + ec.message();
    net::steady_timer deadline(io_, kConnectTimeout);
    deadline.async_wait([&s](boost::system::error_code wait_ec) {
        if (!wait_ec) s.close();
    });
    co_await net::async_connect(s.socket(), endpoints, use_ec(ec));
    if (ec || !s.open) co_return "connect: " + (ec ? ec.message() : std::string("timed out"));
    s.socket().set_option(tcp::no_delay(true), ec);
    if (s.tls) {
        if (!prepare_upstream_ssl(s.stream.native_handle(), endpoint_.tls_server_name))
            co_return "TLS setup: " + drain_openssl_errors();
        co_await s.stream.async_handshake(net::ssl::stream_base::client, use_ec(ec));
        if (ec) co_return "TLS handshake: " + drain_openssl_errors() + " " + ec.message();
    }
    std::string hello;
    int expected = 0;
    if (!endpoint_.password.empty()) {
        if (endpoint_.user.empty())
            append_command(hello, {"AUTH", endpoint_.password});
        else
            append_command(hello, {"AUTH", endpoint_.user, endpoint_.password});
        ++expected;
    }
    if (endpoint_.database != 0) {
        append_command(hello, {"SELECT", std::to_string(endpoint_.database)});
        ++expected;
    }
    if (expected > 0) {
        if (s.tls)
            co_await net::async_write(s.stream, net::buffer(hello), use_ec(ec));
        else
            co_await net::async_write(s.socket(), net::buffer(hello), use_ec(ec));
        if (ec) co_return "send: " + ec.message();
        for (int i = 0; i < expected; ++i) {
            std::string why;
            auto reply = co_await s.next_reply(why);
            if (!reply) co_return why;
            // Redis's own text: it never contains the password.
            if (reply->is_error()) co_return "AUTH/SELECT refused: " + reply->text;
        }
    }
    deadline.cancel();
    co_return "";
}

net::awaitable<void> RedisConnection::watch_stalls(std::shared_ptr<Session> s) {
    net::steady_timer timer(io_);
    const auto tick = std::max(stall_timeout_ / 4, std::chrono::milliseconds(10));
    while (s->open) {
        timer.expires_after(tick);
        boost::system::error_code ec;
        co_await timer.async_wait(use_ec(ec));
        if (!s->pending.empty() && Clock::now() - s->pending.front().sent > stall_timeout_) {
            spdlog::warn("state_store: redis {}:{} stopped answering; reconnecting", endpoint_.host,
                         endpoint_.port);
            s->close();
        }
    }
}

net::awaitable<void> RedisConnection::run() {
    std::chrono::milliseconds backoff = kFirstBackoff;
    std::string reported;
    while (!stopping_.load()) {
        auto s = std::make_shared<Session>(io_, *tls_context_, endpoint_.tls);
        std::string why = co_await establish(*s);
        if (why.empty()) {
            session_ = s;
            connected_.store(true, std::memory_order_release);
            set_error("");
            backoff = kFirstBackoff;
            reported.clear();
            spdlog::info("state_store: connected to redis {}:{}", endpoint_.host, endpoint_.port);
            if (own_io_)
                net::co_spawn(io_, watch_stalls(s), net::detached);
            else
                net::co_spawn(
                    io_,
                    [](std::shared_ptr<RedisConnection> self,
                       std::shared_ptr<Session> session) -> net::awaitable<void> {
                        co_await self->watch_stalls(std::move(session));
                    }(shared_from_this(), s),
                    net::detached);
            if (on_connected_) on_connected_();
            while (!stopping_.load()) {
                auto reply = co_await s->next_reply(why);
                if (!reply) break;
                if (s->pending.empty()) {
                    why = "reply to no command";
                    break;
                }
                Callback done = std::move(s->pending.front().done);
                s->pending.pop_front();
                done(true, *reply);
            }
            connected_.store(false, std::memory_order_release);
            session_.reset();
            s->close();
            while (!s->pending.empty()) {
                Callback done = std::move(s->pending.front().done);
                s->pending.pop_front();
                done(false, RedisReply{});
            }
        }
        s->close();
        if (stopping_.load()) break;
        set_error(why);
        if (why != reported) {
            spdlog::warn("state_store: redis {}:{}: {}; retrying with backoff", endpoint_.host,
                         endpoint_.port, why);
            reported = why;
        }
        net::steady_timer timer(io_, backoff);
        boost::system::error_code ec;
        co_await timer.async_wait(use_ec(ec));
        backoff = std::min(backoff * 2, kMaxBackoff);
    }
}

void RedisConnection::stop() {
    if (!own_io_) {
        stopping_.store(true);
        if (session_) session_->close();
        connected_.store(false);
        return;
    }
    if (!thread_.joinable()) return;
    stopping_.store(true);
    net::post(io_, [this] {
        if (session_) session_->close();
        io_.stop();
    });
    thread_.join();
    connected_.store(false);
}

void RedisConnection::send(std::vector<std::string> argv, Callback done) {
    // dispatch: on the loop's own thread (a proxy worker) the command goes out now, no hand-off.
    net::dispatch(io_, [this, argv = std::move(argv), done = std::move(done)]() mutable {
        std::shared_ptr<Session> s = session_;
        if (!s || !s->open || s->pending.size() >= kMaxPending) {
            done(false, RedisReply{});
            return;
        }
        append_command(s->out, argv);
        s->pending.push_back({std::move(done), Clock::now()});
        // Writes go out in order, one batch at a time: everything queued while the previous
        // batch was on the wire leaves in the next one (pipelining).
        struct Flusher {
            static void flush(const std::shared_ptr<Session>& s) {
                if (s->writing || s->out.empty() || !s->open) return;
                s->writing = true;
                s->in_flight.swap(s->out);
                s->out.clear();
                s->write(s->in_flight, [s](boost::system::error_code ec, std::size_t) {
                    s->writing = false;
                    s->in_flight.clear();
                    if (ec) {
                        s->close();
                        return;
                    }
                    flush(s);
                });
            }
        };
        Flusher::flush(s);
    });
}

}  // namespace sluice
