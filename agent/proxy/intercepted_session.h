// An intercepted connection: terminate the client's TLS with a leaf from the local CA, then
// serve HTTP/1.1 requests one after another (keep-alive), each relayed to the upstream with the
// real key, streamed both ways, and audited.
//
// The session lives on the heap, built by a plain function, and serve_intercepted() runs it:
// between requests a connection holds only the session, OpenSSL's state and one pending socket
// wait that owns the session, no coroutine frame (docs/benchmarks.md, memory per idle
// connection).
#pragma once

#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "agent/proxy/proxy_context.h"

namespace sluice {

class ProxyWorker;
class InterceptedSession;

struct InterceptedSessionDeleter {
    void operator()(InterceptedSession* session) const noexcept;
};
using InterceptedSessionPtr = std::unique_ptr<InterceptedSession, InterceptedSessionDeleter>;

// For an accepted client whose ClientHello named an intercepted host. The session owns the
// socket, the origin and the SNI (`tls_context` is only read here: the SSL keeps its own
// reference to the context).
InterceptedSessionPtr make_intercepted_session(ProxyWorker& worker,
                                               boost::asio::ip::tcp::socket client,
                                               ConnectionOrigin origin, std::string sni,
                                               boost::asio::ssl::context& tls_context);

// The TLS handshake, then requests until the connection ends (the client closes, a timeout,
// an error, or Connection: close). The returned coroutine ends when the connection first waits
// for a request: from then on the session owns itself (each request gets its own coroutine)
// and counts itself in the worker's live sessions.
boost::asio::awaitable<void> serve_intercepted(InterceptedSessionPtr session);

}  // namespace sluice
