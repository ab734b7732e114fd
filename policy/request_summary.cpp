#include "policy/request_summary.h"

#include <array>
#include <optional>

#include "policy/json_scan.h"

namespace sluice {

RequestSummary summarize_request(const nlohmann::json& body) {
    RequestSummary summary;
    if (!body.is_object()) return summary;
    summary.json_ok = true;
    if (auto it = body.find("model"); it != body.end() && it->is_string()) summary.model = *it;
    if (auto it = body.find("stream"); it != body.end() && it->is_boolean()) summary.stream = *it;
    for (const char* key : {"max_completion_tokens", "max_output_tokens", "max_tokens"}) {
        if (auto it = body.find(key); it != body.end() && it->is_number_integer()) {
            summary.max_output_tokens = it->get<long long>();
            break;
        }
    }
    return summary;
}

RequestSummary summarize_request_body(std::string_view body) {
    // A validating scan reads the few top-level members without building a tree; texts it
    // cannot read byte for byte (escaped keys, not one JSON object) take the parse.
    RequestSummary summary;
    std::optional<std::string_view> model, stream;
    std::array<std::optional<std::string_view>, 3> caps;  // in kCapKeys order; last one counts
    static constexpr std::array<std::string_view, 3> kCapKeys = {"max_completion_tokens",
                                                                 "max_output_tokens", "max_tokens"};
    bool top_object = false, escaped_key = false;
    const bool valid = scan_json(body, kJsonMaxDepth, [&](const JsonValue& v) {
        if (v.depth == 0) top_object = v.kind == JsonKind::object;
        if (v.depth != 1) return;
        escaped_key |= v.path[0].key_escaped;
        const std::string_view key = v.path[0].key;
        const auto bytes = body.substr(v.begin, v.end - v.begin);
        if (key == "model")
            model = v.kind == JsonKind::string ? std::optional(bytes) : std::nullopt;
        if (key == "stream")
            stream = v.kind == JsonKind::boolean ? std::optional(bytes) : std::nullopt;
        for (std::size_t i = 0; i < kCapKeys.size(); ++i)
            if (key == kCapKeys[i])
                caps[i] = v.kind == JsonKind::number ? std::optional(bytes) : std::nullopt;
    });
    if (!valid || escaped_key) {
        auto parsed = nlohmann::json::parse(body, nullptr, false);
        if (parsed.is_discarded()) return {};
        return summarize_request(parsed);
    }
    if (!top_object) return summary;
    summary.json_ok = true;
    if (model) summary.model = decode_json_string(*model);
    summary.stream = stream == "true";
    for (const auto& cap : caps) {
        if (!cap) continue;
        if (const auto value = json_int64(*cap)) {
            summary.max_output_tokens = *value;
            break;
        }
        if (cap->find_first_of(".eE") == std::string_view::npos) {
            // An integer past int64 is one to nlohmann too: read it the way the parse does.
            return summarize_request(nlohmann::json::parse(body));
        }
    }
    return summary;
}

}  // namespace sluice
