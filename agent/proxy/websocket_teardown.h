// Boost.Beast's websocket::stream ends a connection through teardown()/async_teardown() found
// by argument-dependent lookup on its next layer. These are ours for TlsStream (Beast ships
// them only for asio::ssl::stream): after the closing handshake, our close_notify goes out
// and our side of the TCP connection is shut down; the socket is closed by its owner, which may
// first drain what the peer is still sending (a close then would reset the connection, and the
// reset can destroy the close frame before the peer reads it).
#pragma once

#include <boost/asio/post.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/system/error_code.hpp>

#include "agent/tls/tls_stream.h"

namespace sluice {

inline void end_tls_for_websocket(TlsStream& stream) {
    stream.send_close_notify();
    boost::system::error_code ignored;
    stream.next_layer().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
}

inline void teardown(boost::beast::role_type, TlsStream& stream, boost::system::error_code& ec) {
    end_tls_for_websocket(stream);
    ec = {};
}

template <class TeardownHandler>
void async_teardown(boost::beast::role_type, TlsStream& stream, TeardownHandler&& handler) {
    end_tls_for_websocket(stream);
    boost::asio::post(stream.get_executor(),
                      [handler = std::forward<TeardownHandler>(handler)]() mutable {
                          handler(boost::system::error_code{});
                      });
}

}  // namespace sluice
