// Waits until the client's first bytes hold a complete ClientHello (or prove not to), reading
// with MSG_PEEK so nothing is consumed: the same bytes then go to OpenSSL or to the splice.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "agent/tls/client_hello_peek.h"

namespace sluice {

struct PeekedHello {
    SniResult result;
    bool timed_out = false;
    bool closed = false;  // client closed before sending anything useful
    std::size_t bytes = 0;
};

boost::asio::awaitable<PeekedHello> peek_client_hello(boost::asio::ip::tcp::socket& client);

}  // namespace sluice
