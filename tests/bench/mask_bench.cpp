// Masking cost (scripts/bench mask): throughput of the text masker with every recognizer on,
// over 1 MB of clean prose and of prose dense with PII/secrets, and the time the SSE masker
// adds per streamed delta (Chat Completions and Responses). Prints a markdown table.
// Throughput is timed in thread CPU time (the machine is shared: time the thread spent waiting
// for a core is not masking time); per-delta costs are wall-clock medians.
//   mask-bench [--rounds N] [--deltas N]
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "policy/masking/masking_config.h"
#include "policy/masking/masking_session.h"

using namespace sluice::masking;
using Clock = std::chrono::steady_clock;

namespace {

const char* kWords[] = {
    "the",     "model",       "returns",  "a",      "summary", "of",      "report",    "for",
    "quarter", "and",         "users",    "should", "review",  "each",    "section",   "before",
    "release", "performance", "improved", "by",     "percent", "in",      "2024",      "while",
    "costs",   "fell",        "to",       "42",     "million", "across",  "3",         "regions",
    "with",    "new",         "features", "such",   "as",      "caching", "streaming", "and",
    "retries", "is",          "it",       "that",   "this",    "we",      "they",      "will",
    "can",     "data",        "time",     "v1.2"};

const char* kEntities[] = {
    "jane.roe@example.com",
    "+1 415 555 2671",
    "(415) 555-2671",
    "4111 1111 1111 1111",
    "DE89 3704 0044 0532 0130 00",
    "123-45-6789",
    "192.168.10.20",
    "2001:db8::8a2e:370:7334",
    "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    "AKIAIOSFODNN7EXAMPLE",
    "aws secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"};

// ~`bytes` of prose; one entity every `every` bytes (0: none).
std::string make_text(std::size_t bytes, std::size_t every, unsigned seed) {
    std::mt19937 rng(seed);
    std::string out;
    out.reserve(bytes + 128);
    std::size_t next = every;
    std::size_t entity = 0;
    int words_in_sentence = 0;
    while (out.size() < bytes) {
        if (every && out.size() >= next) {
            out += kEntities[entity++ % std::size(kEntities)];
            out += ' ';
            next += every;
            continue;
        }
        std::string word = kWords[rng() % std::size(kWords)];
        if (words_in_sentence == 0) word[0] = static_cast<char>(std::toupper(word[0]));
        out += word;
        if (++words_in_sentence > 8 + static_cast<int>(rng() % 8)) {
            out += ". ";
            words_in_sentence = 0;
        } else {
            out += (rng() % 10 == 0) ? ", " : " ";
        }
    }
    out.resize(bytes);
    return out;
}

double thread_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::shared_ptr<const MaskingControl> all_on() {
    return parse_masking(YAML::Load("[{entities: [all], action: redact}]"), "masking", {});
}

// Texts per workload, masked in turn: the same 1 MiB over and over lets the CPU's branch
// predictor learn the text, which made the scanners look up to three times faster than they
// are on text they have not seen.
constexpr unsigned kTextsPerWorkload = 8;

double text_mb_per_s(std::size_t bytes, std::size_t every, int rounds, std::size_t& found) {
    std::vector<std::string> texts;
    for (unsigned seed = 1; seed <= kTextsPerWorkload; ++seed)
        texts.push_back(make_text(bytes, every, seed));
    TokenVault vault;
    MaskStats stats;
    TextMasker masker(*all_on(), "bench", vault, stats);
    std::vector<double> seconds;
    for (int r = 0; r < rounds; ++r) {
        std::string copy = texts[static_cast<std::size_t>(r) % texts.size()];
        const double start = thread_seconds();
        if (!masker.mask(copy, Direction::request)) std::abort();
        seconds.push_back(thread_seconds() - start);
    }
    found = 0;
    for (auto n : stats.counts[0]) found += n;
    found /= static_cast<std::size_t>(rounds);
    std::sort(seconds.begin(), seconds.end());
    return static_cast<double>(bytes) / seconds[seconds.size() / 2] / 1e6;
}

struct DeltaCost {
    double mean_us, p50_us, p99_us;
    std::size_t deltas;
};

// Feeds one SSE event per delta (5-50 bytes of text each), timing each feed().
DeltaCost per_delta(bool responses, std::size_t ndeltas) {
    const std::string text = make_text(ndeltas * 28, 300, 7);
    std::mt19937 rng(11);
    std::vector<std::string> events;
    std::size_t pos = 0;
    int seq = 0;
    while (pos < text.size() && events.size() < ndeltas) {
        const std::size_t n = std::min<std::size_t>(5 + rng() % 46, text.size() - pos);
        nlohmann::json data;
        if (responses) {
            data = {{"type", "response.output_text.delta"},
                    {"sequence_number", seq++},
                    {"item_id", "msg_67c9fdcecf488190bdd9a0409de3a1ec07b8b0ad4e5eb654"},
                    {"output_index", 0},
                    {"content_index", 0},
                    {"delta", text.substr(pos, n)},
                    {"logprobs", nlohmann::json::array()}};
            events.push_back("event: response.output_text.delta\ndata: " + data.dump() + "\n\n");
        } else {
            data = {{"id", "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT"},
                    {"object", "chat.completion.chunk"},
                    {"created", 1741569952},
                    {"model", "gpt-4.1-2025-04-14"},
                    {"service_tier", "default"},
                    {"system_fingerprint", "fp_1234567890"},
                    {"choices",
                     {{{"index", 0},
                       {"delta", {{"content", text.substr(pos, n)}}},
                       {"logprobs", nullptr},
                       {"finish_reason", nullptr}}}}};
            events.push_back("data: " + data.dump() + "\n\n");
        }
        pos += n;
    }
    MaskingSession session(all_on(), "bench");
    auto masker = session.make_stream_masker(responses ? "/v1/responses" : "/v1/chat/completions");
    std::vector<double> us;
    std::string out;
    for (const auto& event : events) {
        out.clear();
        const auto start = Clock::now();
        if (!masker->feed(event, out)) std::abort();
        us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    }
    double sum = 0;
    for (double v : us) sum += v;
    std::vector<double> sorted = us;
    std::sort(sorted.begin(), sorted.end());
    return {sum / static_cast<double>(us.size()), sorted[sorted.size() / 2],
            sorted[sorted.size() * 99 / 100], us.size()};
}

double json_mb_per_s(std::size_t every, int rounds) {
    // A 64 KiB chat request: 16 messages of 4 KiB.
    nlohmann::json body = {{"model", "gpt-4o"}, {"messages", nlohmann::json::array()}};
    for (int i = 0; i < 16; ++i)
        body["messages"].push_back(
            {{"role", i % 2 ? "assistant" : "user"}, {"content", make_text(4096, every, 100 + i)}});
    const std::string raw = body.dump();
    std::vector<double> seconds;
    for (int r = 0; r < rounds; ++r) {
        MaskingSession session(all_on(), "bench");
        std::string copy = raw;
        const double start = thread_seconds();
        if (session.mask_request(copy, "/v1/chat/completions") == BodyStatus::failed) std::abort();
        seconds.push_back(thread_seconds() - start);
    }
    std::sort(seconds.begin(), seconds.end());
    return static_cast<double>(raw.size()) / seconds[seconds.size() / 2] / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
    int rounds = 48;
    std::size_t deltas = 20000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--rounds")) rounds = std::atoi(argv[i + 1]);
        if (!std::strcmp(argv[i], "--deltas"))
            deltas = static_cast<std::size_t>(std::atoll(argv[i + 1]));
    }
    // How fast this CPU is right now, for comparing runs: the vCPUs of a shared VM need not
    // be equal (on the development VM one runs a plain loop ~1.4x slower than the other).
    const double loop_start = thread_seconds();
    volatile uint64_t sink = 0;
    for (uint64_t i = 0; i < 200'000'000; ++i) sink = sink + i * i;
    std::printf("Reference loop (2e8 multiply-adds) on this CPU: %.0f ms of thread CPU.\n\n",
                (thread_seconds() - loop_start) * 1e3);
    const std::size_t mb = 1 << 20;
    struct Row {
        const char* name;
        std::size_t every;
    };
    const Row rows[] = {{"clean prose (no PII)", 0},
                        {"PII every ~1.5 KB (T10 workload)", 1536},
                        {"PII-dense: an entity every ~150 B", 150}};
    std::printf(
        "| workload (1 MiB, all 14 recognizers on, redact) | entities masked | MB/s per core "
        "(thread CPU) |\n");
    std::printf("|---|---:|---:|\n");
    for (const auto& row : rows) {
        std::size_t found = 0;
        const double rate = text_mb_per_s(mb, row.every, rounds, found);
        std::printf("| %s | %zu | %.0f |\n", row.name, found, rate);
    }
    std::printf(
        "\n| JSON request body (64 KiB chat request: validating scan, mask, splice) | MB/s per "
        "core (thread "
        "CPU) |\n|---|---:|\n");
    std::printf("| clean | %.0f |\n", json_mb_per_s(0, rounds));
    std::printf("| PII every ~150 B | %.0f |\n", json_mb_per_s(150, rounds));
    std::printf(
        "\n| stream (one SSE event per 5-50 B delta, PII every ~300 B) | deltas | mean µs | p50 µs "
        "| p99 µs |\n");
    std::printf("|---|---:|---:|---:|---:|\n");
    for (bool responses : {false, true}) {
        const auto cost = per_delta(responses, deltas);
        std::printf("| %s | %zu | %.2f | %.2f | %.2f |\n",
                    responses ? "Responses `response.output_text.delta`" : "Chat Completions chunk",
                    cost.deltas, cost.mean_us, cost.p50_us, cost.p99_us);
    }
    return 0;
}
