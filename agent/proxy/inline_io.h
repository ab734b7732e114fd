// HTTP reads and writes on a TlsStream that finish inline when the socket allows.
//
// Asio never completes an operation inside the call that starts it: a read whose bytes are
// already buffered, or a write the socket takes at once, still posts its completion, and the
// coroutine resumes one trip through the event loop later (a handler allocation and an
// epoll_wait each; about ten per proxied request, docs/benchmarks.md). These run Beast's
// synchronous operations on TlsStream's non-blocking attempts instead, and suspend only when
// the socket has nothing to read or no room to write, waiting for readiness as the
// asynchronous versions do. Results, errors and partial progress are theirs too; a deadline
// that closes the socket during a wait ends the operation with operation_aborted.
//
// Nothing here yields while the socket keeps up, so loops over many pieces (streamed bodies)
// either use the asynchronous operations or yield themselves now and then.
#pragma once

#include <array>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/system/error_code.hpp>

#include "agent/tls/tls_stream.h"

namespace sluice::inline_io {

// Whether run() tries the operation at once or first waits for the socket to be readable: the
// answer to a request just sent has not arrived yet, and trying first costs a read() that
// finds nothing (and OpenSSL's way to it) per request.
enum class Start { now, when_readable };

// After a wait: true when the wait failed or the socket was closed under us (`ec` says which).
inline bool ended_while_waiting(TlsStream& stream, boost::system::error_code& ec) {
    if (!ec && !stream.next_layer().is_open()) ec = boost::asio::error::operation_aborted;
    return static_cast<bool>(ec);
}

// Runs `operation(ec)` (one of Beast's synchronous operations on `stream`) until it stops for
// something other than socket readiness, waiting for readiness in between.
template <class Operation>
boost::asio::awaitable<void> run(TlsStream& stream, Operation operation,
                                 boost::system::error_code& ec, Start start = Start::now) {
    if (start == Start::when_readable && !stream.has_pending_input()) {
        co_await stream.next_layer().async_wait(
            boost::asio::socket_base::wait_read,
            boost::asio::redirect_error(boost::asio::use_awaitable, ec));
        if (ended_while_waiting(stream, ec)) co_return;
    }
    for (;;) {
        operation(ec);
        if (ec != boost::asio::error::would_block) co_return;
        co_await stream.async_wait_ready(
            boost::asio::redirect_error(boost::asio::use_awaitable, ec));
        if (ended_while_waiting(stream, ec)) co_return;
    }
}

// The operations below are plain functions handing back run()'s awaitable, not coroutines
// awaiting it: a coroutine frame is an allocation, and a request went through about twenty.
// Their lambdas refer to the caller's objects, which outlive the awaited operation.

// http::async_read_header.
template <class Parser>
boost::asio::awaitable<void> read_header(TlsStream& stream, boost::beast::flat_buffer& buffer,
                                         Parser& parser, boost::system::error_code& ec,
                                         Start start = Start::now) {
    return run(
        stream,
        [&stream, &buffer, &parser](boost::system::error_code& e) {
            boost::beast::http::read_header(stream, buffer, parser, e);
        },
        ec, start);
}

// http::async_read_some.
template <class Parser>
boost::asio::awaitable<void> read_some(TlsStream& stream, boost::beast::flat_buffer& buffer,
                                       Parser& parser, boost::system::error_code& ec) {
    return run(
        stream,
        [&stream, &buffer, &parser](boost::system::error_code& e) {
            boost::beast::http::read_some(stream, buffer, parser, e);
        },
        ec);
}

// http::async_write with a serializer (never with a message: its serializer would not
// survive a wait). Beast's synchronous write() sends through write_some() only, so nothing
// is sent twice when a write stops half way.
template <class Serializer>
boost::asio::awaitable<void> write(TlsStream& stream, Serializer& serializer,
                                   boost::system::error_code& ec) {
    return run(
        stream,
        [&stream, &serializer](boost::system::error_code& e) {
            boost::beast::http::write(stream, serializer, e);
        },
        ec);
}

// net::async_write of a message's header text (moved in) and its body (the caller keeps it).
inline boost::asio::awaitable<void> write_head_and_body(TlsStream& stream, std::string head,
                                                        std::string_view body,
                                                        boost::system::error_code& ec) {
    return run(
        stream,
        [&stream, head = std::move(head), body,
         sent = std::size_t{0}](boost::system::error_code& e) mutable {
            while (sent < head.size() + body.size()) {
                const std::size_t body_sent = sent > head.size() ? sent - head.size() : 0;
                const std::array<boost::asio::const_buffer, 2> pieces{
                    boost::asio::buffer(head) + sent,
                    boost::asio::buffer(body.data(), body.size()) + body_sent};
                sent += stream.write_some(pieces, e);
                if (e) return;
            }
        },
        ec);
}

}  // namespace sluice::inline_io
