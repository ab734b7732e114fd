#include "policy/request_summary.h"

#include <array>
#include <optional>

#include <nlohmann/json.hpp>

#include "policy/json_scan.h"

namespace sluice {

RequestSummary summarize_request(const JsonView& body) {
    RequestSummary summary;
    const JsonView::Index root = body.root();
    if (!body.is(root, JsonKind::object)) return summary;
    summary.json_ok = true;
    if (const auto model = body.member(root, "model"); body.is(model, JsonKind::string))
        summary.model = body.string(model);
    if (const auto stream = body.member(root, "stream"); body.is(stream, JsonKind::boolean))
        summary.stream = body.bytes(stream) == "true";
    for (const std::string_view key :
         {"max_completion_tokens", "max_output_tokens", "max_tokens"}) {
        const auto cap = body.member(root, key);
        if (!body.is(cap, JsonKind::number)) continue;
        if (const JsonNumber number = body.number(cap); number.is_integer()) {
            summary.max_output_tokens = number.type == JsonNumber::Type::signed_integer
                                            ? number.integer
                                            : static_cast<long long>(number.unsigned_integer);
            break;
        }
    }
    return summary;
}

namespace {

// The texts the scan below cannot read byte for byte, read through a view.
RequestSummary summarize_request_view(std::string_view body) {
    JsonView view;
    if (read_json_view(body, view)) return summarize_request(view);
    // Only without a policy, and only for a body the scan refuses but a parse reads: nested
    // deeper than kJsonMaxDepth, or after a byte order mark. The audit has always named such a
    // body's model, so a tree reads it; with a policy in force the body is refused.
    const auto tree = nlohmann::json::parse(body, nullptr, false);
    if (!tree.is_object()) return {};
    JsonView top;  // the top-level members alone, written again shallow
    nlohmann::json shallow = nlohmann::json::object();
    for (const char* key :
         {"model", "stream", "max_completion_tokens", "max_output_tokens", "max_tokens"})
        if (const auto it = tree.find(key); it != tree.end() && it->is_primitive())
            shallow[key] = *it;
    const std::string text = shallow.dump();
    if (!read_json_view(text, top)) return {};
    return summarize_request(top);
}

}  // namespace

RequestSummary summarize_request_body(std::string_view body) {
    // A validating scan reads the few top-level members without keeping a view; texts it
    // cannot read byte for byte (escaped keys) take the view.
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
    if (!valid || escaped_key) return summarize_request_view(body);
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
            // An integer past int64 is still an integer: read it the way the view does.
            return summarize_request_view(body);
        }
    }
    return summary;
}

}  // namespace sluice
