#include "agent/proxy/client_connection.h"

#include <netinet/tcp.h>

#include <array>

#include <spdlog/spdlog.h>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "agent/audit/audit_record.h"
#include "agent/audit/audit_writer.h"
#include "agent/common/openai_error.h"
#include "agent/proxy/client_hello_wait.h"
#include "agent/proxy/connection_record.h"
#include "agent/proxy/intercepted_session.h"
#include "agent/proxy/passthrough.h"
#include "agent/proxy/proxy_worker.h"
#include "agent/tls/certificate_authority.h"

namespace sluice {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

// Keeps the worker's count of live sessions right on every exit path.
class SessionCount {
public:
    explicit SessionCount(ProxyWorker& worker) : worker_(worker) { worker_.session_started(); }
    ~SessionCount() { worker_.session_ended(); }
    SessionCount(const SessionCount&) = delete;
    SessionCount& operator=(const SessionCount&) = delete;

private:
    ProxyWorker& worker_;
};

double elapsed_ms(std::chrono::steady_clock::time_point since) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since)
        .count();
}

// Plain-text bytes on the TLS port (e.g. `curl http://api.openai.com:443`): answer in HTTP so
// the user sees why, then close.
net::awaitable<void> refuse_non_tls(tcp::socket& client) {
    static const std::string kResponse = [] {
        const std::string body = openai_error_body(
            {400, "invalid_request_error", "tls_required", "sluice: this port speaks TLS only"});
        return "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nConnection: close\r\n"
               "Content-Length: " +
               std::to_string(body.size()) + "\r\n\r\n" + body;
    }();
    boost::system::error_code ec;
    co_await net::async_write(client, net::buffer(kResponse),
                              net::redirect_error(net::use_awaitable, ec));
    client.shutdown(tcp::socket::shutdown_both, ec);
}

// Everything before an intercepted session starts: attribution, the ClientHello, refusing or
// splicing what is not intercepted (`session` stays empty: the connection is done). Its frame,
// with the origin, the hello and the records of those paths, is gone before the session runs.
// GCC 12 inlines Asio's frame allocation into this coroutine's start and then warns, wrongly,
// that the frame is freed with a mismatched operator delete: both are Asio's frame allocator's.
// A ClientHello sluice will not serve: a fatal unrecognized_name alert (RFC 8446 §6.2, RFC 6066
// §3) in a plaintext record, so the client reports why instead of a bare reset.
// The peeked hello is consumed first: closing with unread bytes would reset the connection and
// could destroy the alert before the client reads it.
net::awaitable<void> refuse_unrecognized_name(tcp::socket& client, std::size_t peeked_bytes) {
    static constexpr std::array<uint8_t, 7> kAlert = {
        21, 3, 3, 0, 2, /*fatal*/ 2, /*unrecognized_name*/ 112};
    boost::system::error_code ec;
    std::array<char, 4096> discard;
    for (std::size_t left = peeked_bytes; left > 0 && !ec;)
        left -= client.receive(net::buffer(discard.data(), std::min(left, discard.size())), 0, ec);
    co_await net::async_write(client, net::buffer(kAlert),
                              net::redirect_error(net::use_awaitable, ec));
    client.shutdown(tcp::socket::shutdown_both, ec);
}

// The audit line of a connection the router refused or spliced, not served.
AuditRecord route_record(const ConnectionOrigin& origin, const SniRoute& route, std::string kind,
                         std::string action) {
    AuditRecord record = connection_record(origin, std::move(kind));
    record.sni = route.host;
    record.action = std::move(action);
    record.reason = route.reason;
    return record;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
net::awaitable<void> route_client_connection(ProxyWorker& worker, tcp::socket& client,
                                             const tcp::endpoint& peer, uint64_t netns_cookie,
                                             InterceptedSessionPtr& session) {
    ProxyContext& context = worker.context();
    ++context.counters.connections;
    boost::system::error_code ec;
    client.set_option(tcp::no_delay(true), ec);

    std::optional<ConnectionOrigin> origin =
        context.lookup_connection(peer, netns_cookie, worker.recent_identities());
    if (!origin) {
        // Not redirected by our programs (someone dialled the proxy port directly): there is
        // no original destination to serve, so refuse rather than guess.
        ++context.counters.unattributed;
        spdlog::debug("proxy: connection from {} has no redirect record; closing",
                      format_endpoint(peer));
        co_return;
    }
    // sluiced's listener in a namespace must not be its way out: a namespace with no route to
    // the destination (a container without network) is refused as it would have been.
    if (context.namespace_reaches &&
        !context.namespace_reaches(netns_cookie, origin->original_destination)) {
        ++context.counters.namespace_unreachable;
        AuditRecord record = connection_record(*origin, "connection");
        record.action = "refused";
        record.reason = "netns_unreachable";
        record.error = "the client's network namespace has no route to " +
                       format_endpoint(origin->original_destination);
        context.audit.write_record(record);
        co_return;
    }

    const auto started = std::chrono::steady_clock::now();
    PeekedHello hello = co_await peek_client_hello(client);
    if (hello.result.status != ClientHelloStatus::ok) {
        if (hello.closed && hello.bytes == 0) co_return;  // connected and left: nothing to record
        AuditRecord record = connection_record(*origin, "connection");
        record.action = "error";
        record.reason = hello.timed_out ? "client_hello_timeout" : to_string(hello.result.status);
        record.error =
            hello.timed_out ? "no TLS ClientHello within the deadline" : "not a TLS ClientHello";
        record.latency_ms = elapsed_ms(started);
        ++context.counters.client_errors;
        if (hello.result.status == ClientHelloStatus::not_tls) co_await refuse_non_tls(client);
        context.audit.write_record(record);
        co_return;
    }

    std::optional<std::string> address_host;
    if (!hello.result.sni && context.host_for_address)
        address_host = context.host_for_address(origin->original_destination.address());
    SniRoute route = route_client_hello(hello.result, context.sni_routes, address_host);
    net::ssl::context* tls_context =
        route.kind == SniRouteKind::intercept ? worker.server_context(route.host) : nullptr;
    if (route.kind == SniRouteKind::intercept && tls_context == nullptr) {
        route.kind = SniRouteKind::refuse;
        route.reason = "no_certificate_for_host";
    }
    if (route.kind == SniRouteKind::refuse) {
        ++context.counters.refused_hellos;
        AuditRecord record = route_record(*origin, route, "connection", "refused");
        record.error =
            "TLS to an intercepted address that sluice may neither inspect nor pass through";
        co_await refuse_unrecognized_name(client, hello.bytes);
        record.latency_ms = elapsed_ms(started);
        context.audit.write_record(record);
        co_return;
    }
    if (route.kind == SniRouteKind::passthrough) {
        ++context.counters.passthrough;
        AuditRecord record = route_record(*origin, route, "passthrough", "passthrough");
        SpliceResult splice = co_await splice_to_destination(
            client, origin->original_destination,
            std::chrono::milliseconds(context.config.limits.upstream_connect_timeout_ms));
        record.request_bytes = splice.client_to_server_bytes;
        record.response_bytes = splice.server_to_client_bytes;
        record.error = splice.error;
        record.latency_ms = elapsed_ms(started);
        context.audit.write_record(record);
        co_return;
    }

    ++context.counters.intercepted;
    session = make_intercepted_session(worker, std::move(client), std::move(*origin),
                                       std::move(route.host), *tls_context);
}
#pragma GCC diagnostic pop

}  // namespace

// Routing and the TLS handshake; for an intercepted connection it ends when the connection
// first waits for a request (the session owns itself from then on, intercepted_session.h).
net::awaitable<void> serve_client_connection(ProxyWorker& worker, tcp::socket client,
                                             tcp::endpoint peer, uint64_t netns_cookie) {
    SessionCount count(worker);
    InterceptedSessionPtr session;
    co_await route_client_connection(worker, client, peer, netns_cookie, session);
    if (session) co_await serve_intercepted(std::move(session));
}

}  // namespace sluice
