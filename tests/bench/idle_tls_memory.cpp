// idle-tls-memory: what an idle client-facing TLS connection costs the proxy process, and how
// many syscalls a keep-alive request costs on it, for asio::ssl::stream (Beast's ssl_stream over
// a tcp_stream with expires_after before each read, as intercepted_session does today) and for
// TlsStream + ConnectionDeadline. Not a test: numbers for docs/benchmarks.md and issue 4.
//
//   idle-tls-memory [--connections N] [--mode asio|lean|both]
//       For each mode, a fresh server process accepts N TLS connections from a client process
//       (blocking OpenSSL, one connection at a time so handshake scratch memory is reused) and
//       holds each in a session that waits for its next request (async_read_header into the
//       session's flat_buffer). Prints the server's RSS growth per connection after the
//       handshakes and again after one request on each of the same connections. 20 warm-up
//       connections are opened before the baseline so one-time initialisation is not counted.
//
//   idle-tls-memory --keepalive-requests M --mode asio|lean
//       One connection, M sequential 1 KiB POST / 1 KiB reply exchanges. The server runs on the
//       main thread, whose tid is printed to stderr, and the client on another thread. Count the
//       server's syscalls with: strace -f -o /tmp/ka -ff idle-tls-memory ...; wc -l /tmp/ka.<tid>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "agent/common/connection_deadline.h"
#include "agent/tls/certificate_authority.h"
#include "agent/tls/tls_stream.h"

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using sluice::ConnectionDeadline;
using sluice::TlsStream;

constexpr const char* kHost = "api.openai.com";
constexpr int kWarmupConnections = 20;
constexpr auto kIdleTimeout = std::chrono::seconds(600);

enum class Mode { asio, lean };
const char* name(Mode m) {
    return m == Mode::asio ? "asio::ssl::stream (beast::ssl_stream<tcp_stream>)"
                           : "TlsStream + ConnectionDeadline";
}

long rss_kib() {
    long size = 0, resident = 0;
    FILE* f = std::fopen("/proc/self/statm", "r");
    if (f == nullptr) return -1;
    if (std::fscanf(f, "%ld %ld", &size, &resident) != 2) resident = -1;
    std::fclose(f);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

// OpenSSL's own share of the heap: every OpenSSL allocation carries a 16-byte size header so
// frees can be counted (installed first thing in main, before OpenSSL allocates anything).
std::atomic<long> openssl_bytes{0};
void* counted_malloc(size_t n, const char*, int) {
    auto* p = static_cast<size_t*>(std::malloc(n + 16));
    if (p == nullptr) return nullptr;
    *p = n;
    openssl_bytes += static_cast<long>(n);
    return reinterpret_cast<char*>(p) + 16;
}
void counted_free(void* ptr, const char*, int) {
    if (ptr == nullptr) return;
    auto* p = reinterpret_cast<size_t*>(static_cast<char*>(ptr) - 16);
    openssl_bytes -= static_cast<long>(*p);
    std::free(p);
}
void* counted_realloc(void* ptr, size_t n, const char* f, int l) {
    if (ptr == nullptr) return counted_malloc(n, f, l);
    if (n == 0) {
        counted_free(ptr, f, l);
        return nullptr;
    }
    auto* p = reinterpret_cast<size_t*>(static_cast<char*>(ptr) - 16);
    const size_t old = *p;
    auto* q = static_cast<size_t*>(std::realloc(p, n + 16));
    if (q == nullptr) return nullptr;
    *q = n;
    openssl_bytes += static_cast<long>(n) - static_cast<long>(old);
    return reinterpret_cast<char*>(q) + 16;
}
long openssl_kib() { return openssl_bytes.load() / 1024; }

// Heap bytes in use (all arenas: main() sets M_ARENA_MAX=1), in KiB: what the connections hold,
// without the allocator's free-but-resident pages.
long heap_kib() { return static_cast<long>(mallinfo2().uordblks / 1024); }

auto use_ec(beast::error_code& ec) { return net::redirect_error(net::use_awaitable, ec); }

std::string body_of(std::size_t n) { return std::string(n, 'x'); }

struct Counters {
    std::atomic<int> handshakes{0};
    std::atomic<int> requests{0};
};

const std::string& reply_body() {
    static const std::string body = body_of(1000);
    return body;
}

// The request body, read piece by piece into a relay buffer that lives in this frame only, as
// intercepted_session's read_whole_body does (a 16 KiB array in the per-connection frame would
// count as idle memory in both columns).
template <class Stream, class ArmFn>
net::awaitable<bool> read_body(Stream& stream, beast::flat_buffer& buffer,
                               http::request_parser<http::buffer_body>& parser, ArmFn& arm) {
    beast::error_code ec;
    std::array<char, 16 * 1024> chunk;
    while (!parser.is_done()) {
        parser.get().body().data = chunk.data();
        parser.get().body().size = chunk.size();
        arm(kIdleTimeout);
        co_await http::async_read_some(stream, buffer, parser, use_ec(ec));
        if (ec == http::error::need_buffer) ec = {};
        if (ec) co_return false;
    }
    co_return true;
}

// The client-facing half of intercepted_session: handshake, then per request read the header
// and the body (a deadline before each read), answer with one write.
template <class Stream, class ArmFn>
net::awaitable<void> serve(Stream& stream, ArmFn arm, Counters& counters) {
    beast::error_code ec;
    arm(std::chrono::seconds(10));
    co_await stream.async_handshake(net::ssl::stream_base::server, use_ec(ec));
    if (ec) {
        std::fprintf(stderr, "handshake: %s\n", ec.message().c_str());
        co_return;
    }
    ++counters.handshakes;
    beast::flat_buffer buffer;
    for (;;) {
        http::request_parser<http::buffer_body> parser;
        arm(kIdleTimeout);
        co_await http::async_read_header(stream, buffer, parser, use_ec(ec));
        if (ec) co_return;
        if (!co_await read_body(stream, buffer, parser, arm)) co_return;
        http::response<http::string_body> response{http::status::ok, 11};
        response.set(http::field::content_type, "application/json");
        response.body() = reply_body();
        response.prepare_payload();
        co_await http::async_write(stream, response, use_ec(ec));
        if (ec) co_return;
        ++counters.requests;
    }
}

net::awaitable<void> serve_asio(tcp::socket socket, net::ssl::context& ctx, Counters& counters) {
    beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), ctx);
    auto& layer = beast::get_lowest_layer(stream);
    co_await serve(
        stream, [&](auto d) { layer.expires_after(d); }, counters);
}

net::awaitable<void> serve_lean(tcp::socket socket, SSL_CTX* ctx, Counters& counters) {
    TlsStream stream(std::move(socket), ctx);
    ConnectionDeadline deadline(stream.get_executor());
    co_await serve(
        stream, [&](auto d) { deadline.arm(d, stream.next_layer()); }, counters);
}

net::awaitable<void> accept_loop(tcp::acceptor& acceptor, Mode mode,
                                 const std::shared_ptr<SSL_CTX>& ctx, net::ssl::context& asio_ctx,
                                 Counters& counters) {
    for (;;) {
        beast::error_code ec;
        tcp::socket socket = co_await acceptor.async_accept(use_ec(ec));
        if (ec) co_return;
        socket.set_option(tcp::no_delay(true), ec);
        auto executor = acceptor.get_executor();
        if (mode == Mode::asio)
            net::co_spawn(executor, serve_asio(std::move(socket), asio_ctx, counters),
                          net::detached);
        else
            net::co_spawn(executor, serve_lean(std::move(socket), ctx.get(), counters),
                          net::detached);
    }
}

// --- the client side: blocking OpenSSL, no asio -------------------------------------------

struct ClientConnection {
    int fd = -1;
    SSL* ssl = nullptr;
};

ClientConnection dial(SSL_CTX* ctx, const tcp::endpoint& server) {
    ClientConnection c;
    c.fd = ::socket(AF_INET, SOCK_STREAM, 0);
    const int one = 1;
    ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(c.fd, server.data(), static_cast<socklen_t>(server.size())) != 0)
        throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
    c.ssl = SSL_new(ctx);
    SSL_set_fd(c.ssl, c.fd);
    SSL_set_tlsext_host_name(c.ssl, kHost);
    SSL_set1_host(c.ssl, kHost);
    if (SSL_connect(c.ssl) != 1)
        throw std::runtime_error("SSL_connect: " + sluice::drain_openssl_errors());
    return c;
}

// One request and its whole reply (Content-Length framed, the server's fixed answer).
void exchange(ClientConnection& c, const std::string& request) {
    if (SSL_write(c.ssl, request.data(), static_cast<int>(request.size())) !=
        static_cast<int>(request.size()))
        throw std::runtime_error("SSL_write failed");
    std::string got;
    char buf[4096];
    for (;;) {
        const auto end = got.find("\r\n\r\n");
        if (end != std::string::npos) {
            const auto cl = got.find("Content-Length: ");
            const std::size_t length =
                cl == std::string::npos ? 0 : std::strtoul(got.c_str() + cl + 16, nullptr, 10);
            if (got.size() >= end + 4 + length) return;
        }
        const int n = SSL_read(c.ssl, buf, sizeof buf);
        if (n <= 0) throw std::runtime_error("SSL_read failed");
        got.append(buf, static_cast<std::size_t>(n));
    }
}

std::string request_text() {
    const std::string body =
        "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"" + body_of(960) +
        "\"}]}";
    return "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\nContent-Type: "
           "application/json\r\n"
           "Content-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::shared_ptr<SSL_CTX> client_context(const std::string& ca_file) {
    auto ctx = sluice::adopt_ssl_ctx(SSL_CTX_new(TLS_client_method()));
    SSL_CTX_load_verify_locations(ctx.get(), ca_file.c_str(), nullptr);
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    return ctx;
}

void write_byte(int fd, char c) {
    if (::write(fd, &c, 1) != 1) std::perror("pipe write");
}
char read_byte(int fd) {
    char c = 0;
    if (::read(fd, &c, 1) != 1) return 0;
    return c;
}

// Client process: warm-up connections, then N, then one request on each, then wait to quit.
[[noreturn]] void run_client(const std::string& ca_file, tcp::endpoint server, int n, int to_server,
                             int from_server) {
    auto ctx = client_context(ca_file);
    std::vector<ClientConnection> connections;
    connections.reserve(static_cast<std::size_t>(n + kWarmupConnections));
    try {
        for (int i = 0; i < kWarmupConnections; ++i) connections.push_back(dial(ctx.get(), server));
        write_byte(to_server, 'W');
        read_byte(from_server);
        for (int i = 0; i < n; ++i) connections.push_back(dial(ctx.get(), server));
        write_byte(to_server, 'H');
        read_byte(from_server);
        const std::string request = request_text();
        for (auto& c : connections) exchange(c, request);
        write_byte(to_server, 'R');
        read_byte(from_server);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "client: %s\n", e.what());
        write_byte(to_server, 'E');
        _exit(1);
    }
    _exit(0);
}

struct Stage {
    long before = 0, handshake = 0, request = 0;
    long heap_before = 0, heap_handshake = 0, heap_request = 0;
    long ossl_before = 0, ossl_request = 0;
};

void wait_for(const std::atomic<int>& counter, int target) {
    for (int i = 0; i < 60000 && counter.load() < target; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::this_thread::sleep_for(
        std::chrono::milliseconds(200));  // let the sessions settle into their reads
}

// Server process for one mode; prints its line and exits.
[[noreturn]] void run_server(Mode mode, int n) {
    char dir_template[] = "/tmp/idle-tls-memory-XXXXXX";
    const char* dir = ::mkdtemp(dir_template);
    if (dir == nullptr) _exit(2);
    auto ca = sluice::CertificateAuthority::load_or_create(dir, {kHost});
    std::shared_ptr<SSL_CTX> server_ctx = ca.server_context_for(kHost);
    SSL_CTX_up_ref(server_ctx.get());
    net::ssl::context asio_ctx(server_ctx.get());  // takes the reference above

    net::io_context io{1};
    tcp::acceptor acceptor(io, tcp::endpoint(net::ip::address_v4::loopback(), 0));
    acceptor.listen(net::socket_base::max_listen_connections);
    Counters counters;
    net::co_spawn(io, accept_loop(acceptor, mode, server_ctx, asio_ctx, counters), net::detached);

    int to_server[2], from_server[2];
    if (::pipe(to_server) != 0 || ::pipe(from_server) != 0) _exit(2);
    const tcp::endpoint endpoint = acceptor.local_endpoint();
    const pid_t client = ::fork();
    if (client == 0) run_client(ca.ca_cert_path(), endpoint, n, to_server[1], from_server[0]);

    std::thread loop([&] { io.run(); });
    Stage kib;
    bool ok = read_byte(to_server[0]) == 'W';
    if (ok) {
        wait_for(counters.handshakes, kWarmupConnections);
        kib.before = rss_kib();
        kib.heap_before = heap_kib();
        kib.ossl_before = openssl_kib();
        write_byte(from_server[1], 'g');
        ok = read_byte(to_server[0]) == 'H';
    }
    if (ok) {
        wait_for(counters.handshakes, kWarmupConnections + n);
        kib.handshake = rss_kib();
        kib.heap_handshake = heap_kib();
        write_byte(from_server[1], 'g');
        ok = read_byte(to_server[0]) == 'R';
    }
    if (ok) {
        wait_for(counters.requests, kWarmupConnections + n);
        kib.request = rss_kib();
        kib.heap_request = heap_kib();
        kib.ossl_request = openssl_kib();
        write_byte(from_server[1], 'q');
    }
    int status = 0;
    ::waitpid(client, &status, 0);
    io.stop();
    loop.join();
    std::filesystem::remove_all(dir);
    if (!ok) {
        std::fprintf(stderr, "%s: run failed\n", name(mode));
        _exit(1);
    }
    std::printf("| %s | %d | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f |\n", name(mode),
                n, kib.before / 1024.0, kib.handshake / 1024.0,
                double(kib.handshake - kib.before) / n, kib.request / 1024.0,
                double(kib.request - kib.before) / n,
                double(kib.heap_handshake - kib.heap_before) / n,
                double(kib.heap_request - kib.heap_before) / n,
                double(kib.ossl_request - kib.ossl_before) / n);
    std::fflush(stdout);
    _exit(0);
}

// --- keep-alive syscall run -----------------------------------------------------------------

int run_keepalive(Mode mode, int requests) {
    char dir_template[] = "/tmp/idle-tls-memory-XXXXXX";
    const char* dir = ::mkdtemp(dir_template);
    if (dir == nullptr) return 2;
    auto ca = sluice::CertificateAuthority::load_or_create(dir, {kHost});
    std::shared_ptr<SSL_CTX> server_ctx = ca.server_context_for(kHost);
    SSL_CTX_up_ref(server_ctx.get());
    net::ssl::context asio_ctx(server_ctx.get());
    net::io_context io{1};
    tcp::acceptor acceptor(io, tcp::endpoint(net::ip::address_v4::loopback(), 0));
    acceptor.listen();
    Counters counters;
    net::co_spawn(io, accept_loop(acceptor, mode, server_ctx, asio_ctx, counters), net::detached);
    std::fprintf(stderr, "server tid %ld\n", static_cast<long>(::syscall(SYS_gettid)));
    const std::string ca_file = ca.ca_cert_path();
    const tcp::endpoint endpoint = acceptor.local_endpoint();
    std::thread client([&] {
        auto ctx = client_context(ca_file);
        ClientConnection c = dial(ctx.get(), endpoint);
        const std::string request = request_text();
        for (int i = 0; i < requests; ++i) exchange(c, request);
        ::close(c.fd);
        io.stop();
    });
    io.run();
    client.join();
    std::filesystem::remove_all(dir);
    std::fprintf(stderr, "%s: %d requests served\n", name(mode), counters.requests.load());
    return counters.requests.load() == requests ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    CRYPTO_set_mem_functions(counted_malloc, counted_realloc, counted_free);
    int n = 2000;
    int keepalive = 0;
    std::string mode = "both";
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--connections" && i + 1 < argc)
            n = std::atoi(argv[++i]);
        else if (arg == "--mode" && i + 1 < argc)
            mode = argv[++i];
        else if (arg == "--keepalive-requests" && i + 1 < argc)
            keepalive = std::atoi(argv[++i]);
        else {
            std::fprintf(
                stderr,
                "usage: %s [--connections N] [--mode asio|lean|both] [--keepalive-requests M]\n",
                argv[0]);
            return 2;
        }
    }
    std::signal(SIGPIPE, SIG_IGN);
    mallopt(M_ARENA_MAX, 1);  // one arena, so mallinfo2() sees the io thread's allocations
    rlimit files{};
    ::getrlimit(RLIMIT_NOFILE, &files);
    files.rlim_cur = files.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &files);

    if (keepalive > 0) return run_keepalive(mode == "asio" ? Mode::asio : Mode::lean, keepalive);

    std::printf(
        "| stream | connections | RSS before (MiB) | after handshakes (MiB) | KiB / connection | "
        "after one request each (MiB) | KiB / connection | heap in use KiB / conn. (handshake) | "
        "(after request) | of which OpenSSL (after request) |\n");
    std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    std::fflush(stdout);
    for (Mode m : {Mode::asio, Mode::lean}) {
        if (mode != "both" && mode != (m == Mode::asio ? "asio" : "lean")) continue;
        const pid_t server = ::fork();
        if (server == 0) run_server(m, n);
        int status = 0;
        ::waitpid(server, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return 1;
    }
    return 0;
}
