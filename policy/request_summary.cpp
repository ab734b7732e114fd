#include "policy/request_summary.h"

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
    auto parsed = nlohmann::json::parse(body, nullptr, false);
    if (parsed.is_discarded()) return {};
    return summarize_request(parsed);
}

}  // namespace sluice
