#include "policy/usage.h"

#include <cctype>
#include <cstring>

#include "policy/json_scan.h"
#include "policy/plain_run.h"

namespace sluice {

namespace {

// True when `text` has "usage" followed by an object, so the common `"usage":null` chunks
// and usage-free deltas skip the scan. Searched from the end, quote by quote: an answer's usage
// follows its content, so only the few members after it are passed (a forward memmem read the
// whole content first).
bool mentions_usage_object(std::string_view text) {
    constexpr std::string_view kKey = "\"usage\"";
    for (std::size_t end = text.size(); end > 0;) {
        const void* quote = ::memrchr(text.data(), '"', end);
        if (quote == nullptr) return false;
        const auto close = static_cast<std::size_t>(static_cast<const char*>(quote) - text.data());
        end = close;
        if (close + 1 < kKey.size() || text.substr(close + 1 - kKey.size(), kKey.size()) != kKey)
            continue;
        auto i = close + 1;
        while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
        if (i >= text.size() || text[i] != ':') continue;
        ++i;
        while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
        if (i < text.size() && text[i] == '{') return true;
    }
    return false;
}

// Where the members a usage reader needs are in one JSON object, found by a validating scan
// instead of a parse: an answer body is mostly text no one reads here. Where a member repeats,
// the last one counts, as in nlohmann::json.
struct UsagePlaces {
    std::optional<std::string_view> usage;           // top-level "usage" object
    bool response = false;                           // a top-level "response" member
    std::optional<std::string_view> response_usage;  // "response"."usage" object
    std::optional<std::string_view> type;            // top-level "type" string literal
};

// nullopt when `text` is not one JSON object, or names a member the scan cannot compare
// byte for byte (an escaped key): the caller then parses it.
std::optional<UsagePlaces> find_usage(std::string_view text, bool& escaped_key) {
    UsagePlaces places;
    std::optional<std::string_view> pending;  // usage inside the "response" being read
    bool top_object = false;
    const bool valid = scan_json(text, kJsonMaxDepth, [&](const JsonValue& v) {
        const auto bytes = text.substr(v.begin, v.end - v.begin);
        if (v.depth == 0) {
            top_object = v.kind == JsonKind::object;
            return;
        }
        if (v.depth > 2) return;
        escaped_key |= v.path_key_escaped();
        const JsonStep& first = v.path[0];
        if (v.depth == 2) {
            if (first.is_member("response") && v.path[1].is_member("usage"))
                pending = v.kind == JsonKind::object ? std::optional(bytes) : std::nullopt;
            return;
        }
        if (first.is_member("usage"))
            places.usage = v.kind == JsonKind::object ? std::optional(bytes) : std::nullopt;
        if (first.is_member("type"))
            places.type = v.kind == JsonKind::string ? std::optional(bytes) : std::nullopt;
        if (first.is_member("response")) {
            places.response = true;
            places.response_usage = v.kind == JsonKind::object ? pending : std::nullopt;
            pending.reset();
        }
    });
    if (!valid || !top_object || escaped_key) return std::nullopt;
    return places;
}

std::optional<UsageObject> usage_member(const nlohmann::json& object) {
    if (!object.is_object()) return std::nullopt;
    auto it = object.find("usage");
    if (it == object.end() || !it->is_object()) return std::nullopt;
    return UsageObject{it->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
}

// `bytes`: one object the scan validated. Whitespace outside strings goes (strings cannot hold
// a raw line break, so the result is one line).
std::optional<UsageObject> compact_object(std::optional<std::string_view> bytes) {
    if (!bytes) return std::nullopt;
    const std::string_view text = *bytes;
    UsageObject usage;
    usage.json.resize(text.size());
    char* out = usage.json.data();
    bool in_string = false;
    for (std::size_t i = 0; i < text.size();) {
        // Whitespace (any byte up to ' '), quotes and backslashes need a decision; the rest is
        // copied.
        const std::size_t stop = plain_run_end<'!', true>(text, i);
        std::memcpy(out, text.data() + i, stop - i);
        out += stop - i;
        if (stop == text.size()) break;
        const char c = text[stop];
        if (c == '\\') {  // only inside a string: it and the escaped byte stay
            *out++ = c;
            if (stop + 1 < text.size()) *out++ = text[stop + 1];
            i = stop + 2;
            continue;
        }
        if (c == '"') in_string = !in_string;
        if (c == '"' || in_string) *out++ = c;
        i = stop + 1;
    }
    usage.json.resize(static_cast<std::size_t>(out - usage.json.data()));
    return usage;
}

}  // namespace

std::optional<UsageObject> usage_from_body(std::string_view body) {
    if (!mentions_usage_object(body)) return std::nullopt;
    bool escaped_key = false;
    if (auto places = find_usage(body, escaped_key)) return compact_object(places->usage);
    if (!escaped_key) return std::nullopt;
    auto parsed = nlohmann::json::parse(body, nullptr, false);
    if (parsed.is_discarded()) return std::nullopt;
    return usage_member(parsed);
}

void StreamUsageTracker::on_event(const SseEvent& event) {
    if (event.data == "[DONE]") {
        saw_done_ = true;
        return;
    }
    if (!mentions_usage_object(event.data)) return;
    bool escaped_key = false;
    const auto places = find_usage(event.data, escaped_key);
    if (!places) {
        if (escaped_key) on_parsed(event, nlohmann::json::parse(event.data, nullptr, false));
        return;
    }
    // Responses API: response.completed (and .incomplete/.failed) carry the whole response.
    if (places->response) {
        if (auto usage = compact_object(places->response_usage)) usage_ = std::move(usage);
        if (event.event == "response.completed" ||
            (places->type && decode_json_string(*places->type) == "response.completed"))
            saw_done_ = true;
        return;
    }
    if (auto usage = compact_object(places->usage)) usage_ = std::move(usage);
}

void StreamUsageTracker::on_parsed(const SseEvent& event, const nlohmann::json& parsed) {
    if (!parsed.is_object()) return;
    if (auto response = parsed.find("response"); response != parsed.end()) {
        if (auto usage = usage_member(*response)) usage_ = std::move(usage);
        auto type = parsed.find("type");
        if (event.event == "response.completed" ||
            (type != parsed.end() && type->is_string() && *type == "response.completed"))
            saw_done_ = true;
        return;
    }
    if (auto usage = usage_member(parsed)) usage_ = std::move(usage);
}

}  // namespace sluice
