// One accepted connection, start to end: find the kernel's record of who made it, peek the
// ClientHello, then either splice it untouched (SNI not intercepted) or terminate TLS and
// serve HTTP (intercepted_session).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace sluice {

class ProxyWorker;

// `peer`: the client's address, as accept() reported it.
boost::asio::awaitable<void> serve_client_connection(ProxyWorker& worker,
                                                     boost::asio::ip::tcp::socket client,
                                                     boost::asio::ip::tcp::endpoint peer);

}  // namespace sluice
