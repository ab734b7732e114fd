// A lean TLS stream: OpenSSL reads and writes the non-blocking socket itself (SSL_set_fd), and
// Asio is only asked to wait for readiness (socket.async_wait) when OpenSSL says WANT_READ or
// WANT_WRITE. Nothing is buffered outside OpenSSL, and SSL_MODE_RELEASE_BUFFERS gives OpenSSL's
// record buffers back while the connection is idle.
//
// Why not asio::ssl::stream: it keeps two 17 KiB stream_core vectors and a 2 x 17 KiB BIO pair
// per connection whether or not the connection is doing anything (78 KiB per idle client
// connection, docs/benchmarks.md), and copies every byte through them.
//
// It is a Beast AsyncStream (http::async_read/async_write and friends work on it unchanged) and
// every operation is an async_compose op, so any completion token works (use_awaitable,
// redirect_error, plain callbacks). Operations never complete inside the initiating call.
//
// Concurrency: one read and one write may be outstanding at the same time (full duplex), plus
// nothing else; like every Asio I/O object it must be used from one thread or strand.
// The stream never closes the socket; whoever owns it (the session, a deadline) does. An
// operation that finds the socket closed completes with operation_aborted, never touching the
// file descriptor again (the number may already belong to another connection).
//
// Errors:
//   peer sent close_notify                    -> net::error::eof
//   peer closed TCP without close_notify      -> net::ssl::error::stream_truncated
//   peer reset the connection                 -> net::error::connection_reset (other errno alike)
//   handshake and protocol failures           -> asio's ssl category, value = OpenSSL's packed
//                                                 error, message() = OpenSSL's reason
//                                                 ("certificate verify failed", "tlsv1 alert
//                                                 unknown ca", ...)
#pragma once

#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <iterator>
#include <type_traits>
#include <utility>

#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>  // stream_truncated and the ssl category, part of this API
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#include "agent/tls/openssl_handles.h"

namespace sluice {

namespace tls_detail {

// What one non-blocking attempt at an OpenSSL call left us with.
enum class Want { nothing, read, write };

struct Attempt {
    Want want = Want::nothing;        // read/write: wait for the socket, then try again
    boost::system::error_code error;  // final when want == nothing
    std::size_t bytes = 0;
};

// One TLS record's worth of plaintext (RFC 8446 §5.1): the largest write that is one record.
inline constexpr std::size_t kRecordPlaintextBytes = 16 * 1024;
// A write_some call sends at most this much before completing, so one connection with a large
// body cannot hold the event loop for long (the caller's async_write simply calls again).
inline constexpr std::size_t kMaxBytesPerWriteSome = 4 * kRecordPlaintextBytes;
// Non-empty buffers one write_some call looks at: a response header with its fields and a
// chunk's framing fit several times over.
inline constexpr std::size_t kMaxGatherPieces = 64;

}  // namespace tls_detail

class TlsStream {
public:
    using executor_type = boost::asio::ip::tcp::socket::executor_type;
    using next_layer_type = boost::asio::ip::tcp::socket;
    using lowest_layer_type = boost::asio::ip::tcp::socket;
    using handshake_type = boost::asio::ssl::stream_base::handshake_type;

    // Server side for an accepted (connected) socket; `ctx` is the SNI-selected leaf context
    // (the SSL holds its own reference, so the context may be replaced in a cache meanwhile).
    // Client side: construct from an executor, open and connect next_layer(), prepare
    // native_handle() (SNI, host check, session), then async_handshake(client).
    // Throws std::runtime_error if OpenSSL cannot allocate the SSL (start-up class failure:
    // out of memory).
    TlsStream(boost::asio::ip::tcp::socket socket, SSL_CTX* ctx);
    TlsStream(const executor_type& executor, SSL_CTX* ctx);

    TlsStream(TlsStream&&) noexcept = default;
    TlsStream& operator=(TlsStream&&) noexcept = default;
    TlsStream(const TlsStream&) = delete;
    TlsStream& operator=(const TlsStream&) = delete;
    ~TlsStream() = default;

    executor_type get_executor() noexcept { return socket_.get_executor(); }
    SSL* native_handle() noexcept { return ssl_.get(); }
    next_layer_type& next_layer() noexcept { return socket_; }
    const next_layer_type& next_layer() const noexcept { return socket_; }
    lowest_layer_type& lowest_layer() noexcept { return socket_; }

    // void(error_code)
    template <class CompletionToken>
    auto async_handshake(handshake_type type, CompletionToken&& token) {
        return start<void(boost::system::error_code)>(
            [type](TlsStream& s) { return s.try_handshake(type); },
            std::forward<CompletionToken>(token));
    }

    // void(error_code, std::size_t). Reads what one call to OpenSSL yields, into as many of the
    // buffers as already-decrypted data fills; never waits once it has bytes.
    template <class MutableBufferSequence, class CompletionToken>
    auto async_read_some(const MutableBufferSequence& buffers, CompletionToken&& token) {
        return start<void(boost::system::error_code, std::size_t)>(
            [buffers](TlsStream& s) { return s.try_read(buffers); },
            std::forward<CompletionToken>(token));
    }

    // void(error_code, std::size_t). Small gathers (a header and a body piece, a chunk header,
    // its data and CRLF) are coalesced on the stack into one SSL_write, so they leave as one
    // TLS record; see try_write.
    template <class ConstBufferSequence, class CompletionToken>
    auto async_write_some(const ConstBufferSequence& buffers, CompletionToken&& token) {
        return start<void(boost::system::error_code, std::size_t)>(
            [buffers](TlsStream& s) { return s.try_write(buffers); },
            std::forward<CompletionToken>(token));
    }

    // Synchronous and never waiting, so Beast's synchronous HTTP operations run on the stream
    // (SyncReadStream / SyncWriteStream): one attempt now. When OpenSSL needs the socket to
    // become readable or writable first, nothing is transferred, ec is net::error::would_block,
    // and async_wait_ready() waits for what it needs. Partial progress is reported without an
    // error. On a closed socket: bad_descriptor. See agent/proxy/inline_io.h.
    template <class MutableBufferSequence>
    std::size_t read_some(const MutableBufferSequence& buffers, boost::system::error_code& ec) {
        if (!socket_.is_open()) return closed(ec);
        return settle_now(try_read(buffers), ec);
    }
    template <class ConstBufferSequence>
    std::size_t write_some(const ConstBufferSequence& buffers, boost::system::error_code& ec) {
        if (!socket_.is_open()) return closed(ec);
        return settle_now(try_write(buffers), ec);
    }
    template <class MutableBufferSequence>
    std::size_t read_some(const MutableBufferSequence& buffers) {
        boost::system::error_code ec;
        const std::size_t n = read_some(buffers, ec);
        if (ec) throw boost::system::system_error(ec);
        return n;
    }
    template <class ConstBufferSequence>
    std::size_t write_some(const ConstBufferSequence& buffers) {
        boost::system::error_code ec;
        const std::size_t n = write_some(buffers, ec);
        if (ec) throw boost::system::system_error(ec);
        return n;
    }
    // Synchronous and never waiting, like read_some: processes the TLS records that have
    // arrived without consuming any application data. ec is empty when application data is
    // ready to read, net::error::would_block when more must arrive first (async_wait_ready()
    // waits for it; with SSL_MODE_RELEASE_BUFFERS no record buffer is held meanwhile), and
    // otherwise the error a read would report. For waiting on an idle keep-alive connection
    // without a read buffer or a parser.
    void peek_input(boost::system::error_code& ec) {
        if (!socket_.is_open()) {
            closed(ec);
            return;
        }
        settle_now(try_peek(), ec);
    }
    // Skips the attempt a caller knows would find nothing (no bytes held by OpenSSL, and the
    // peer has had no time to send): the next async_wait_ready() waits for readability.
    void expect_input() noexcept { last_want_ = tls_detail::Want::read; }
    // void(error_code): the socket is ready for what the last would_block attempt wanted (or
    // readable, after expect_input()). Asio re-arms the socket's epoll entry for each wait, and
    // that reports bytes that arrived before the wait began.
    template <class CompletionToken>
    auto async_wait_ready(CompletionToken&& token) {
        return socket_.async_wait(last_want_ == tls_detail::Want::write
                                      ? boost::asio::socket_base::wait_write
                                      : boost::asio::socket_base::wait_read,
                                  std::forward<CompletionToken>(token));
    }

    // void(error_code). Sends close_notify and waits for the peer's (a full TLS shutdown).
    // A peer that closes TCP instead yields stream_truncated or eof; most callers only need
    // send_close_notify().
    template <class CompletionToken>
    auto async_shutdown(CompletionToken&& token) {
        return start<void(boost::system::error_code)>([](TlsStream& s) { return s.try_shutdown(); },
                                                      std::forward<CompletionToken>(token));
    }

    // Best effort, never waits: queues our close_notify and tries to write it once, so a
    // client closing after a response sees a clean end rather than a truncation. One write().
    void send_close_notify() noexcept;

    // True when OpenSSL holds received bytes (decrypted or read ahead) not yet returned by a
    // read: the next read needs no syscall for them.
    bool has_pending_input() const noexcept;

private:
    template <class Signature, class AttemptFn>
    class Op;

    template <class Signature, class AttemptFn, class CompletionToken>
    auto start(AttemptFn attempt, CompletionToken&& token) {
        return boost::asio::async_compose<CompletionToken, Signature>(
            Op<Signature, AttemptFn>(*this, std::move(attempt)), token, socket_);
    }

    // One non-blocking step each; the composed op waits and calls again as they ask.
    tls_detail::Attempt try_handshake(handshake_type type);
    tls_detail::Attempt try_shutdown();
    tls_detail::Attempt read_into(void* data, std::size_t size);
    tls_detail::Attempt try_peek();
    tls_detail::Attempt write_from(const void* data, std::size_t size);
    // The outcome of a synchronous attempt: would_block (remembering which way) or final.
    std::size_t settle_now(const tls_detail::Attempt& attempt, boost::system::error_code& ec);
    static std::size_t closed(boost::system::error_code& ec);
    // Binds the socket's fd to the SSL on first use (a client connects after construction).
    bool attach_socket(boost::system::error_code& ec);

    template <class MutableBufferSequence>
    tls_detail::Attempt try_read(const MutableBufferSequence& buffers) {
        tls_detail::Attempt total;
        auto it = boost::asio::buffer_sequence_begin(buffers);
        const auto end = boost::asio::buffer_sequence_end(buffers);
        for (; it != end; ++it) {
            boost::asio::mutable_buffer b(*it);
            if (b.size() == 0) continue;
            // After the first buffer, only take what OpenSSL already holds: no more syscalls.
            if (total.bytes > 0 && !has_pending_input()) break;
            tls_detail::Attempt one = read_into(b.data(), b.size());
            if (one.want != tls_detail::Want::nothing || one.error) {
                if (total.bytes > 0) break;  // report what we have; the error comes again
                return one;
            }
            total.bytes += one.bytes;
            if (one.bytes < b.size()) break;
        }
        return total;
    }

    // Walks the sequence once into a flat list (a Beast header is one buffer per field, and
    // stepping through its nested views is what costs), then write_pieces() does the work.
    // Past kMaxGatherPieces the rest waits for the next write_some call.
    template <class ConstBufferSequence>
    tls_detail::Attempt try_write(const ConstBufferSequence& buffers) {
        std::array<boost::asio::const_buffer, tls_detail::kMaxGatherPieces> pieces;
        std::size_t count = 0;
        const auto end = boost::asio::buffer_sequence_end(buffers);
        for (auto it = boost::asio::buffer_sequence_begin(buffers);
             it != end && count < pieces.size(); ++it) {
            const boost::asio::const_buffer piece(*it);
            if (piece.size() != 0) pieces[count++] = piece;
        }
        return write_pieces(pieces.data(), count);
    }

    // Writes records until the pieces are sent, the socket is full, or kMaxBytesPerWriteSome.
    // Each SSL_write gets up to one record of plaintext: the caller's buffer itself when it
    // alone fills the record (or is the last), otherwise a copy of the following pieces
    // gathered on the stack. Retrying after WANT_WRITE rebuilds the same bytes at another
    // address, which SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER allows.
    tls_detail::Attempt write_pieces(const boost::asio::const_buffer* pieces, std::size_t count);

    SslPtr ssl_;
    boost::asio::ip::tcp::socket socket_;
    tls_detail::Want last_want_ = tls_detail::Want::read;
    bool attached_ = false;
    bool failed_ = false;  // a fatal TLS or socket error: no more I/O, not even close_notify
};

// The composed operation behind every call: attempt, wait for readiness when OpenSSL asks,
// attempt again. A result obtained without waiting is delivered through post(), so completion
// handlers never run inside the initiating function (Beast's composed operations rely on it).
template <class Signature, class AttemptFn>
class TlsStream::Op {
public:
    Op(TlsStream& stream, AttemptFn attempt) : stream_(stream), attempt_(std::move(attempt)) {}

    template <class Self>
    void operator()(Self& self, boost::system::error_code wait_error = {}) {
        namespace net = boost::asio;
        if (phase_ == Phase::delivering) return deliver(self);
        if (phase_ == Phase::waiting && wait_error) {
            result_.error = wait_error;  // cancelled, or the socket was closed under us
            return deliver(self);
        }
        if (!stream_.socket_.is_open()) {
            result_.error = phase_ == Phase::starting ? net::error::bad_descriptor
                                                      : net::error::operation_aborted;
        } else {
            result_ = attempt_(stream_);
            if (result_.want != tls_detail::Want::nothing) {
                const bool read = result_.want == tls_detail::Want::read;
                phase_ = Phase::waiting;
                stream_.socket_.async_wait(
                    read ? net::socket_base::wait_read : net::socket_base::wait_write,
                    std::move(self));
                return;
            }
        }
        if (phase_ == Phase::starting) {
            phase_ = Phase::delivering;
            net::post(std::move(self));
            return;
        }
        deliver(self);
    }

private:
    enum class Phase { starting, waiting, delivering };

    template <class Self>
    void deliver(Self& self) {
        if constexpr (std::is_same_v<Signature, void(boost::system::error_code)>)
            self.complete(result_.error);
        else
            self.complete(result_.error, result_.bytes);
    }

    TlsStream& stream_;
    AttemptFn attempt_;
    tls_detail::Attempt result_;
    Phase phase_ = Phase::starting;
};

}  // namespace sluice
