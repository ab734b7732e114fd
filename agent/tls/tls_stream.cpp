#include "agent/tls/tls_stream.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>

namespace sluice {

namespace net = boost::asio;
using tls_detail::Attempt;
using tls_detail::Want;

namespace {

// SSL_get_error() needs the thread's error queue empty before each SSL_* call. It nearly always
// is, and clearing all of its slots every time was a few percent of the proxy's CPU.
void clear_stale_errors() {
    if (ERR_peek_error() != 0) ERR_clear_error();
}

// Turns the outcome of one SSL_* call into a wait request or a final error. `saved_errno` is
// errno as the call left it (SSL_get_error and the ERR_* calls may change it).
Attempt classify(SSL* ssl, int rc, int saved_errno, bool& failed) {
    const int code = SSL_get_error(ssl, rc);
    Attempt out;
    switch (code) {
        case SSL_ERROR_NONE:
            return out;
        case SSL_ERROR_WANT_READ:
            out.want = Want::read;
            return out;
        case SSL_ERROR_WANT_WRITE:
            out.want = Want::write;
            return out;
        case SSL_ERROR_ZERO_RETURN:
            out.error = net::error::eof;  // the peer's close_notify
            return out;
        default:
            break;
    }
    failed =
        true;  // RFC 8446 §6.2: after a fatal error nothing more is sent, not even close_notify
    const unsigned long queued = ERR_get_error();
    ERR_clear_error();
    if (code == SSL_ERROR_SYSCALL) {
        if (saved_errno != 0) {
            out.error = boost::system::error_code(saved_errno, boost::system::system_category());
        } else if (queued != 0 && ERR_GET_LIB(queued) == ERR_LIB_SYS) {
            out.error =
                boost::system::error_code(ERR_GET_REASON(queued), boost::system::system_category());
        } else if (queued != 0) {
            out.error =
                boost::system::error_code(static_cast<int>(queued), net::error::get_ssl_category());
        } else {
            out.error = net::ssl::error::stream_truncated;  // EOF where a record was due
        }
        return out;
    }
    // OpenSSL 3 reports a TCP close without close_notify as a protocol error; callers treat it
    // like every other "client went away", so it gets Asio's name for it.
    if (ERR_GET_LIB(queued) == ERR_LIB_SSL &&
        ERR_GET_REASON(queued) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        out.error = net::ssl::error::stream_truncated;
        return out;
    }
    if (queued == 0) {
        out.error = net::ssl::error::unspecified_system_error;
        return out;
    }
    // Asio's ssl category: message() is OpenSSL's reason ("certificate verify failed", "tlsv1
    // alert unknown ca"), the same text the audit recorded with asio::ssl::stream.
    out.error = boost::system::error_code(static_cast<int>(queued), net::error::get_ssl_category());
    return out;
}

SSL* new_ssl(SSL_CTX* ctx) {
    SSL* ssl = ctx == nullptr ? nullptr : SSL_new(ctx);
    if (ssl == nullptr)
        throw std::runtime_error("TLS stream: SSL_new failed: " + drain_openssl_errors());
    // RELEASE_BUFFERS: an idle connection holds no record buffers (about 34 KiB).
    // ENABLE_PARTIAL_WRITE: SSL_write returns after each record, so write_some reports progress
    // instead of retrying a whole large buffer. ACCEPT_MOVING_WRITE_BUFFER: a retried write may
    // come from another address (our gather buffer lives on the stack).
    SSL_set_mode(ssl, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                          SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    // Read what the socket has (up to a record buffer) in one recv instead of a 5-byte header
    // and then the record body: half the read syscalls.
    SSL_set_read_ahead(ssl, 1);
    return ssl;
}

}  // namespace

TlsStream::TlsStream(net::ip::tcp::socket socket, SSL_CTX* ctx)
    : ssl_(new_ssl(ctx)), socket_(std::move(socket)) {}

TlsStream::TlsStream(const executor_type& executor, SSL_CTX* ctx)
    : TlsStream(net::ip::tcp::socket(executor), ctx) {}

bool TlsStream::attach_socket(boost::system::error_code& ec) {
    if (attached_) return true;
    if (!socket_.is_open()) {
        ec = net::error::bad_descriptor;
        return false;
    }
    // OpenSSL calls read()/write() on the fd itself; EAGAIN becomes WANT_READ/WANT_WRITE. The
    // descriptor is usually non-blocking already (Asio sets it before its first wait on it),
    // and setting it again is an ioctl per connection.
    if (!socket_.native_non_blocking()) socket_.native_non_blocking(true, ec);
    if (ec) return false;
    if (SSL_set_fd(ssl_.get(), socket_.native_handle()) !=
        1) {  // BIO_NOCLOSE: the socket owns the fd
        ec = boost::system::error_code(static_cast<int>(ERR_get_error()),
                                       net::error::get_ssl_category());
        ERR_clear_error();
        return false;
    }
    attached_ = true;
    return true;
}

Attempt TlsStream::try_handshake(handshake_type type) {
    if (!attached_) {
        Attempt out;
        if (!attach_socket(out.error)) return out;
        if (type == net::ssl::stream_base::client)
            SSL_set_connect_state(ssl_.get());
        else
            SSL_set_accept_state(ssl_.get());
    }
    clear_stale_errors();
    errno = 0;
    const int rc = SSL_do_handshake(ssl_.get());
    const int saved_errno = errno;
    if (rc == 1) return {};
    return classify(ssl_.get(), rc, saved_errno, failed_);
}

Attempt TlsStream::read_into(void* data, std::size_t size) {
    if (!attached_ || failed_) return {Want::nothing, net::error::bad_descriptor, 0};
    clear_stale_errors();
    errno = 0;
    std::size_t n = 0;
    const int rc = SSL_read_ex(ssl_.get(), data, size, &n);
    const int saved_errno = errno;
    if (rc == 1) return {Want::nothing, {}, n};
    return classify(ssl_.get(), rc, saved_errno, failed_);
}

Attempt TlsStream::try_peek() {
    if (!attached_ || failed_) return {Want::nothing, net::error::bad_descriptor, 0};
    clear_stale_errors();
    errno = 0;
    unsigned char byte = 0;
    std::size_t n = 0;
    const int rc = SSL_peek_ex(ssl_.get(), &byte, 1, &n);
    const int saved_errno = errno;
    if (rc == 1) return {};
    return classify(ssl_.get(), rc, saved_errno, failed_);
}

Attempt TlsStream::write_from(const void* data, std::size_t size) {
    if (!attached_ || failed_) return {Want::nothing, net::error::bad_descriptor, 0};
    clear_stale_errors();
    errno = 0;
    std::size_t n = 0;
    const int rc = SSL_write_ex(ssl_.get(), data, size, &n);
    const int saved_errno = errno;
    if (rc == 1) return {Want::nothing, {}, n};
    return classify(ssl_.get(), rc, saved_errno, failed_);
}

Attempt TlsStream::write_pieces(const net::const_buffer* pieces, std::size_t count) {
    using tls_detail::kRecordPlaintextBytes;
    std::array<char, kRecordPlaintextBytes> gather;
    Attempt total;
    std::size_t index = 0;
    std::size_t skip = 0;  // bytes of pieces[index] already written
    while (index < count && total.bytes < tls_detail::kMaxBytesPerWriteSome) {
        const char* first = static_cast<const char*>(pieces[index].data()) + skip;
        const std::size_t first_size = pieces[index].size() - skip;
        const void* data = first;
        std::size_t size = std::min(first_size, kRecordPlaintextBytes);
        if (first_size < kRecordPlaintextBytes && index + 1 < count) {
            size = 0;
            for (std::size_t g = index; g < count && size < gather.size(); ++g) {
                const std::size_t offset = g == index ? skip : 0;
                const std::size_t n = std::min(pieces[g].size() - offset, gather.size() - size);
                std::memcpy(gather.data() + size,
                            static_cast<const char*>(pieces[g].data()) + offset, n);
                size += n;
            }
            data = gather.data();
        }
        Attempt one = write_from(data, size);
        if (one.want != Want::nothing || one.error) {
            if (total.bytes > 0 && !one.error) break;  // the rest goes in the next call
            one.bytes = total.bytes;
            return one;
        }
        total.bytes += one.bytes;
        // Advance the position by what OpenSSL took.
        for (std::size_t left = one.bytes; left > 0;) {
            const std::size_t here = pieces[index].size() - skip;
            if (left < here) {
                skip += left;
                left = 0;
            } else {
                left -= here;
                ++index;
                skip = 0;
            }
        }
    }
    return total;
}

Attempt TlsStream::try_shutdown() {
    if (!attached_ || failed_) return {Want::nothing, net::error::bad_descriptor, 0};
    for (int round = 0; round < 2; ++round) {
        clear_stale_errors();
        errno = 0;
        const int rc = SSL_shutdown(ssl_.get());
        const int saved_errno = errno;
        if (rc == 1) return {};  // both close_notify alerts are through
        if (rc == 0) continue;   // ours is sent; the second call reads the peer's
        return classify(ssl_.get(), rc, saved_errno, failed_);
    }
    return {Want::read, {}, 0};
}

void TlsStream::send_close_notify() noexcept {
    if (!ssl_ || !attached_ || failed_ || !socket_.is_open()) return;
    if (SSL_is_init_finished(ssl_.get()) != 1) return;
    if ((SSL_get_shutdown(ssl_.get()) & SSL_SENT_SHUTDOWN) != 0) return;
    // One attempt; if the socket is full the alert is simply not sent (we are closing anyway).
    (void)SSL_shutdown(ssl_.get());
    ERR_clear_error();
}

std::size_t TlsStream::settle_now(const Attempt& attempt, boost::system::error_code& ec) {
    if (attempt.want != Want::nothing) {
        last_want_ = attempt.want;
        ec = net::error::would_block;
        return 0;
    }
    ec = attempt.error;
    return attempt.bytes;
}

std::size_t TlsStream::closed(boost::system::error_code& ec) {
    ec = net::error::bad_descriptor;
    return 0;
}

bool TlsStream::has_pending_input() const noexcept {
    return ssl_ && SSL_has_pending(ssl_.get()) == 1;
}

}  // namespace sluice
