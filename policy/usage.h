// Reads token usage from OpenAI responses: a JSON body, the final chunk of a Chat Completions
// stream (stream_options.include_usage), or `response.completed` of a Responses API stream.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "policy/sse_parser.h"

namespace sluice {

// A response's `usage` object, kept as its JSON text: the audit line copies it and only a token
// budget reads the numbers, so the common request never builds a tree for it
// (docs/benchmarks.md, keep-alive CPU). The text is what the upstream sent, validated, with the
// whitespace between tokens removed so that it fits on one audit line.
struct UsageObject {
    std::string json;

    nlohmann::json parsed() const { return nlohmann::json::parse(json); }
    bool operator==(const UsageObject&) const = default;
};

// The `usage` object of a non-streamed response body, if it is JSON and has one.
std::optional<UsageObject> usage_from_body(std::string_view body);

// Watches a stream's events and remembers the last usage seen.
class StreamUsageTracker {
public:
    void on_event(const SseEvent& event);
    const std::optional<UsageObject>& usage() const { return usage_; }
    bool saw_done() const { return saw_done_; }

private:
    // The same reading from a parsed event (events a byte-level scan cannot read).
    void on_parsed(const SseEvent& event, const nlohmann::json& parsed);

    std::optional<UsageObject> usage_;
    bool saw_done_ = false;
};

}  // namespace sluice
