// The tool-call stream filter: no crash, and whatever arrives and however it is cut, no call
// a client acts on — chat deltas put together by choice and call index, Responses done items
// and the completed output (what the SDKs run) — carries arguments the policy refuses
// ("rm -rf"); a failed stream ends with the error event.
#include <re2/re2.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "fuzz_support.h"
#include "policy/sse_parser.h"
#include "policy/tool_calls/tool_call_stream.h"

using namespace sluice;
using nlohmann::json;

namespace {

const ToolCallControl& control() {
    static const ToolCallControl c = [] {
        std::string error;
        ToolCallEntry entry;
        entry.arguments = PromptPatternSet::compile({{"rm", R"(rm\s+-rf)"}}, error);
        entry.action = ToolCallAction::deny;
        return ToolCallControl{{std::move(entry)}};
    }();
    return c;
}

bool refused(const std::string& arguments) {
    static const RE2 pattern(R"(rm\s+-rf)");
    return RE2::PartialMatch(arguments, pattern);
}

// Every call's arguments as a client assembles them from `out`.
std::vector<std::string> client_calls(const std::string& out) {
    std::map<std::pair<int64_t, int64_t>, std::string> pieces;
    std::vector<std::string> whole;
    auto add_item = [&](const json& item) {
        if (item.is_object() && item.contains("arguments") && item["arguments"].is_string())
            whole.push_back(item["arguments"]);
    };
    SseParser parser;
    parser.feed(out, [&](const SseEvent& e) {
        const json data = json::parse(e.data, nullptr, false);
        if (!data.is_object()) return;
        if (auto choices = data.find("choices"); choices != data.end() && choices->is_array()) {
            for (const auto& choice : *choices) {
                if (!choice.is_object() || !choice.contains("delta")) continue;
                const json& delta = choice["delta"];
                const int64_t c = choice.value("index", json(0)).is_number_integer()
                                      ? choice["index"].get<int64_t>()
                                      : 0;
                if (!delta.is_object() || !delta.contains("tool_calls") ||
                    !delta["tool_calls"].is_array())
                    continue;
                for (const auto& call : delta["tool_calls"]) {
                    if (!call.is_object() || !call.contains("function") ||
                        !call["function"].is_object())
                        continue;
                    const int64_t k = call.contains("index") && call["index"].is_number_integer()
                                          ? call["index"].get<int64_t>()
                                          : 0;
                    const json& a = call["function"].value("arguments", json(""));
                    if (a.is_string()) pieces[{c, k}] += a.get<std::string>();
                }
            }
        }
        if (data.contains("item")) add_item(data["item"]);
        if (data.contains("response") && data["response"].is_object() &&
            data["response"].contains("output") && data["response"]["output"].is_array())
            for (const auto& item : data["response"]["output"]) add_item(item);
    });
    for (auto& [key, text] : pieces) whole.push_back(std::move(text));
    return whole;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const std::size_t chunk = 1 + data[1] % 64;
    std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);
    ToolCallStreamFilter filter(control(), "fuzz",
                                (data[0] & 1) ? "/v1/responses" : "/v1/chat/completions");
    std::string out;
    bool ok = true;
    for (std::size_t i = 0; i < input.size() && ok; i += chunk)
        ok = filter.feed(input.substr(i, chunk), out);
    if (ok) ok = filter.finish(out);
    if (!ok) fuzz::require(out.find("tool_call_policy_failed") != std::string::npos);
    for (const auto& arguments : client_calls(out)) fuzz::require(!refused(arguments));
    return 0;
}
