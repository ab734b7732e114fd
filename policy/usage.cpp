#include "policy/usage.h"

#include <cctype>

namespace sluice {

namespace {

// True when `text` has "usage" followed by an object, so the common `"usage":null` chunks
// and usage-free deltas skip the JSON parse.
bool mentions_usage_object(std::string_view text) {
    constexpr std::string_view kKey = "\"usage\"";
    for (auto pos = text.find(kKey); pos != std::string_view::npos; pos = text.find(kKey, pos + 1)) {
        auto i = pos + kKey.size();
        while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
        if (i >= text.size() || text[i] != ':') continue;
        ++i;
        while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
        if (i < text.size() && text[i] == '{') return true;
    }
    return false;
}

std::optional<nlohmann::json> usage_member(const nlohmann::json& object) {
    if (!object.is_object()) return std::nullopt;
    auto it = object.find("usage");
    if (it == object.end() || !it->is_object()) return std::nullopt;
    return *it;
}

}  // namespace

std::optional<nlohmann::json> usage_from_body(std::string_view body) {
    if (!mentions_usage_object(body)) return std::nullopt;
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
    auto parsed = nlohmann::json::parse(event.data, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object()) return;
    // Responses API: response.completed (and .incomplete/.failed) carry the whole response.
    if (auto response = parsed.find("response"); response != parsed.end()) {
        if (auto usage = usage_member(*response)) usage_ = std::move(usage);
        if (event.event == "response.completed" || parsed.value("type", "") == "response.completed")
            saw_done_ = true;
        return;
    }
    if (auto usage = usage_member(parsed)) usage_ = std::move(usage);
}

}  // namespace sluice
