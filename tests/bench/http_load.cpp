// http-load: a TLS HTTP/1.1 load generator for the proxy benchmark (scripts/bench proxy).
//
// It talks to one host:port, always over TLS with SNI and a verified certificate, with
// TCP_NODELAY on every socket, and prints one JSON line of results. Workloads (--mode):
//   throughput  N keep-alive connections, closed loop, for T seconds -> requests/s
//   rate        open loop at R requests/s over N connections. Latency counts from each request's
//               *scheduled* send time (wrk2), so a stall is charged to every request it delays
//               instead of silently slowing the client down (coordinated omission).
//   serial      one connection, one request in flight -> p50/p99
//   handshake   a new TLS connection per request, full handshakes (no tickets, no cache)
//   stream      POST /v1/chat/completions stream:true on one connection -> TTFB, time to the
//               first SSE event, and the gaps between events
//   idle        opens N connections (handshake only) and prints {"stage":"handshake"}; on a line
//               from stdin sends one request on each of them and prints {"stage":"request"}; holds
//               them until stdin closes or --hold-seconds pass. The caller reads the proxy's RSS
//               at each stage: same connections, so allocator reuse cannot hide either cost.
// Every latency (or SSE gap) between 38 and 45 ms is counted in "nagle_window": the signature of
// Nagle's algorithm meeting delayed ACK, which has no business on loopback. A loaded run can
// spread latencies over that range honestly, so "nagle_suspect" is set only when the window holds
// a peak: at least 3 samples and more than 3x either neighbouring 7 ms window.
//
// --cpu-pids P1,P2 samples utime+stime of those processes at the edges of the measurement window
// so the script can turn requests/s into requests per CPU-second of the proxy.
//
// Plain epoll + OpenSSL with non-blocking sockets: the generator shares two cores with the
// proxy and the mock, so it should cost as little as it can.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

// ---------------------------------------------------------------------------------------------
// Clock, limits and options
// ---------------------------------------------------------------------------------------------

int64_t now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

constexpr int64_t kNsPerSecond = 1'000'000'000;
constexpr int64_t kNagleLowNs = 38'000'000;
constexpr int64_t kNagleHighNs = 45'000'000;
constexpr size_t kReadChunkBytes = 16 * 1024;
constexpr size_t kMaxHeaderBytes = 64 * 1024;
// In open-loop mode, requests still in flight this long after the window are counted as lost.
constexpr int64_t kDrainNs = 3 * kNsPerSecond;
// Safety net: no workload runs longer than this, whatever the flags say.
constexpr int64_t kHardLimitNs = 600 * kNsPerSecond;

enum class Mode { throughput, rate, serial, handshake, stream, idle };

struct Options {
    Mode mode = Mode::serial;
    std::string mode_name = "serial";
    std::string host = "127.0.0.1";
    uint16_t port = 443;
    std::string sni = "api.openai.com";
    std::string ca_file;
    std::string label;
    std::string path = "/v1/chat/completions";
    std::string api_key = "sk-bench-client";  // a proxy replaces it; direct runs pass the real one
    int connections = 1;
    int threads = 1;
    double duration_s = 5;
    double warmup_s = 1;
    double rate = 1000;
    int64_t max_requests = 0;  // 0: no limit, the duration decides
    size_t body_bytes = 1024;
    std::string prompt_prefix;  // starts the user text; lorem fills the rest to body_bytes
    double hold_s = 600;
    std::vector<int> cpu_pids;
};

[[noreturn]] void usage(int code) {
    std::fprintf(
        code ? stderr : stdout, "%s",
        "usage: http-load --mode throughput|rate|serial|handshake|stream|idle\n"
        "                 --connect HOST:PORT --ca FILE [--sni NAME] [options]\n"
        "  --connections N     concurrent connections (throughput, rate, handshake, idle)\n"
        "  --threads N         event-loop threads (throughput, rate, handshake)\n"
        "  --duration S        measurement window in seconds (default 5)\n"
        "  --warmup S          load before the window, not counted (default 1)\n"
        "  --rate R            requests/s for --mode rate\n"
        "  --requests N        stop after N measured requests (serial, stream)\n"
        "  --body-bytes N      approximate JSON request body size (default 1024)\n"
        "  --prompt-prefix T   start the user message with T (e.g. personal data for a masking\n"
        "                      proxy to find); the body keeps its --body-bytes size\n"
        "  --hold-seconds S    idle: hold connections at most S seconds (default 600)\n"
        "  --api-key KEY       Authorization bearer token (default sk-bench-client)\n"
        "  --cpu-pids P,...    report CPU seconds these processes used in the window\n"
        "  --label TEXT        copied into the JSON output\n");
    std::exit(code);
}

template <typename T>
T parse_number(std::string_view flag, std::string_view text) {
    T value{};
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size())
        throw std::runtime_error(std::string(flag) + ": not a number: " + std::string(text));
    return value;
}

Options parse_options(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string_view flag = argv[i];
        if (flag == "--help") usage(0);
        if (i + 1 >= argc) usage(2);
        const std::string_view value = argv[++i];
        if (flag == "--mode") {
            static const std::map<std::string_view, Mode> modes = {
                {"throughput", Mode::throughput}, {"rate", Mode::rate},
                {"serial", Mode::serial},         {"handshake", Mode::handshake},
                {"stream", Mode::stream},         {"idle", Mode::idle}};
            const auto it = modes.find(value);
            if (it == modes.end()) usage(2);
            o.mode = it->second;
            o.mode_name = value;
        } else if (flag == "--connect") {
            const auto colon = value.rfind(':');
            if (colon == std::string_view::npos) usage(2);
            o.host = value.substr(0, colon);
            o.port = parse_number<uint16_t>(flag, value.substr(colon + 1));
        } else if (flag == "--sni") {
            o.sni = value;
        } else if (flag == "--ca") {
            o.ca_file = value;
        } else if (flag == "--label") {
            o.label = value;
        } else if (flag == "--api-key") {
            o.api_key = value;
        } else if (flag == "--path") {
            o.path = value;
        } else if (flag == "--connections") {
            o.connections = parse_number<int>(flag, value);
        } else if (flag == "--threads") {
            o.threads = parse_number<int>(flag, value);
        } else if (flag == "--duration") {
            o.duration_s = parse_number<double>(flag, value);
        } else if (flag == "--warmup") {
            o.warmup_s = parse_number<double>(flag, value);
        } else if (flag == "--rate") {
            o.rate = parse_number<double>(flag, value);
        } else if (flag == "--requests") {
            o.max_requests = parse_number<int64_t>(flag, value);
        } else if (flag == "--body-bytes") {
            o.body_bytes = parse_number<size_t>(flag, value);
        } else if (flag == "--prompt-prefix") {
            o.prompt_prefix = value;
        } else if (flag == "--hold-seconds") {
            o.hold_s = parse_number<double>(flag, value);
        } else if (flag == "--cpu-pids") {
            std::stringstream list{std::string(value)};
            for (std::string pid; std::getline(list, pid, ',');)
                if (!pid.empty()) o.cpu_pids.push_back(parse_number<int>(flag, pid));
        } else {
            usage(2);
        }
    }
    if (o.ca_file.empty()) usage(2);
    if (o.connections < 1 || o.threads < 1 || o.rate <= 0 || o.duration_s <= 0) usage(2);
    // One connection, one request in flight: extra threads would only split nothing.
    if (o.mode == Mode::serial || o.mode == Mode::stream) o.connections = 1;
    if (o.mode == Mode::serial || o.mode == Mode::stream || o.mode == Mode::idle) o.threads = 1;
    o.threads = std::min(o.threads, o.connections);
    return o;
}

// `text` as the inside of a JSON string.
std::string json_string_content(std::string_view text) {
    std::string out;
    for (const char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            char escaped[8];
            std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
            out += escaped;
        } else {
            out += c;
        }
    }
    return out;
}

// The request every workload sends: a chat completion with a ~body_bytes JSON body.
std::string build_request(const Options& o, bool stream) {
    std::string text;
    if (!o.prompt_prefix.empty()) text = json_string_content(o.prompt_prefix) + ' ';
    while (text.size() + 6 < o.body_bytes - std::min<size_t>(o.body_bytes, 90)) text += "lorem ";
    if (text.empty()) text = "hello";
    std::string body = R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":")" + text +
                       R"("}])" + (stream ? R"(,"stream":true})" : "}");
    return "POST " + o.path + " HTTP/1.1\r\nHost: " + o.sni + "\r\nAuthorization: Bearer " +
           o.api_key +
           "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n\r\n" + body;
}

// ---------------------------------------------------------------------------------------------
// RAII handles
// ---------------------------------------------------------------------------------------------

class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept {
        if (this != &other) reset(std::exchange(other.fd_, -1));
        return *this;
    }
    ~UniqueFd() { reset(); }
    int get() const { return fd_; }
    void reset(int fd = -1) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }

private:
    int fd_ = -1;
};

struct SslCtxFree {
    void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
struct SslFree {
    void operator()(SSL* ssl) const { SSL_free(ssl); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;
using SslPtr = std::unique_ptr<SSL, SslFree>;

std::string openssl_error() {
    char buf[256] = "unknown error";
    if (const unsigned long e = ERR_get_error()) ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return buf;
}

SslCtxPtr make_client_context(const Options& o) {
    SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
    if (!ctx) throw std::runtime_error("SSL_CTX_new: " + openssl_error());
    SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
    if (SSL_CTX_load_verify_locations(ctx.get(), o.ca_file.c_str(), nullptr) != 1)
        throw std::runtime_error("--ca " + o.ca_file + ": " + openssl_error());
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    // Every connection is a full handshake: that is what the handshake workload measures, and
    // the other workloads only handshake once per connection anyway.
    SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET);
    return ctx;
}

// ---------------------------------------------------------------------------------------------
// Incremental HTTP/1.1 response parser (Content-Length, chunked, or read-until-close), which
// also spots the end of each SSE event ("\n\n", "\r\n\r\n") in the decoded body.
// ---------------------------------------------------------------------------------------------

class ResponseParser {
public:
    enum class Result { more, done, error };

    void reset() { *this = ResponseParser{}; }

    // Feeds received bytes; `events` is incremented once per completed SSE event.
    Result feed(const char* data, size_t size, int& events) {
        size_t i = 0;
        while (i < size) {
            switch (phase_) {
                case Phase::head: {
                    const size_t take = std::min(size - i, kMaxHeaderBytes - head_.size());
                    const size_t old = head_.size();
                    head_.append(data + i, take);
                    const auto end = head_.find("\r\n\r\n", old >= 3 ? old - 3 : 0);
                    if (end == std::string::npos) {
                        if (head_.size() >= kMaxHeaderBytes) return Result::error;
                        i += take;
                        break;
                    }
                    i += end + 4 - old;
                    if (!parse_head(std::string_view(head_).substr(0, end))) return Result::error;
                    if (phase_ == Phase::done) return Result::done;
                    break;
                }
                case Phase::body: {
                    const size_t take =
                        remaining_ < 0 ? size - i : std::min<int64_t>(size - i, remaining_);
                    scan_events(data + i, take, events);
                    i += take;
                    if (remaining_ >= 0 && (remaining_ -= take) == 0) phase_ = Phase::done;
                    break;
                }
                case Phase::chunk_size: {
                    const char c = data[i++];
                    if (c == '\n') {
                        if (!parse_chunk_size()) return Result::error;
                    } else if (line_.size() < 256) {
                        line_ += c;
                    } else {
                        return Result::error;
                    }
                    break;
                }
                case Phase::chunk_data: {
                    const size_t take = std::min<int64_t>(size - i, remaining_);
                    scan_events(data + i, take, events);
                    i += take;
                    if ((remaining_ -= take) == 0) phase_ = Phase::chunk_crlf;
                    break;
                }
                case Phase::chunk_crlf:
                    if (data[i++] == '\n') phase_ = Phase::chunk_size;
                    break;
                case Phase::trailers: {
                    const char c = data[i++];
                    if (c == '\n') {
                        if (line_.empty() || line_ == "\r") phase_ = Phase::done;
                        line_.clear();
                    } else {
                        line_ += c;
                    }
                    break;
                }
                case Phase::done:
                    return Result::done;  // bytes after the response: ignored (no pipelining)
            }
            if (phase_ == Phase::done) return Result::done;
        }
        return phase_ == Phase::done ? Result::done : Result::more;
    }

    // The peer closed: a close-delimited body ends here, anything else is truncated.
    bool finish_on_eof() {
        if (phase_ == Phase::body && remaining_ < 0) phase_ = Phase::done;
        return phase_ == Phase::done;
    }

    int status() const { return status_; }
    bool keep_alive() const { return keep_alive_; }
    bool started() const { return !head_.empty(); }

private:
    enum class Phase { head, body, chunk_size, chunk_data, chunk_crlf, trailers, done };

    static bool iequals(std::string_view a, std::string_view b) {
        return a.size() == b.size() &&
               std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
                   return std::tolower(static_cast<unsigned char>(x)) ==
                          std::tolower(static_cast<unsigned char>(y));
               });
    }
    static std::string_view trim(std::string_view s) {
        while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
        while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
            s.remove_suffix(1);
        return s;
    }

    bool parse_head(std::string_view head) {
        const auto first_eol = head.find("\r\n");
        const std::string_view status_line = head.substr(0, first_eol);
        if (status_line.size() < 12 || status_line.substr(0, 5) != "HTTP/") return false;
        status_ = parse_status(status_line.substr(9, 3));
        if (status_ < 100) return false;
        keep_alive_ = status_line.substr(0, 8) == "HTTP/1.1";
        bool chunked = false;
        int64_t length = -1;
        size_t pos = first_eol == std::string_view::npos ? head.size() : first_eol + 2;
        while (pos < head.size()) {
            auto eol = head.find("\r\n", pos);
            if (eol == std::string_view::npos) eol = head.size();
            const std::string_view line = head.substr(pos, eol - pos);
            pos = eol + 2;
            const auto colon = line.find(':');
            if (colon == std::string_view::npos) continue;
            const std::string_view name = trim(line.substr(0, colon));
            const std::string_view value = trim(line.substr(colon + 1));
            if (iequals(name, "content-length")) {
                length = 0;
                for (char c : value) {
                    if (c < '0' || c > '9') return false;
                    length = length * 10 + (c - '0');
                }
            } else if (iequals(name, "transfer-encoding")) {
                chunked = value.size() >= 7 && iequals(value.substr(value.size() - 7), "chunked");
            } else if (iequals(name, "connection")) {
                if (iequals(value, "close")) keep_alive_ = false;
                if (iequals(value, "keep-alive")) keep_alive_ = true;
            }
        }
        if (status_ == 204 || status_ == 304) {
            phase_ = Phase::done;
        } else if (chunked) {
            phase_ = Phase::chunk_size;
        } else if (length >= 0) {
            remaining_ = length;
            phase_ = length == 0 ? Phase::done : Phase::body;
        } else {
            remaining_ = -1;  // read until close
            keep_alive_ = false;
            phase_ = Phase::body;
        }
        return true;
    }

    static int parse_status(std::string_view digits) {
        int value = 0;
        for (char c : digits) {
            if (c < '0' || c > '9') return -1;
            value = value * 10 + (c - '0');
        }
        return value;
    }

    bool parse_chunk_size() {
        int64_t size = 0;
        size_t digits = 0;
        for (char c : line_) {
            int v;
            if (c >= '0' && c <= '9')
                v = c - '0';
            else if (c >= 'a' && c <= 'f')
                v = c - 'a' + 10;
            else if (c >= 'A' && c <= 'F')
                v = c - 'A' + 10;
            else
                break;  // ';' extensions or '\r'
            if (++digits > 15) return false;
            size = size * 16 + v;
        }
        line_.clear();
        if (digits == 0) return false;
        remaining_ = size;
        phase_ = size == 0 ? Phase::trailers : Phase::chunk_data;
        return true;
    }

    void scan_events(const char* p, size_t n, int& events) {
        for (size_t k = 0; k < n; ++k) {
            const char c = p[k];
            if (c == '\r') continue;
            if (c == '\n') {
                if (++newlines_ == 2) ++events;
            } else {
                newlines_ = 0;
            }
        }
    }

    Phase phase_ = Phase::head;
    std::string head_;
    std::string line_;
    int status_ = 0;
    bool keep_alive_ = true;
    int64_t remaining_ = 0;
    int newlines_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------------

struct Samples {
    static constexpr int64_t kWidthNs = kNagleHighNs - kNagleLowNs;
    std::vector<int64_t> ns;
    int64_t nagle = 0;  // in [38, 45] ms
    int64_t below = 0;  // in the 7 ms just below
    int64_t above = 0;  // in the 7 ms just above
    void add(int64_t v) {
        ns.push_back(v);
        if (v >= kNagleLowNs && v <= kNagleHighNs)
            ++nagle;
        else if (v >= kNagleLowNs - kWidthNs && v < kNagleLowNs)
            ++below;
        else if (v > kNagleHighNs && v <= kNagleHighNs + kWidthNs)
            ++above;
    }
    bool nagle_peak() const { return nagle >= 3 && nagle > 3 * std::max(below, above); }
    void merge(const Samples& other) {
        ns.insert(ns.end(), other.ns.begin(), other.ns.end());
        nagle += other.nagle;
        below += other.below;
        above += other.above;
    }
};

struct Results {
    int64_t completed = 0;  // measured: inside the window
    int64_t errors = 0;
    int64_t reconnects = 0;
    int64_t lost = 0;  // open loop: scheduled but never answered before the drain deadline
    int64_t events = 0;
    std::map<int, int64_t> statuses;  // non-2xx statuses seen
    std::map<std::string, int64_t> error_kinds;
    Samples latency;      // request latency (handshake mode: connect to response end)
    Samples handshake;    // handshake mode: connect to TLS established
    Samples ttfb;         // stream: request sent to first response byte
    Samples first_event;  // stream: request sent to first complete SSE event
    Samples gap;          // stream: between consecutive SSE events

    void merge(const Results& r) {
        completed += r.completed;
        errors += r.errors;
        reconnects += r.reconnects;
        lost += r.lost;
        events += r.events;
        for (const auto& [k, v] : r.statuses) statuses[k] += v;
        for (const auto& [k, v] : r.error_kinds) error_kinds[k] += v;
        latency.merge(r.latency);
        handshake.merge(r.handshake);
        ttfb.merge(r.ttfb);
        first_event.merge(r.first_event);
        gap.merge(r.gap);
    }
};

// ---------------------------------------------------------------------------------------------
// The shared measurement window. The main thread opens it once every worker has its
// connections up (plus the warm-up), and closes it after --duration.
// ---------------------------------------------------------------------------------------------

struct Window {
    std::atomic<int> workers_ready{0};
    std::atomic<int64_t> start_ns{INT64_MAX};  // set once, when all workers are ready
    std::atomic<int64_t> end_ns{INT64_MAX};
    std::atomic<bool> stop{false};
    std::atomic<bool> idle_send_requests{false};  // idle mode: the caller asked for stage two
    int64_t hard_deadline_ns = 0;

    bool inside(int64_t t) const {
        return t >= start_ns.load(std::memory_order_relaxed) &&
               t <= end_ns.load(std::memory_order_relaxed);
    }
};

// ---------------------------------------------------------------------------------------------
// One event loop: a set of connections driven by epoll (level-triggered).
// ---------------------------------------------------------------------------------------------

struct Connection {
    enum class Phase { connecting, handshaking, idle, writing, reading, closed };
    UniqueFd fd;
    SslPtr ssl;
    Phase phase = Phase::closed;
    uint32_t interest = 0;
    int64_t connect_started_ns = 0;
    int64_t scheduled_ns = 0;  // latency origin of the request in flight
    int64_t sent_ns = 0;
    int64_t last_event_ns = 0;
    bool got_first_byte = false;
    int events = 0;
    int requests_on_connection = 0;
    ResponseParser parser;
};

class Worker {
public:
    Worker(const Options& o, SSL_CTX* ctx, Window& window, int connections, double rate)
        : o_(o),
          ctx_(ctx),
          window_(window),
          rate_(rate),
          request_(build_request(o, false)),
          stream_request_(build_request(o, true)) {
        epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
        timer_.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
        if (epoll_.get() < 0 || timer_.get() < 0) throw std::runtime_error("epoll/timerfd");
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = kTimerTag;
        ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, timer_.get(), &ev);
        conns_.resize(connections);
        for (auto& c : conns_) c = std::make_unique<Connection>();
        inet_pton(AF_INET, o_.host.c_str(), &addr_.sin_addr);
        addr_.sin_family = AF_INET;
        addr_.sin_port = htons(o_.port);
    }

    Results& results() { return results_; }

    void run() {
        const size_t initial = o_.mode == Mode::idle
                                   ? std::min<size_t>(kIdleConcurrency, conns_.size())
                                   : conns_.size();
        for (size_t i = 0; i < initial; ++i) open_connection(i);
        opened_ = initial;
        std::vector<epoll_event> events(256);
        while (!finished()) {
            arm_timer();
            const int n = ::epoll_wait(epoll_.get(), events.data(), events.size(), 100);
            if (n < 0 && errno != EINTR) throw std::runtime_error("epoll_wait failed");
            const int64_t t = now_ns();
            for (int k = 0; k < n; ++k) {
                const uint64_t tag = events[k].data.u64;
                if (tag == kTimerTag) {
                    uint64_t expirations;
                    [[maybe_unused]] auto r =
                        ::read(timer_.get(), &expirations, sizeof expirations);
                    armed_ = -1;
                    continue;
                }
                on_io(tag, events[k].events);
            }
            on_tick(n >= 0 ? t : now_ns());
        }
        // Open loop: whatever was due but never answered is lost, not silently dropped.
        if (o_.mode == Mode::rate) results_.lost += in_flight_ + (next_scheduled_ - next_sent_);
        for (auto& c : conns_) close_connection(*c);
    }

    // Idle mode: true once every connection has done its one request.
    int64_t idle_open() const { return idle_open_; }
    int64_t idle_requested() const { return idle_requested_; }
    int64_t size() const { return static_cast<int64_t>(conns_.size()); }

private:
    static constexpr uint64_t kTimerTag = ~uint64_t{0};
    // Idle connections are opened (and then used) a few at a time so the proxies' upstream
    // pools stay small: the point is the cost of the client side.
    static constexpr int kIdleConcurrency = 4;

    bool finished() const {
        const int64_t t = now_ns();
        if (t > window_.hard_deadline_ns || window_.stop.load()) return true;
        switch (o_.mode) {
            case Mode::idle:
                return false;  // until told to stop
            case Mode::rate:
                return t > window_.end_ns.load() &&
                       (in_flight_ == 0 || t > window_.end_ns.load() + kDrainNs);
            case Mode::serial:
            case Mode::stream:
                if (o_.max_requests > 0 && results_.completed >= o_.max_requests) return true;
                [[fallthrough]];
            default:
                return t > window_.end_ns.load();
        }
    }

    // --- connection lifecycle -----------------------------------------------------------

    void open_connection(size_t index) {
        Connection& c = *conns_[index];
        c.fd.reset(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (c.fd.get() < 0) throw std::runtime_error(std::string("socket: ") + strerror(errno));
        const int one = 1;
        ::setsockopt(c.fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c.connect_started_ns = now_ns();
        c.requests_on_connection = 0;
        c.parser.reset();
        const int rc =
            ::connect(c.fd.get(), reinterpret_cast<const sockaddr*>(&addr_), sizeof addr_);
        if (rc != 0 && errno != EINPROGRESS) {
            fail(c, index, std::string("connect: ") + strerror(errno));
            return;
        }
        c.phase = Connection::Phase::connecting;
        c.interest = EPOLLOUT;
        epoll_event ev{};
        ev.events = c.interest;
        ev.data.u64 = index;
        ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, c.fd.get(), &ev);
    }

    void close_connection(Connection& c) {
        if (c.ssl && c.phase != Connection::Phase::connecting) SSL_shutdown(c.ssl.get());
        c.ssl.reset();
        c.fd.reset();  // closing removes it from the epoll set
        c.phase = Connection::Phase::closed;
        c.interest = 0;
    }

    void set_interest(Connection& c, size_t index, uint32_t interest) {
        if (c.interest == interest) return;
        c.interest = interest;
        epoll_event ev{};
        ev.events = interest;
        ev.data.u64 = index;
        ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, c.fd.get(), &ev);
    }

    // A failed connection: counted, closed, and (except in idle mode) replaced by a new one.
    void fail(Connection& c, size_t index, const std::string& why) {
        const bool had_request =
            c.phase == Connection::Phase::writing || c.phase == Connection::Phase::reading;
        if (had_request) --in_flight_;
        ++results_.errors;
        ++results_.error_kinds[why];
        close_connection(c);
        if (finished()) return;
        ++results_.reconnects;
        if (o_.mode == Mode::rate && had_request) ++results_.lost;
        open_connection(index);
    }

    // Maps an SSL_* result to "wait for read/write" or a failure description.
    enum class Io { ok, want, failed };
    Io classify(Connection& c, size_t index, int rc, std::string& why) {
        switch (SSL_get_error(c.ssl.get(), rc)) {
            case SSL_ERROR_WANT_READ:
                set_interest(c, index, EPOLLIN);
                return Io::want;
            case SSL_ERROR_WANT_WRITE:
                set_interest(c, index, EPOLLIN | EPOLLOUT);
                return Io::want;
            case SSL_ERROR_ZERO_RETURN:
                why = "peer closed";
                return Io::failed;
            case SSL_ERROR_SYSCALL:
                why = errno ? std::string("socket: ") + strerror(errno) : "peer closed";
                ERR_clear_error();
                return Io::failed;
            default: {
                why = "TLS: " + openssl_error();
                const long verify = SSL_get_verify_result(c.ssl.get());
                if (verify != X509_V_OK)
                    why += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
                return Io::failed;
            }
        }
    }

    void on_io(size_t index, uint32_t events) {
        Connection& c = *conns_[index];
        if (c.phase == Connection::Phase::closed) return;
        if (c.phase == Connection::Phase::connecting) {
            int err = 0;
            socklen_t len = sizeof err;
            ::getsockopt(c.fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
            if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) {
                fail(c, index, std::string("connect: ") + strerror(err ? err : ECONNRESET));
                return;
            }
            c.ssl.reset(SSL_new(ctx_));
            SSL_set_fd(c.ssl.get(), c.fd.get());
            SSL_set_tlsext_host_name(c.ssl.get(), o_.sni.c_str());
            SSL_set1_host(c.ssl.get(), o_.sni.c_str());
            SSL_set_connect_state(c.ssl.get());
            c.phase = Connection::Phase::handshaking;
        }
        if (c.phase == Connection::Phase::handshaking) {
            const int rc = SSL_do_handshake(c.ssl.get());
            if (rc != 1) {
                std::string why;
                if (classify(c, index, rc, why) == Io::failed) fail(c, index, why);
                return;
            }
            set_interest(c, index, EPOLLIN);
            if (o_.mode == Mode::handshake && window_.inside(now_ns()))
                results_.handshake.add(now_ns() - c.connect_started_ns);
            c.phase = Connection::Phase::idle;
            if (!counted_ready_) maybe_report_ready();
            on_connection_ready(c, index);
            return;
        }
        if (c.phase == Connection::Phase::writing) {
            drive_write(c, index);
            return;
        }
        // idle or reading: pull whatever TLS records arrived (tickets, a response, or EOF).
        drive_read(c, index);
    }

    void send_request(Connection& c, size_t index, int64_t scheduled) {
        c.scheduled_ns = scheduled;
        c.sent_ns = now_ns();
        c.parser.reset();
        c.got_first_byte = false;
        c.events = 0;
        c.phase = Connection::Phase::writing;
        ++in_flight_;
        drive_write(c, index);
    }

    void drive_write(Connection& c, size_t index) {
        const std::string& req = o_.mode == Mode::stream ? stream_request_ : request_;
        ERR_clear_error();
        const int rc = SSL_write(c.ssl.get(), req.data(), static_cast<int>(req.size()));
        if (rc <= 0) {
            std::string why;
            if (classify(c, index, rc, why) == Io::failed) fail(c, index, why);
            return;
        }
        c.phase = Connection::Phase::reading;
        set_interest(c, index, EPOLLIN);
        drive_read(c, index);  // the answer may already be decrypted and waiting in OpenSSL
    }

    void drive_read(Connection& c, size_t index) {
        char buf[kReadChunkBytes];
        for (;;) {
            ERR_clear_error();
            const int rc = SSL_read(c.ssl.get(), buf, sizeof buf);
            if (rc <= 0) {
                std::string why;
                const Io io = classify(c, index, rc, why);
                if (io == Io::want) return;
                if (c.phase == Connection::Phase::reading && c.parser.finish_on_eof()) {
                    complete_response(c, index, now_ns(), false);
                    return;
                }
                if (c.phase == Connection::Phase::idle) {
                    // The server ended an idle keep-alive connection: not an error by itself,
                    // but worth knowing (a proxy that drops idle clients early shows here).
                    ++results_.error_kinds["idle connection closed by server"];
                    close_connection(c);
                    if (!finished() && o_.mode != Mode::idle) {
                        ++results_.reconnects;
                        open_connection(index);
                    }
                    return;
                }
                fail(c, index, why);
                return;
            }
            const int64_t t = now_ns();
            if (c.phase != Connection::Phase::reading) {
                fail(c, index, "unexpected bytes on an idle connection");
                return;
            }
            if (!c.got_first_byte) {
                c.got_first_byte = true;
                if (o_.mode == Mode::stream && window_.inside(t)) results_.ttfb.add(t - c.sent_ns);
            }
            const int before = c.events;
            const auto result = c.parser.feed(buf, static_cast<size_t>(rc), c.events);
            if (o_.mode == Mode::stream && c.events > before && window_.inside(t)) {
                if (before == 0)
                    results_.first_event.add(t - c.sent_ns);
                else
                    results_.gap.add(t - c.last_event_ns);
                // Several events in one read arrived together: their gaps are zero.
                for (int k = before + 1; k < c.events; ++k) results_.gap.add(0);
            }
            if (c.events > before) c.last_event_ns = t;
            if (result == ResponseParser::Result::error) {
                fail(c, index, "malformed HTTP response");
                return;
            }
            if (result == ResponseParser::Result::done) {
                complete_response(c, index, t, c.parser.keep_alive());
                return;
            }
        }
    }

    void complete_response(Connection& c, size_t index, int64_t t, bool keep_alive) {
        --in_flight_;
        ++c.requests_on_connection;
        const int status = c.parser.status();
        const bool measured = window_.inside(o_.mode == Mode::rate ? c.scheduled_ns : t);
        if (measured) {
            if (status < 200 || status > 299) {
                ++results_.errors;
                ++results_.statuses[status];
            } else {
                ++results_.completed;
                results_.events += c.events;
                if ((o_.mode == Mode::serial || o_.mode == Mode::stream) && o_.max_requests > 0 &&
                    results_.completed >= o_.max_requests)
                    window_.end_ns = t;  // --requests reached: the window ends here
                const int64_t origin =
                    o_.mode == Mode::handshake ? c.connect_started_ns : c.scheduled_ns;
                results_.latency.add(t - origin);
            }
        }
        c.phase = Connection::Phase::idle;
        if (o_.mode == Mode::handshake || !keep_alive) {
            close_connection(c);
            if (!keep_alive && o_.mode != Mode::handshake)
                ++results_.error_kinds["server closed keep-alive connection"];
            if (!finished()) {
                if (o_.mode != Mode::handshake) ++results_.reconnects;
                open_connection(index);
            }
            return;
        }
        on_connection_ready(c, index);
    }

    // A connection is established and has nothing in flight: what next depends on the mode.
    void on_connection_ready(Connection& c, size_t index) {
        switch (o_.mode) {
            case Mode::throughput:
            case Mode::serial:
            case Mode::stream:
            case Mode::handshake:
                if (!finished()) send_request(c, index, now_ns());
                break;
            case Mode::rate:
                idle_.push_back(index);
                dispatch(now_ns());
                break;
            case Mode::idle:
                if (c.requests_on_connection == 0) {
                    ++idle_open_;  // stage one: a few handshakes at a time
                    if (opened_ < conns_.size()) open_connection(opened_++);
                } else {
                    ++idle_requested_;  // stage two: a few requests at a time
                    send_next_idle_request();
                }
                break;
        }
    }

    void maybe_report_ready() {
        // Ready once every connection of this worker has completed its handshake.
        if (++ready_connections_ >= static_cast<int64_t>(conns_.size()) || o_.mode == Mode::idle) {
            counted_ready_ = true;
            window_.workers_ready.fetch_add(1);
        }
    }

    // --- open loop ----------------------------------------------------------------------

    int64_t scheduled_time(int64_t k) const {
        return schedule_origin_ +
               static_cast<int64_t>(static_cast<double>(k) * kNsPerSecond / rate_);
    }

    void send_next_idle_request() {
        while (next_idle_request_ < conns_.size()) {
            const size_t index = next_idle_request_++;
            Connection& c = *conns_[index];
            if (c.phase != Connection::Phase::idle) continue;  // closed by the server meanwhile
            send_request(c, index, now_ns());
            return;
        }
    }

    void on_tick(int64_t t) {
        if (o_.mode == Mode::idle && window_.idle_send_requests && !idle_requests_started_) {
            idle_requests_started_ = true;
            for (int k = 0; k < kIdleConcurrency; ++k) send_next_idle_request();
        }
        if (o_.mode != Mode::rate) return;
        if (schedule_origin_ == 0) {
            // The schedule starts with the warm-up, once the window is known.
            const int64_t start = window_.start_ns.load();
            if (start == INT64_MAX) return;
            schedule_origin_ = start - static_cast<int64_t>(o_.warmup_s * kNsPerSecond);
        }
        dispatch(t);
    }

    void dispatch(int64_t t) {
        if (o_.mode != Mode::rate || schedule_origin_ == 0) return;
        const int64_t end = window_.end_ns.load();
        while (scheduled_time(next_scheduled_) <= t && scheduled_time(next_scheduled_) <= end) {
            ++next_scheduled_;  // now due: waits in the backlog until a connection is free
        }
        while (next_sent_ < next_scheduled_ && !idle_.empty()) {
            const size_t index = idle_.back();
            idle_.pop_back();
            Connection& c = *conns_[index];
            if (c.phase != Connection::Phase::idle) continue;
            send_request(c, index, scheduled_time(next_sent_++));
        }
    }

    void arm_timer() {
        int64_t wake = 0;
        if (o_.mode == Mode::rate && schedule_origin_ != 0) {
            const int64_t next = scheduled_time(next_scheduled_);
            if (next <= window_.end_ns.load()) wake = next;
        }
        if (wake == armed_) return;
        armed_ = wake;
        itimerspec spec{};
        spec.it_value.tv_sec = wake / kNsPerSecond;
        spec.it_value.tv_nsec = wake % kNsPerSecond;
        ::timerfd_settime(timer_.get(), TFD_TIMER_ABSTIME, &spec, nullptr);
    }

    const Options& o_;
    SSL_CTX* ctx_;
    Window& window_;
    double rate_;
    std::string request_;
    std::string stream_request_;
    sockaddr_in addr_{};
    UniqueFd epoll_;
    UniqueFd timer_;
    std::vector<std::unique_ptr<Connection>> conns_;
    Results results_;
    int64_t in_flight_ = 0;
    int64_t ready_connections_ = 0;
    bool counted_ready_ = false;
    size_t opened_ = 0;
    std::atomic<int64_t> idle_open_{0};
    std::atomic<int64_t> idle_requested_{0};
    size_t next_idle_request_ = 0;
    bool idle_requests_started_ = false;
    // open loop
    std::vector<size_t> idle_;
    int64_t schedule_origin_ = 0;
    int64_t next_scheduled_ = 0;  // requests [0, next_scheduled_) are due
    int64_t next_sent_ = 0;       // requests [0, next_sent_) have been sent
    int64_t armed_ = -1;
};

// ---------------------------------------------------------------------------------------------
// Reporting
// ---------------------------------------------------------------------------------------------

double cpu_seconds_of(const std::vector<int>& pids) {
    static const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
    double total = 0;
    for (int pid : pids) {
        std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
        std::string line;
        if (!std::getline(stat, line)) continue;
        // Fields after the parenthesised comm: state is field 3, utime 14, stime 15.
        std::istringstream rest(line.substr(line.rfind(')') + 2));
        std::string field;
        uint64_t utime = 0, stime = 0;
        for (int f = 3; f <= 15 && rest >> field; ++f) {
            if (f == 14) utime = std::stoull(field);
            if (f == 15) stime = std::stoull(field);
        }
        total += static_cast<double>(utime + stime) / ticks;
    }
    return total;
}

double own_cpu_seconds() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    auto secs = [](const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
    return secs(usage.ru_utime) + secs(usage.ru_stime);
}

std::string json_escape(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        if (static_cast<unsigned char>(c) < 0x20) continue;
        out += c;
    }
    return out;
}

// Appends "name":{"n":..,"p50_us":..,...} for one sample set.
void append_samples(std::string& out, std::string_view name, Samples& s) {
    auto& v = s.ns;
    std::sort(v.begin(), v.end());
    auto pct = [&](double p) -> double {
        if (v.empty()) return 0;
        const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * v.size()));
        return v[i] / 1e3;
    };
    const double mean = v.empty() ? 0 : std::accumulate(v.begin(), v.end(), 0.0) / v.size() / 1e3;
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  ",\"%.*s\":{\"n\":%zu,\"mean_us\":%.1f,\"p50_us\":%.1f,\"p90_us\":%.1f,"
                  "\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,\"nagle_window\":%lld,"
                  "\"nagle_neighbours\":[%lld,%lld],\"nagle_suspect\":%s}",
                  static_cast<int>(name.size()), name.data(), v.size(), mean, pct(0.5), pct(0.9),
                  pct(0.99), pct(0.999), v.empty() ? 0.0 : v.back() / 1e3,
                  static_cast<long long>(s.nagle), static_cast<long long>(s.below),
                  static_cast<long long>(s.above), s.nagle_peak() ? "true" : "false");
    out += buf;
}

std::string to_json(const Options& o, Results& r, double window_s, double proxy_cpu_s,
                    double client_cpu_s) {
    char buf[512];
    std::string out =
        "{\"mode\":\"" + o.mode_name + "\",\"label\":\"" + json_escape(o.label) + "\"";
    std::snprintf(buf, sizeof buf,
                  ",\"connections\":%d,\"threads\":%d,\"window_s\":%.3f,\"completed\":%lld,"
                  "\"errors\":%lld,\"reconnects\":%lld,\"lost\":%lld,\"rps\":%.1f,"
                  "\"target_rate\":%.1f,\"proxy_cpu_s\":%.3f,\"client_cpu_s\":%.3f,"
                  "\"events\":%lld",
                  o.connections, o.threads, window_s, static_cast<long long>(r.completed),
                  static_cast<long long>(r.errors), static_cast<long long>(r.reconnects),
                  static_cast<long long>(r.lost), window_s > 0 ? r.completed / window_s : 0.0,
                  o.mode == Mode::rate ? o.rate : 0.0, proxy_cpu_s, client_cpu_s,
                  static_cast<long long>(r.events));
    out += buf;
    out += ",\"statuses\":{";
    bool first = true;
    for (const auto& [status, n] : r.statuses) {
        out += (first ? "\"" : ",\"") + std::to_string(status) + "\":" + std::to_string(n);
        first = false;
    }
    out += "},\"error_kinds\":{";
    first = true;
    for (const auto& [kind, n] : r.error_kinds) {
        out += (first ? "\"" : ",\"") + json_escape(kind) + "\":" + std::to_string(n);
        first = false;
    }
    out += "}";
    append_samples(out, "latency", r.latency);
    if (o.mode == Mode::handshake) append_samples(out, "handshake", r.handshake);
    if (o.mode == Mode::stream) {
        append_samples(out, "ttfb", r.ttfb);
        append_samples(out, "first_event", r.first_event);
        append_samples(out, "gap", r.gap);
    }
    // A whole stream legitimately lasts tens of ms: only its TTFB and gaps are checked.
    const int64_t nagle = (o.mode == Mode::stream ? 0 : r.latency.nagle) + r.handshake.nagle +
                          r.ttfb.nagle + r.first_event.nagle + r.gap.nagle;
    const bool suspect = (o.mode != Mode::stream && r.latency.nagle_peak()) ||
                         r.handshake.nagle_peak() || r.ttfb.nagle_peak() ||
                         r.first_event.nagle_peak() || r.gap.nagle_peak();
    out += ",\"nagle_window\":" + std::to_string(nagle) +
           ",\"nagle_suspect\":" + (suspect ? "true" : "false") + "}";
    return out;
}

void sleep_until(int64_t t) {
    for (;;) {
        const int64_t left = t - now_ns();
        if (left <= 0) return;
        const timespec ts{left / kNsPerSecond, left % kNsPerSecond};
        ::nanosleep(&ts, nullptr);
    }
}

int run(const Options& o) {
    SslCtxPtr ctx = make_client_context(o);
    Window window;
    window.hard_deadline_ns = now_ns() + kHardLimitNs;

    std::vector<std::unique_ptr<Worker>> workers;
    for (int i = 0; i < o.threads; ++i) {
        const int share = o.connections / o.threads + (i < o.connections % o.threads ? 1 : 0);
        workers.push_back(
            std::make_unique<Worker>(o, ctx.get(), window, share, o.rate / o.threads));
    }
    std::vector<std::thread> threads;
    std::vector<std::string> failures(workers.size());
    for (size_t i = 0; i < workers.size(); ++i) {
        threads.emplace_back([&, i] {
            try {
                workers[i]->run();
            } catch (const std::exception& e) {
                failures[i] = e.what();
                window.stop = true;
            }
        });
    }
    // Wait for every worker's connections (bounded), then warm up, then measure.
    const int64_t setup_deadline = now_ns() + 30 * kNsPerSecond;
    while (window.workers_ready.load() < o.threads && now_ns() < setup_deadline && !window.stop)
        ::usleep(1000);
    const bool ready = window.workers_ready.load() >= o.threads;

    double window_s = 0, proxy_cpu = 0;
    if (!ready) {
        window.stop = true;
    } else if (o.mode == Mode::idle) {
        window.start_ns = now_ns();
        Worker& w = *workers[0];
        auto wait_for = [&](auto done) {
            const int64_t deadline = now_ns() + 60 * kNsPerSecond;
            while (!done() && now_ns() < deadline && !window.stop) ::usleep(1000);
        };
        // Worker results are only read after the join; the stage lines carry counts.
        auto report = [&](const char* stage, int64_t count, Results snapshot = {}) {
            snapshot.completed = count;
            std::string line = to_json(o, snapshot, 0, 0, own_cpu_seconds());
            line.insert(line.size() - 1, std::string(",\"stage\":\"") + stage + "\"");
            std::printf("%s\n", line.c_str());
            std::fflush(stdout);
        };
        wait_for([&] { return w.idle_open() == w.size(); });
        report("handshake", w.idle_open());
        // Stage two on a line from stdin; hold until EOF or the hold time passes.
        pollfd in{0, POLLIN, 0};
        const int64_t hold_until = now_ns() + static_cast<int64_t>(o.hold_s * kNsPerSecond);
        char sink[256];
        bool eof = false;
        while (!eof && !window.idle_send_requests && now_ns() < hold_until) {
            if (::poll(&in, 1, 200) <= 0) continue;
            const ssize_t n = ::read(0, sink, sizeof sink);
            if (n <= 0)
                eof = true;
            else
                window.idle_send_requests = true;
        }
        if (window.idle_send_requests) {
            wait_for([&] { return w.idle_requested() == w.idle_open(); });
            report("request", w.idle_requested());
        }
        while (!eof && now_ns() < hold_until) {
            if (::poll(&in, 1, 200) > 0 && ::read(0, sink, sizeof sink) <= 0) eof = true;
        }
        window.stop = true;
        for (auto& t : threads) t.join();
        report("closed", w.idle_open(), w.results());  // errors, e.g. idle connections dropped
        return w.idle_open() == o.connections ? 0 : 1;
    } else {
        const int64_t start = now_ns() + static_cast<int64_t>(o.warmup_s * kNsPerSecond);
        window.end_ns = start + static_cast<int64_t>(o.duration_s * kNsPerSecond);
        window.start_ns = start;
        sleep_until(start);
        const double cpu_start = cpu_seconds_of(o.cpu_pids);
        const double client_start = own_cpu_seconds();
        // Serial and stream runs may end early at --requests; the window then ends there.
        while (now_ns() < window.end_ns.load() && !window.stop) ::usleep(2000);
        const int64_t end = std::min(now_ns(), window.end_ns.load());
        proxy_cpu = cpu_seconds_of(o.cpu_pids) - cpu_start;
        window_s = static_cast<double>(end - start) / kNsPerSecond;
        const double client_cpu = own_cpu_seconds() - client_start;
        for (auto& t : threads) t.join();
        Results total;
        for (auto& w : workers) total.merge(w->results());
        std::printf("%s\n", to_json(o, total, window_s, proxy_cpu, client_cpu).c_str());
        std::fflush(stdout);
    }
    if (!ready) {
        for (auto& t : threads) t.join();
        Results total;
        for (auto& w : workers) total.merge(w->results());
        std::fprintf(stderr, "http-load: connections not established within 30 s\n");
        std::printf("%s\n", to_json(o, total, 0, 0, own_cpu_seconds()).c_str());
        return 1;
    }
    for (const auto& f : failures)
        if (!f.empty()) {
            std::fprintf(stderr, "http-load: %s\n", f.c_str());
            return 1;
        }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN);
    try {
        return run(parse_options(argc, argv));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "http-load: %s\n", e.what());
        return 1;
    }
}
