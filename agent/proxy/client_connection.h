// One accepted connection, start to end: find the kernel's record of who made it, peek the
// ClientHello, then either splice it untouched (SNI not intercepted) or terminate TLS and
// serve HTTP (intercepted_session).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace sluice {

class ProxyWorker;

// `peer`: the client's address, as accept() reported it; `netns_cookie`: the network namespace
// of the listener that accepted it (the host's, or a container's).
boost::asio::awaitable<void> serve_client_connection(ProxyWorker& worker,
                                                     boost::asio::ip::tcp::socket client,
                                                     boost::asio::ip::tcp::endpoint peer,
                                                     uint64_t netns_cookie);

}  // namespace sluice
