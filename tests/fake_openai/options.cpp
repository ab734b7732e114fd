#include "tests/fake_openai/options.h"

#include <charconv>
#include <stdexcept>
#include <string_view>

namespace sluice::fake_openai {
namespace {

unsigned parse_number(std::string_view option, std::string_view text, unsigned max) {
    unsigned value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size() || value > max) {
        throw std::invalid_argument(std::string(option) + ": expected a number up to " +
                                    std::to_string(max) + ", got '" + std::string(text) + "'");
    }
    return value;
}

ListenAddress parse_listen(std::string_view text) {
    ListenAddress address;
    std::string_view port;
    if (text.starts_with('[')) {
        const auto close = text.find("]:");
        if (close == std::string_view::npos)
            throw std::invalid_argument("--listen: expected [IPv6]:PORT");
        address.host = std::string(text.substr(1, close - 1));
        port = text.substr(close + 2);
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos || colon == 0) {
            throw std::invalid_argument("--listen: expected HOST:PORT, got '" + std::string(text) +
                                        "'");
        }
        address.host = std::string(text.substr(0, colon));
        port = text.substr(colon + 1);
    }
    address.port = static_cast<std::uint16_t>(parse_number("--listen port", port, 65535));
    return address;
}

}  // namespace

const char* usage_text() {
    return R"(usage: fake-openai --listen ADDR:PORT [--listen ...] (--cert FILE --key FILE | --plain) [options]

A fake api.openai.com for tests and benchmarks. Replies are deterministic functions of the
request: assistant text is "echo: " + the last user text; with function tools the first answer
is a tool call whose arguments fill the tool's schema; token counts are ceil(bytes / 4).

Endpoints: GET /v1/models[/ID], POST /v1/chat/completions, POST /v1/responses,
POST /v1/embeddings, POST /v1/files (multipart); anything else is 404.

Options:
  --listen HOST:PORT      address to listen on ([::1]:443 for IPv6; port 0 picks one); repeatable
  --cert FILE --key FILE  PEM certificate chain and private key for TLS
  --plain                 serve plain HTTP instead of TLS
  --record FILE           append one JSON line per request (method, path, headers, body, body_bytes)
  --expect-key KEY        answer 401 invalid_api_key unless "Authorization: Bearer KEY"
  --latency-ms N          wait N ms before the first byte of every response
  --event-gap-ms N        wait N ms between streamed (SSE) events
  --fail-status CODE      answer every request with CODE and an OpenAI-shaped error
  --bill-to-cap           chat usage bills every choice at the request's output cap (the
                          most a provider may bill), not at its answer's length
  --reset-after-events N  send N SSE events, then reset the TCP connection
  --answer-suffix TEXT    append TEXT to every assistant text (chat, Responses, streamed too)
  --threads N             I/O threads (default: one per core)
  --verbose               log every request and connection error to stderr
  --help                  show this help

Prints "listening on ADDR..." on stdout once every listener accepts.
)";
}

FakeOpenAiOptions parse_options(int argc, char** argv) {
    FakeOpenAiOptions options;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        std::string_view inline_value;
        bool has_inline_value = false;
        if (const auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
            inline_value = arg.substr(eq + 1);
            arg = arg.substr(0, eq);
            has_inline_value = true;
        }
        auto value = [&]() -> std::string_view {
            if (has_inline_value) return inline_value;
            if (i + 1 >= argc) throw std::invalid_argument(std::string(arg) + ": missing value");
            return argv[++i];
        };
        if (arg == "--help" || arg == "-h") {
            options.help = true;
        } else if (arg == "--listen") {
            options.listen.push_back(parse_listen(value()));
        } else if (arg == "--cert") {
            options.cert_file = value();
        } else if (arg == "--key") {
            options.key_file = value();
        } else if (arg == "--plain") {
            options.plain = true;
        } else if (arg == "--record") {
            options.record_file = value();
        } else if (arg == "--expect-key") {
            options.expected_api_key = value();
        } else if (arg == "--latency-ms") {
            options.latency_ms = parse_number(arg, value(), 3'600'000);
        } else if (arg == "--event-gap-ms") {
            options.event_gap_ms = parse_number(arg, value(), 3'600'000);
        } else if (arg == "--fail-status") {
            options.fail_status = parse_number(arg, value(), 599);
            if (options.fail_status < 200)
                throw std::invalid_argument("--fail-status: expected 200..599");
        } else if (arg == "--bill-to-cap") {
            options.bill_to_cap = true;
        } else if (arg == "--answer-suffix") {
            options.answer_suffix = value();
        } else if (arg == "--reset-after-events") {
            options.reset_after_events = parse_number(arg, value(), 1'000'000);
        } else if (arg == "--threads") {
            options.threads = parse_number(arg, value(), 256);
        } else if (arg == "--verbose") {
            options.verbose = true;
        } else {
            throw std::invalid_argument("unknown option '" + std::string(argv[i]) +
                                        "' (see --help)");
        }
    }
    if (options.help) return options;
    if (options.listen.empty())
        throw std::invalid_argument("--listen: at least one address is required");
    if (!options.plain && (options.cert_file.empty() || options.key_file.empty())) {
        throw std::invalid_argument("--cert and --key are required (or --plain)");
    }
    return options;
}

}  // namespace sluice::fake_openai
