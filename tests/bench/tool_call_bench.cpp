// Tool-call control cost (scripts/bench tools): what the filter adds to a streamed answer —
// the time to first byte (the first event, through the filter) and the cost per event, for a
// Chat Completions and a Responses stream that carry text deltas and a tool call whose
// arguments arrive in many deltas. Off is no filter at all (the relay passes bytes), so the
// numbers are the added cost. Wall-clock medians over rounds; prints a markdown table.
//   tool-call-bench [--rounds N] [--deltas N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "policy/policy_loader.h"
#include "policy/tool_calls/tool_call_stream.h"

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

const char* kPolicy = R"(default: allow
rules:
  - name: agents
    match: {}
    tool_calls:
      - tools: [run_shell]
        arguments: {patterns: ['rm\s+-rf', 'mkfs', 'dd\s+if=']}
        action: deny
      - tools: [run_shell]
        where: {"$.command": '^sudo\b'}
        action: deny
)";

std::vector<std::string> chat_events(int deltas) {
    auto chunk = [](json delta, json finish) {
        return "data: " +
               json{{"id", "chatcmpl-1"},
                    {"object", "chat.completion.chunk"},
                    {"model", "gpt-4o-mini"},
                    {"choices",
                     json::array({{{"index", 0}, {"delta", delta}, {"finish_reason", finish}}})}}
                   .dump() +
               "\n\n";
    };
    std::vector<std::string> out;
    for (int i = 0; i < deltas; ++i) out.push_back(chunk({{"content", "word "}}, nullptr));
    out.push_back(chunk(
        {{"tool_calls", json::array({{{"index", 0},
                                      {"id", "call_1"},
                                      {"type", "function"},
                                      {"function", {{"name", "run_shell"}, {"arguments", ""}}}}})}},
        nullptr));
    out.push_back(
        chunk({{"tool_calls",
                json::array({{{"index", 0}, {"function", {{"arguments", "{\"command\":\""}}}}})}},
              nullptr));
    for (int i = 0; i < deltas; ++i)
        out.push_back(chunk(
            {{"tool_calls", json::array({{{"index", 0}, {"function", {{"arguments", "ls "}}}}})}},
            nullptr));
    out.push_back(
        chunk({{"tool_calls", json::array({{{"index", 0}, {"function", {{"arguments", "\"}"}}}}})}},
              nullptr));
    out.push_back(chunk(json::object(), "tool_calls"));
    out.push_back("data: [DONE]\n\n");
    return out;
}

std::vector<std::string> responses_events(int deltas) {
    int seq = 0;
    auto ev = [&](const std::string& type, json body) {
        body["type"] = type;
        body["sequence_number"] = seq++;
        return "event: " + type + "\ndata: " + body.dump() + "\n\n";
    };
    std::vector<std::string> out;
    out.push_back(ev("response.created", {{"response", {{"id", "r"}, {"output", json::array()}}}}));
    for (int i = 0; i < deltas; ++i)
        out.push_back(ev(
            "response.output_text.delta",
            {{"item_id", "msg_1"}, {"output_index", 0}, {"content_index", 0}, {"delta", "word "}}));
    std::string args = "{\"command\":\"";
    auto item = [&](const std::string& status, const std::string& a) {
        return json{{"type", "function_call"}, {"id", "fc_1"},   {"call_id", "c"},
                    {"name", "run_shell"},     {"arguments", a}, {"status", status}};
    };
    out.push_back(
        ev("response.output_item.added", {{"output_index", 1}, {"item", item("in_progress", "")}}));
    out.push_back(ev("response.function_call_arguments.delta",
                     {{"item_id", "fc_1"}, {"output_index", 1}, {"delta", args}}));
    for (int i = 0; i < deltas; ++i) {
        out.push_back(ev("response.function_call_arguments.delta",
                         {{"item_id", "fc_1"}, {"output_index", 1}, {"delta", "ls "}}));
        args += "ls ";
    }
    args += "\"}";
    out.push_back(ev("response.function_call_arguments.delta",
                     {{"item_id", "fc_1"}, {"output_index", 1}, {"delta", "\"}"}}));
    out.push_back(
        ev("response.output_item.done", {{"output_index", 1}, {"item", item("completed", args)}}));
    out.push_back(
        ev("response.completed",
           {{"response", {{"id", "r"}, {"output", json::array({item("completed", args)})}}}}));
    return out;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

struct Result {
    double first_event_us;
    double per_event_us;
};

Result measure(const sluice::ToolCallControl& control, const char* path,
               const std::vector<std::string>& events, int rounds) {
    std::vector<double> first, per;
    for (int r = 0; r < rounds; ++r) {
        sluice::ToolCallStreamFilter filter(control, "agents", path);
        std::string out;
        const auto t0 = Clock::now();
        if (!filter.feed(events[0], out)) std::abort();
        const auto t1 = Clock::now();
        for (std::size_t i = 1; i < events.size(); ++i) {
            out.clear();
            if (!filter.feed(events[i], out)) std::abort();
        }
        if (!filter.finish(out)) std::abort();
        const auto t2 = Clock::now();
        first.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
        per.push_back(std::chrono::duration<double, std::micro>(t2 - t0).count() /
                      static_cast<double>(events.size()));
    }
    return {median(first), median(per)};
}

}  // namespace

int main(int argc, char** argv) {
    int rounds = 31, deltas = 500;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--rounds")) rounds = std::atoi(argv[i + 1]);
        if (!std::strcmp(argv[i], "--deltas")) deltas = std::atoi(argv[i + 1]);
    }
    auto loaded = sluice::load_policy(kPolicy, "bench.yaml");
    if (!loaded.ok()) {
        std::fprintf(stderr, "%s\n", loaded.error.c_str());
        return 1;
    }
    const auto& control = *loaded.policy->rules[0].tool_calls;
    std::printf(
        "| stream (%d text deltas, a call in %d argument deltas) | added first-event µs | added µs "
        "per event |\n",
        deltas, deltas);
    std::printf("|---|---|---|\n");
    const auto chat = measure(control, "/v1/chat/completions", chat_events(deltas), rounds);
    std::printf("| Chat Completions | %.2f | %.2f |\n", chat.first_event_us, chat.per_event_us);
    const auto responses = measure(control, "/v1/responses", responses_events(deltas), rounds);
    std::printf("| Responses | %.2f | %.2f |\n", responses.first_event_us, responses.per_event_us);
    return 0;
}
