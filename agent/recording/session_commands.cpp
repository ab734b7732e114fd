#include "agent/recording/session_commands.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "agent/common/duration_text.h"
#include "agent/common/time_format.h"
#include "agent/recording/realtime_transcript.h"
#include "agent/recording/recording_store.h"
#include "agent/recording/session_export.h"
#include "agent/recording/session_index.h"
#include "agent/recording/session_transcript.h"
#include "policy/sse_parser.h"

namespace sluice {

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using json = nlohmann::json;

constexpr const char* kUsage =
    "usage: sluicectl sessions list [--user U] [--since T] [--model M]\n"
    "       sluicectl sessions show ID\n"
    "       sluicectl sessions replay ID [--speed N]\n"
    "       sluicectl sessions export ID --format jsonl|har\n"
    "       sluicectl sessions resend ID --to URL [--cacert FILE]\n";

struct Options {
    std::string verb;
    std::string id;
    std::string user, since, model, format, to, cacert;
    double speed = 1.0;
};

bool parse_options(const std::vector<std::string>& args, Options& options) {
    if (args.empty()) return false;
    options.verb = args[0];
    for (std::size_t i = 1; i < args.size(); ++i) {
        const std::string& arg = args[i];
        const auto value = [&](std::string& into) {
            if (i + 1 >= args.size()) return false;
            into = args[++i];
            return true;
        };
        bool ok = true;
        if (arg == "--user")
            ok = value(options.user);
        else if (arg == "--since")
            ok = value(options.since);
        else if (arg == "--model")
            ok = value(options.model);
        else if (arg == "--format")
            ok = value(options.format);
        else if (arg == "--to")
            ok = value(options.to);
        else if (arg == "--cacert")
            ok = value(options.cacert);
        else if (arg == "--speed") {
            std::string text;
            ok = value(text);
            char* end = nullptr;
            options.speed = ok ? std::strtod(text.c_str(), &end) : 0;
            ok = ok && end != text.c_str() && *end == '\0' && options.speed > 0;
        } else if (!arg.starts_with("--") && options.id.empty())
            options.id = arg;
        else
            ok = false;
        if (!ok) {
            std::fprintf(stderr, "sluicectl sessions: bad or incomplete option '%s'\n",
                         arg.c_str());
            return false;
        }
    }
    return true;
}

// "1h", "2d" (ago) or an RFC 3339 UTC time (or a prefix of one: "2026-12-07").
std::string since_stamp(const std::string& text) {
    if (text.empty()) return {};
    if (auto duration = parse_duration(text))
        return format_utc(std::chrono::system_clock::now() - *duration);
    return text;
}

std::vector<RecordedSession> load_sessions(const RecordingStore& store, bool& ok) {
    ok = true;
    std::vector<json> recordings;
    std::vector<StoredRecording> stored;
    try {
        stored = store.list();
    } catch (const std::exception& e) {
        std::fprintf(stderr,
                     "sluicectl sessions: %s (recordings are readable by root and sluiced's user "
                     "only)\n",
                     e.what());
        ok = false;
        return {};
    }
    for (const auto& s : stored) {
        try {
            recordings.push_back(json::parse(store.load(s)));
        } catch (const std::exception& e) {
            std::fprintf(stderr, "sluicectl sessions: skipped %s\n", e.what());
        }
    }
    return group_sessions(std::move(recordings));
}

int list(const std::vector<RecordedSession>& sessions, const Options& options) {
    const SessionFilter filter{options.user, since_stamp(options.since), options.model};
    std::printf("%-40s %-12s %-27s %8s %8s  %s\n", "SESSION", "USER", "STARTED", "REQUESTS",
                "TOKENS", "MODELS");
    for (const auto& session : sessions) {
        if (!session_matches(session, filter)) continue;
        std::string models;
        for (const auto& m : session.models()) models += (models.empty() ? "" : ",") + m;
        std::printf("%-40s %-12s %-27s %8zu %8lld  %s\n", session.id.c_str(),
                    session.user().c_str(), session.started().c_str(), session.requests.size(),
                    static_cast<long long>(session.total_tokens()), models.c_str());
    }
    return 0;
}

int replay(const RecordedSession& session, double speed) {
    const auto start = std::chrono::steady_clock::now();
    for (const auto& step : replay_script(session)) {
        const auto at = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                    std::chrono::duration<double, std::milli>(step.at_ms / speed));
        std::this_thread::sleep_until(at);
        std::fputs(step.text.c_str(), stdout);
        std::fflush(stdout);
    }
    return 0;
}

struct Url {
    bool tls = false;
    std::string host, port, base;
};

bool parse_url(const std::string& text, Url& url) {
    std::string rest;
    if (text.starts_with("http://")) {
        rest = text.substr(7);
    } else if (text.starts_with("https://")) {
        url.tls = true;
        rest = text.substr(8);
    } else {
        return false;
    }
    const auto slash = rest.find('/');
    std::string authority = rest.substr(0, slash);
    url.base = slash == std::string::npos ? "" : rest.substr(slash);
    while (!url.base.empty() && url.base.back() == '/') url.base.pop_back();
    url.port = url.tls ? "443" : "80";
    if (authority.starts_with('[')) {
        const auto close = authority.find(']');
        if (close == std::string::npos) return false;
        url.host = authority.substr(1, close - 1);
        if (close + 1 < authority.size() && authority[close + 1] == ':')
            url.port = authority.substr(close + 2);
    } else if (const auto colon = authority.rfind(':'); colon != std::string::npos) {
        url.host = authority.substr(0, colon);
        url.port = authority.substr(colon + 1);
    } else {
        url.host = authority;
    }
    return !url.host.empty() && !url.port.empty();
}

http::response<http::string_body> send(const Url& url, const std::string& cacert,
                                       http::request<http::string_body>& request) {
    net::io_context io;
    net::ip::tcp::resolver resolver(io);
    const auto endpoints = resolver.resolve(url.host, url.port);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64u * 1024 * 1024);
    if (!url.tls) {
        net::ip::tcp::socket socket(io);
        net::connect(socket, endpoints);
        http::write(socket, request);
        http::read(socket, buffer, parser);
        return parser.release();
    }
    net::ssl::context ctx(net::ssl::context::tls_client);
    ctx.set_verify_mode(net::ssl::verify_peer);
    if (cacert.empty())
        ctx.set_default_verify_paths();
    else
        ctx.load_verify_file(cacert);
    net::ssl::stream<net::ip::tcp::socket> stream(io, ctx);
    SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str());
    SSL_set1_host(stream.native_handle(), url.host.c_str());
    net::connect(stream.next_layer(), endpoints);
    stream.handshake(net::ssl::stream_base::client);
    http::write(stream, request);
    http::read(stream, buffer, parser);
    return parser.release();
}

// The answer as a recording's "response", so both sides are read the same way.
json as_recording(const http::response<http::string_body>& response) {
    json out{{"response", {{"status", response.result_int()}}}};
    if (response[http::field::content_type].find("text/event-stream") != std::string_view::npos) {
        json events = json::array();
        SseParser parser;
        parser.feed(response.body(), [&](const SseEvent& event) {
            events.push_back({{"data", event.data}});
        });
        out["response"]["events"] = std::move(events);
    } else {
        out["response"]["body"] = response.body();
    }
    return out;
}

int resend(const RecordedSession& session, const Options& options) {
    Url url;
    if (!parse_url(options.to, url)) {
        std::fprintf(stderr, "sluicectl sessions resend: --to needs an http:// or https:// URL\n");
        return 2;
    }
    const char* api_key = std::getenv("OPENAI_API_KEY");
    int differ = 0, n = 0;
    for (const auto& r : session.requests) {
        ++n;
        const json request = r.value("request", json::object());
        if (is_realtime_recording(r)) {
            std::printf("[%d] %s: not resent (a realtime session)\n", n,
                        request.value("path", "").c_str());
            continue;
        }
        if (!request.contains("body")) {
            std::printf("[%d] %s: not resent (recorded without its body)\n", n,
                        request.value("path", "").c_str());
            continue;
        }
        http::request<http::string_body> out{http::string_to_verb(request.value("method", "POST")),
                                             url.base + request.value("path", "/"), 11};
        out.set(http::field::host, url.host);
        out.set(http::field::content_type, request.value("content_type", "application/json"));
        if (api_key != nullptr && *api_key != '\0')
            out.set(http::field::authorization, std::string("Bearer ") + api_key);
        out.set(http::field::accept_encoding, "identity");
        out.body() = request["body"].get<std::string>();
        out.prepare_payload();
        try {
            const auto answer = send(url, options.cacert, out);
            const json now = as_recording(answer);
            const std::string before = answer_text(r), after = answer_text(now);
            const json response = r.value("response", json::object());
            const unsigned recorded_status = response.value("status", 0u);
            const bool same = before == after && recorded_status == answer.result_int();
            if (!same) ++differ;
            std::printf("[%d] %s %s: status %u (recorded %u), answer %s\n", n,
                        request.value("method", "").c_str(), request.value("path", "").c_str(),
                        answer.result_int(), recorded_status, same ? "same" : "DIFFERS");
            if (!same) std::printf("  recorded:\n%s  now:\n%s", before.c_str(), after.c_str());
        } catch (const std::exception& e) {
            std::fprintf(stderr, "sluicectl sessions resend: %s: %s\n", options.to.c_str(),
                         e.what());
            return 2;
        }
    }
    return differ == 0 ? 0 : 1;
}

}  // namespace

int run_sessions_command(const std::string& dir, const std::string& key_file,
                         const std::vector<std::string>& args) {
    Options options;
    if (!parse_options(args, options)) {
        std::fputs(kUsage, stderr);
        return 2;
    }
    const bool needs_id = options.verb != "list";
    if (options.verb != "list" && options.verb != "show" && options.verb != "replay" &&
        options.verb != "export" && options.verb != "resend") {
        std::fputs(kUsage, stderr);
        return 2;
    }
    if (needs_id && options.id.empty()) {
        std::fprintf(stderr, "sluicectl sessions %s: needs a session or request ID\n",
                     options.verb.c_str());
        return 2;
    }
    if (options.verb == "export" && options.format != "jsonl" && options.format != "har") {
        std::fputs("sluicectl sessions export: --format jsonl or har\n", stderr);
        return 2;
    }
    // Never to the real upstream by default: resending spends tokens and sends recorded
    // (masked) prompts again, so the target is always named.
    if (options.verb == "resend" && options.to.empty()) {
        std::fputs(
            "sluicectl sessions resend: --to URL is required (never sent anywhere by "
            "default)\n",
            stderr);
        return 2;
    }
    std::string key;
    try {
        if (!key_file.empty()) key = load_recording_key(key_file);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sluicectl sessions: %s\n", e.what());
        return 1;
    }
    const RecordingStore store(dir, key, false);
    bool ok = true;
    const auto sessions = load_sessions(store, ok);
    if (!ok) return 1;
    if (options.verb == "list") return list(sessions, options);
    std::string error;
    const RecordedSession* session = find_session(sessions, options.id, error);
    if (session == nullptr) {
        std::fprintf(stderr, "sluicectl sessions %s: %s\n", options.verb.c_str(), error.c_str());
        return 1;
    }
    if (options.verb == "show") {
        std::fputs(session_transcript(*session).c_str(), stdout);
        return 0;
    }
    if (options.verb == "replay") return replay(*session, options.speed);
    if (options.verb == "export") {
        if (options.format == "jsonl")
            std::fputs(session_jsonl(*session).c_str(), stdout);
        else
            std::printf("%s\n", session_har(*session).dump(2).c_str());
        return 0;
    }
    return resend(*session, options);
}

}  // namespace sluice
