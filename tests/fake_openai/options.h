// Command line of fake-openai, parsed in one place into one struct.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sluice::fake_openai {

struct ListenAddress {
    std::string host;  // numeric IPv4 or IPv6 (without brackets)
    std::uint16_t port = 0;
};

struct FakeOpenAiOptions {
    std::vector<ListenAddress> listen;
    std::string cert_file;
    std::string key_file;
    bool plain = false;  // no TLS
    std::string record_file;
    std::string expected_api_key;
    unsigned latency_ms = 0;
    unsigned event_gap_ms = 0;
    unsigned fail_status = 0;
    bool bill_to_cap = false;
    std::string answer_suffix;
    std::optional<unsigned> reset_after_events;
    unsigned threads = 0;  // 0: one per core
    bool verbose = false;
    bool help = false;
};

// Throws std::invalid_argument with one line naming the bad option.
[[nodiscard]] FakeOpenAiOptions parse_options(int argc, char** argv);
[[nodiscard]] const char* usage_text();

}  // namespace sluice::fake_openai
