// An intercepted connection: terminate the client's TLS with a leaf from the local CA, then
// serve HTTP/1.1 requests one after another (keep-alive), each relayed to the upstream with the
// real key, streamed both ways, and audited.
#pragma once

#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "agent/proxy/proxy_context.h"

namespace sluice {

class ProxyWorker;

boost::asio::awaitable<void> serve_intercepted(ProxyWorker& worker, boost::asio::ip::tcp::socket client,
                                               const ConnectionOrigin& origin, const std::string& sni,
                                               boost::asio::ssl::context& tls_context);

}  // namespace sluice
