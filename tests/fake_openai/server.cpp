#include "tests/fake_openai/server.h"

#include <openssl/ssl.h>

// clang-format off
// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>: include it first.
#include <utility>
// clang-format on

#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <stdexcept>
#include <thread>

#include "policy/ascii_case.h"
#include "tests/fake_openai/limits.h"
#include "tests/fake_openai/multipart_counter.h"
#include "tests/fake_openai/openai_replies.h"
#include "tests/fake_openai/realtime_replies.h"
#include "tests/fake_openai/request_recorder.h"

namespace sluice::fake_openai {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

constexpr auto use_awaitable = net::use_awaitable;

struct ServerContext {
    const FakeOpenAiOptions& options;
    ReplyBehavior behavior;
    RequestRecorder* recorder = nullptr;  // null without --record
};

// How a connection ended, so the TLS wrapper knows whether to send close_notify.
enum class ConnectionEnd { kPeerGone, kServerClosed, kReset };

bool is_http_parse_error(const beast::error_code& ec) {
    return &ec.category() == &http::make_error_code(http::error::end_of_stream).category() &&
           ec != http::error::end_of_stream;
}

// The request body as it streams in: JSON bodies are kept whole (up to kMaxJsonBodyBytes),
// uploads are counted by the multipart scanner and only their start is kept for --record.
struct ReceivedBody {
    std::string kept;
    std::uint64_t total_bytes = 0;
    std::uint64_t keep_limit = kMaxJsonBodyBytes;
    bool too_large = false;  // JSON body over the limit
    std::optional<MultipartFileCounter> upload;

    void consume(std::string_view bytes) {
        total_bytes += bytes.size();
        if (upload) upload->consume(bytes);
        const std::uint64_t room = keep_limit - std::min<std::uint64_t>(keep_limit, kept.size());
        if (bytes.size() > room && !upload) too_large = true;
        kept.append(
            bytes.substr(0, static_cast<std::size_t>(std::min<std::uint64_t>(room, bytes.size()))));
    }
};

void set_common_headers(http::response_header<>& header, const std::string& request_id) {
    header.set(http::field::server, "fake-openai");
    header.set("openai-version", "2020-10-01");
    header.set("openai-processing-ms", "1");
    if (!request_id.empty()) header.set("x-request-id", request_id);
}

net::awaitable<void> sleep_ms(unsigned ms) {
    if (ms == 0) co_return;
    net::steady_timer timer(co_await net::this_coro::executor);
    timer.expires_after(std::chrono::milliseconds(ms));
    co_await timer.async_wait(use_awaitable);
}

template <class Stream>
void reset_connection(Stream& stream) {
    // SO_LINGER with a zero timeout turns close() into an RST: the peer sees a connection
    // reset mid-stream, as when an upstream or a middlebox dies.
    auto& socket = beast::get_lowest_layer(stream).socket();
    beast::error_code ignored;
    socket.set_option(net::socket_base::linger(true, 0), ignored);
    socket.close(ignored);
}

template <class Stream>
net::awaitable<void> write_error(Stream& stream, unsigned version, http::status status,
                                 std::string_view message) {
    http::response<http::string_body> response{status, version};
    set_common_headers(response.base(), "");
    response.set(http::field::content_type, "application/json");
    response.body() = error_body(message, "invalid_request_error", "", "");
    response.keep_alive(false);
    response.prepare_payload();
    beast::get_lowest_layer(stream).expires_after(kWriteTimeout);
    co_await http::async_write(stream, response, use_awaitable);
}

template <class Stream>
net::awaitable<bool> write_json_reply(Stream& stream, const ApiReply& reply, unsigned version,
                                      bool keep_alive) {
    http::response<http::string_body> response{static_cast<http::status>(reply.status), version};
    set_common_headers(response.base(), reply.request_id);
    response.set(http::field::content_type, "application/json");
    response.body() = reply.json_body;
    response.keep_alive(keep_alive);
    response.prepare_payload();
    beast::get_lowest_layer(stream).expires_after(kWriteTimeout);
    co_await http::async_write(stream, response, use_awaitable);
    co_return true;
}

// Writes each event as its own chunk the moment it is due: SSE must never be buffered.
// Returns false when the connection was reset on purpose (--reset-after-events).
template <class Stream>
net::awaitable<bool> write_sse_reply(Stream& stream, const ApiReply& reply, unsigned version,
                                     bool keep_alive, const FakeOpenAiOptions& options) {
    http::response<http::empty_body> response{static_cast<http::status>(reply.status), version};
    set_common_headers(response.base(), reply.request_id);
    response.set(http::field::content_type, "text/event-stream; charset=utf-8");
    response.set(http::field::cache_control, "no-cache");
    response.keep_alive(keep_alive);
    response.chunked(true);
    http::response_serializer<http::empty_body> serializer{response};
    beast::get_lowest_layer(stream).expires_after(kWriteTimeout);
    co_await http::async_write_header(stream, serializer, use_awaitable);

    for (std::size_t i = 0; i < reply.sse_events.size(); ++i) {
        if (options.reset_after_events && i == *options.reset_after_events) {
            reset_connection(stream);
            co_return false;
        }
        if (i != 0) co_await sleep_ms(options.event_gap_ms);
        beast::get_lowest_layer(stream).expires_after(kWriteTimeout);
        const auto chunk = http::make_chunk(net::buffer(reply.sse_events[i]));
        co_await net::async_write(stream, chunk, use_awaitable);
    }
    if (options.reset_after_events && *options.reset_after_events == reply.sse_events.size()) {
        reset_connection(stream);  // every event went out, the end of the body never does
        co_return false;
    }
    const auto last_chunk = http::make_chunk_last();
    co_await net::async_write(stream, last_chunk, use_awaitable);
    co_return true;
}

std::string query_value(std::string_view target, std::string_view name) {
    const auto query_at = target.find('?');
    if (query_at == std::string_view::npos) return {};
    std::string_view query = target.substr(query_at + 1);
    while (!query.empty()) {
        const auto end = query.find('&');
        const std::string_view pair = query.substr(0, end);
        if (pair.size() > name.size() && pair.substr(0, name.size()) == name &&
            pair[name.size()] == '=')
            return std::string(pair.substr(name.size() + 1));
        if (end == std::string_view::npos) break;
        query.remove_prefix(end + 1);
    }
    return {};
}

constexpr std::size_t kWebSocketPieceBytes = 64 * 1024;

// A binary message comes back as it went, piece by piece as each arrives (a frame each). With
// --record it is recorded as {"method":"WSBIN","body":[[ms since its first piece, bytes]...]}, so
// tests see whether its pieces reached here as they were sent or all at once.
template <class WebSocket>
net::awaitable<void> echo_binary_pieces(WebSocket& ws, beast::flat_buffer& buffer,
                                        const std::string& target, const ServerContext& context,
                                        beast::error_code& ec) {
    const auto first = std::chrono::steady_clock::now();
    std::string arrivals = "[";
    ws.binary(true);
    for (;;) {
        const bool last = ws.is_message_done();
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - first)
                            .count();
        if (arrivals.size() > 1) arrivals += ",";
        arrivals += "[" + std::to_string(ms) + "," + std::to_string(buffer.size()) + "]";
        co_await ws.async_write_some(last, buffer.data(), net::redirect_error(use_awaitable, ec));
        if (ec || last) break;
        buffer.clear();
        co_await ws.async_read_some(buffer, kWebSocketPieceBytes,
                                    net::redirect_error(use_awaitable, ec));
        if (ec) break;
    }
    arrivals += "]";
    if (context.recorder) {
        const RecordedRequest recorded{"WSBIN", target, {}, arrivals, arrivals.size()};
        context.recorder->record(recorded);
    }
}

// A Realtime API session over WebSocket (realtime_replies.h). With --record, the upgrade is
// recorded like a request and each client message as {"method":"WS","body":message}.
template <class Stream>
net::awaitable<void> serve_realtime(Stream& stream, http::request<http::buffer_body> request,
                                    const ServerContext& context) {
    namespace websocket = beast::websocket;
    const std::string target(request.target());
    std::vector<std::pair<std::string_view, std::string_view>> headers;
    for (const auto& field : request) headers.emplace_back(field.name_string(), field.value());
    if (context.recorder) {
        const RecordedRequest recorded{"GET", target, headers, "", 0};
        context.recorder->record(recorded);
    }
    const std::string& expected = context.behavior.expected_api_key;
    if (!expected.empty() && request[http::field::authorization] != "Bearer " + expected) {
        const std::string message = "fake-openai: incorrect API key provided";
        http::response<http::string_body> refusal{http::status::unauthorized, 11};
        set_common_headers(refusal.base(), "");
        refusal.set(http::field::content_type, "application/json");
        refusal.body() = error_body(message, "invalid_request_error", "", "invalid_api_key");
        refusal.keep_alive(false);
        refusal.prepare_payload();
        co_await http::async_write(stream, refusal, use_awaitable);
        co_return;
    }
    beast::get_lowest_layer(stream).expires_never();
    websocket::stream<Stream&> ws(stream);
    ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    const std::string protocols(request[http::field::sec_websocket_protocol]);
    const std::string chosen = protocols.find("realtime") != std::string::npos ? "realtime" : "";
    ws.set_option(websocket::stream_base::decorator([chosen](websocket::response_type& response) {
        response.set(http::field::server, "fake-openai");
        response.set("x-request-id", "req_realtime");
        if (!chosen.empty()) response.set(http::field::sec_websocket_protocol, chosen);
    }));
    http::request<http::empty_body> upgrade{request.base()};
    beast::error_code ec;
    co_await ws.async_accept(upgrade, net::redirect_error(use_awaitable, ec));
    if (ec) co_return;
    const bool beta = request["openai-beta"].find("realtime=v1") != std::string_view::npos;
    FakeRealtimeSession session(query_value(target, "model"), beta, context.behavior.answer_suffix);
    // Pings are recorded ({"method":"PING","body":payload}) so tests see what reached here.
    ws.control_callback([&](websocket::frame_type kind, beast::string_view payload) {
        if (kind != websocket::frame_type::ping || !context.recorder) return;
        const RecordedRequest recorded{"PING", target, {}, payload, payload.size()};
        context.recorder->record(recorded);
    });
    const std::string created = session.session_created();
    co_await ws.async_write(net::buffer(created), net::redirect_error(use_awaitable, ec));
    beast::flat_buffer buffer;
    while (!ec) {
        buffer.clear();
        co_await ws.async_read_some(buffer, kWebSocketPieceBytes,
                                    net::redirect_error(use_awaitable, ec));
        if (ec) break;
        if (ws.got_binary()) {
            co_await echo_binary_pieces(ws, buffer, target, context, ec);
            continue;
        }
        while (!ec && !ws.is_message_done())
            co_await ws.async_read_some(buffer, kWebSocketPieceBytes,
                                        net::redirect_error(use_awaitable, ec));
        if (ec) break;
        const std::string message = beast::buffers_to_string(buffer.data());
        if (context.recorder) {
            const RecordedRequest recorded{"WS", target, {}, message, message.size()};
            context.recorder->record(recorded);
        }
        std::optional<RealtimeClose> close;
        const std::vector<std::string> events = session.answer(message, close);
        ws.text(true);
        for (std::size_t i = 0; i < events.size() && !ec; ++i) {
            if (i != 0) co_await sleep_ms(context.options.event_gap_ms);
            co_await ws.async_write(net::buffer(events[i]), net::redirect_error(use_awaitable, ec));
        }
        if (close) {
            const websocket::close_reason reason{static_cast<websocket::close_code>(close->code),
                                                 close->reason};
            co_await ws.async_close(reason, net::redirect_error(use_awaitable, ec));
            break;
        }
    }
}

// No non-trivial temporaries inside a co_await expression in this file: GCC 12 can destroy
// them twice (a double free seen in the proxy); name them first.
template <class Stream>
net::awaitable<ConnectionEnd> serve_http(Stream& stream, const ServerContext& context) {
    beast::flat_buffer buffer;
    std::vector<char> chunk(kBodyReadChunkBytes);
    for (;;) {
        http::request_parser<http::buffer_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(kMaxHeaderBytes));
        // Not boost::none: Boost 1.74 compares Content-Length against the optional itself,
        // and any length compares greater than none (every body would be "too large").
        // JSON bodies are capped by ReceivedBody instead; uploads are not capped.
        parser.body_limit(std::numeric_limits<std::uint64_t>::max());

        beast::error_code ec;
        beast::get_lowest_layer(stream).expires_after(kIdleTimeout);
        co_await http::async_read_header(stream, buffer, parser,
                                         net::redirect_error(use_awaitable, ec));
        if (ec) {
            if (!is_http_parse_error(ec)) co_return ConnectionEnd::kPeerGone;
            const auto status = ec == http::error::header_limit
                                    ? http::status::request_header_fields_too_large
                                    : http::status::bad_request;
            const std::string message = "fake-openai: malformed request: " + ec.message();
            co_await write_error(stream, 11, status, message);
            co_return ConnectionEnd::kServerClosed;
        }
        auto& request = parser.get();
        const unsigned version = request.version();
        if (beast::websocket::is_upgrade(request)) {
            http::request<http::buffer_body> upgrade = parser.release();
            co_await serve_realtime(stream, std::move(upgrade), context);
            co_return ConnectionEnd::kPeerGone;
        }

        if (ascii_iequals(request[http::field::expect], "100-continue")) {
            http::response<http::empty_body> proceed{http::status::continue_, version};
            beast::get_lowest_layer(stream).expires_after(kWriteTimeout);
            co_await http::async_write(stream, proceed, use_awaitable);
        }

        ReceivedBody body;
        const std::string target(request.target());
        const bool is_upload = request.method() == http::verb::post &&
                               target.substr(0, target.find('?')) == "/v1/files";
        if (is_upload) {
            body.keep_limit = kMaxRecordedBodyBytes;
            body.upload.emplace(multipart_boundary(request[http::field::content_type]));
        }
        while (!parser.is_done()) {
            request.body().data = chunk.data();
            request.body().size = chunk.size();
            beast::get_lowest_layer(stream).expires_after(kReadTimeout);
            co_await http::async_read(stream, buffer, parser,
                                      net::redirect_error(use_awaitable, ec));
            if (ec == http::error::need_buffer) ec = {};
            if (ec) break;
            body.consume({chunk.data(), chunk.size() - request.body().size});
        }
        if (ec) {
            if (!is_http_parse_error(ec)) co_return ConnectionEnd::kPeerGone;
            const std::string message = "fake-openai: malformed request body: " + ec.message();
            co_await write_error(stream, version, http::status::bad_request, message);
            co_return ConnectionEnd::kServerClosed;
        }

        std::vector<std::pair<std::string_view, std::string_view>> headers;
        for (const auto& field : request) headers.emplace_back(field.name_string(), field.value());
        if (context.recorder) {
            const std::string_view recorded(
                body.kept.data(), std::min<std::size_t>(body.kept.size(), kMaxRecordedBodyBytes));
            context.recorder->record(
                {request.method_string(), target, headers, recorded, body.total_bytes});
        }

        ApiReply reply;
        if (body.too_large) {
            reply.status = 413;
            reply.json_body = error_body("fake-openai: request body over the limit",
                                         "invalid_request_error", "", "request_too_large");
        } else {
            ApiRequest api_request{request.method_string(), target,
                                   request[http::field::authorization], body.kept, std::nullopt};
            if (body.upload) api_request.upload = body.upload->finish();
            reply = answer_request(api_request, context.behavior);
        }
        if (context.options.verbose) {
            std::fprintf(stderr, "fake-openai: %.*s %s -> %u%s\n",
                         static_cast<int>(request.method_string().size()),
                         request.method_string().data(), target.c_str(), reply.status,
                         reply.streaming ? " (stream)" : "");
        }

        const bool keep_alive = parser.keep_alive();
        co_await sleep_ms(context.options.latency_ms);
        const bool completed =
            reply.streaming
                ? co_await write_sse_reply(stream, reply, version, keep_alive, context.options)
                : co_await write_json_reply(stream, reply, version, keep_alive);
        if (!completed) co_return ConnectionEnd::kReset;
        if (!keep_alive) co_return ConnectionEnd::kServerClosed;
    }
}

net::awaitable<void> serve_plain(beast::tcp_stream stream, const ServerContext& context) {
    if (co_await serve_http(stream, context) == ConnectionEnd::kServerClosed) {
        beast::error_code ignored;
        stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    }
}

net::awaitable<void> serve_tls(beast::tcp_stream tcp_stream, net::ssl::context& tls,
                               const ServerContext& context) {
    beast::ssl_stream<beast::tcp_stream> stream(std::move(tcp_stream), tls);
    beast::error_code ec;
    beast::get_lowest_layer(stream).expires_after(kHandshakeTimeout);
    co_await stream.async_handshake(net::ssl::stream_base::server,
                                    net::redirect_error(use_awaitable, ec));
    if (ec) {
        if (context.options.verbose)
            std::fprintf(stderr, "fake-openai: TLS handshake: %s\n", ec.message().c_str());
        co_return;
    }
    if (co_await serve_http(stream, context) == ConnectionEnd::kServerClosed) {
        beast::get_lowest_layer(stream).expires_after(kShutdownTimeout);
        co_await stream.async_shutdown(net::redirect_error(use_awaitable, ec));
    }
}

// Offer only HTTP/1.1 over ALPN, like a server without h2: clients that ask get a clear answer.
int select_http11(SSL*, const unsigned char** out, unsigned char* out_length,
                  const unsigned char* in, unsigned int in_length, void*) {
    static constexpr unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    unsigned char* selected = nullptr;
    if (SSL_select_next_proto(&selected, out_length, kHttp11, sizeof kHttp11, in, in_length) !=
        OPENSSL_NPN_NEGOTIATED) {
        return SSL_TLSEXT_ERR_NOACK;
    }
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
}

}  // namespace

struct FakeOpenAiServer::State {
    explicit State(const FakeOpenAiOptions& opts)
        : options(opts),
          tls(net::ssl::context::tls_server),
          context{options,
                  ReplyBehavior{opts.expected_api_key, opts.fail_status, opts.bill_to_cap,
                                opts.answer_suffix},
                  nullptr},
          io(static_cast<int>(thread_count())) {}

    unsigned thread_count() const {
        if (options.threads != 0) return options.threads;
        return std::max(1u, std::thread::hardware_concurrency());
    }

    net::awaitable<void> accept_loop(tcp::acceptor& acceptor) {
        for (;;) {
            tcp::socket socket(net::make_strand(io));
            beast::error_code ec;
            co_await acceptor.async_accept(socket, net::redirect_error(use_awaitable, ec));
            if (ec == net::error::operation_aborted) co_return;
            if (ec) {
                // Out of descriptors and the like: back off instead of spinning.
                if (options.verbose)
                    std::fprintf(stderr, "fake-openai: accept: %s\n", ec.message().c_str());
                co_await sleep_ms(50);
                continue;
            }
            socket.set_option(tcp::no_delay(true), ec);
            auto executor = socket.get_executor();
            beast::tcp_stream stream(std::move(socket));
            auto on_end = [verbose = options.verbose](std::exception_ptr error) {
                // Last-resort catch for one connection: a write to a vanished peer and the like.
                if (!error || !verbose) return;
                try {
                    std::rethrow_exception(error);
                } catch (const std::exception& e) {
                    std::fprintf(stderr, "fake-openai: connection: %s\n", e.what());
                }
            };
            if (options.plain) {
                net::co_spawn(executor, serve_plain(std::move(stream), context), on_end);
            } else {
                net::co_spawn(executor, serve_tls(std::move(stream), tls, context), on_end);
            }
        }
    }

    const FakeOpenAiOptions& options;
    net::ssl::context tls;
    std::unique_ptr<RequestRecorder> recorder;
    ServerContext context;
    // Declared after everything the connections borrow, so it is destroyed (with them) first.
    net::io_context io;
    std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
};

FakeOpenAiServer::FakeOpenAiServer(const FakeOpenAiOptions& options)
    : state_(std::make_unique<State>(options)) {
    if (!options.plain) {
        auto& tls = state_->tls;
        tls.set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                        net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                        net::ssl::context::no_tlsv1_1);
        for (const std::string* file : {&options.cert_file, &options.key_file}) {
            if (std::FILE* probe = std::fopen(file->c_str(), "r")) {
                std::fclose(probe);
            } else {
                throw std::runtime_error("cannot read " + *file + ": " + std::strerror(errno));
            }
        }
        beast::error_code ec;
        tls.use_certificate_chain_file(options.cert_file, ec);
        if (ec)
            throw std::runtime_error("--cert: cannot load " + options.cert_file + ": " +
                                     ec.message());
        tls.use_private_key_file(options.key_file, net::ssl::context::pem, ec);
        if (ec)
            throw std::runtime_error("--key: cannot load " + options.key_file + ": " +
                                     ec.message());
        SSL_CTX_set_alpn_select_cb(tls.native_handle(), select_http11, nullptr);
    }
    if (!options.record_file.empty()) {
        state_->recorder = std::make_unique<RequestRecorder>(options.record_file);
        state_->context.recorder = state_->recorder.get();
    }
}

FakeOpenAiServer::~FakeOpenAiServer() = default;

std::vector<std::string> FakeOpenAiServer::listen() {
    std::vector<std::string> bound;
    for (const auto& address : state_->options.listen) {
        beast::error_code ec;
        const auto ip = net::ip::make_address(address.host, ec);
        if (ec)
            throw std::runtime_error("--listen: '" + address.host +
                                     "' is not a numeric IP address");
        const tcp::endpoint endpoint(ip, address.port);
        auto acceptor = std::make_unique<tcp::acceptor>(state_->io);
        acceptor->open(endpoint.protocol(), ec);
        if (!ec) acceptor->set_option(net::socket_base::reuse_address(true), ec);
        if (!ec) acceptor->bind(endpoint, ec);
        if (!ec) acceptor->listen(net::socket_base::max_listen_connections, ec);
        if (ec) {
            throw std::runtime_error("--listen: cannot listen on " + address.host + ":" +
                                     std::to_string(address.port) + ": " + ec.message());
        }
        const auto local = acceptor->local_endpoint();
        bound.push_back(local.address().is_v6()
                            ? "[" + local.address().to_string() +
                                  "]:" + std::to_string(local.port())
                            : local.address().to_string() + ":" + std::to_string(local.port()));
        state_->acceptors.push_back(std::move(acceptor));
    }
    return bound;
}

void FakeOpenAiServer::run() {
    for (auto& acceptor : state_->acceptors) {
        net::co_spawn(state_->io, state_->accept_loop(*acceptor), net::detached);
    }
    net::signal_set signals(state_->io, SIGINT, SIGTERM);
    signals.async_wait([this](const beast::error_code&, int) { state_->io.stop(); });

    std::vector<std::thread> threads;
    for (unsigned i = 1; i < state_->thread_count(); ++i)
        threads.emplace_back([this] { state_->io.run(); });
    state_->io.run();
    for (auto& thread : threads) thread.join();
}

}  // namespace sluice::fake_openai
