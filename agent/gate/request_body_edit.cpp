#include "agent/gate/request_body_edit.h"

#include <algorithm>
#include <string>

#include "policy/api_endpoint.h"
#include "policy/ascii_case.h"

namespace sluice {

namespace {

// Without regard to case, as policy reads the caps (policy/output_bound.h): an upstream may
// route "/V1/Chat/Completions" as the lower-case path.
std::string endpoint_of(std::string_view target) { return ascii_lower(api_endpoint(target)); }

void cap_field(nlohmann::json& body, const char* field, int64_t limit) {
    auto it = body.find(field);
    if (it == body.end() || !it->is_number_integer()) {
        body[field] = limit;
        return;
    }
    // An unsigned value past INT64_MAX must not be read as a negative cap and kept.
    const bool over = it->is_number_unsigned()
                          ? it->get<uint64_t>() > static_cast<uint64_t>(std::max<int64_t>(0, limit))
                          : it->get<int64_t>() > limit;
    if (over) body[field] = limit;
}

}  // namespace

bool set_max_output_tokens(nlohmann::json& body, std::string_view target, int64_t limit) {
    if (!body.is_object()) return false;
    const nlohmann::json before = body;
    const std::string endpoint = endpoint_of(target);
    if (endpoint == "/v1/chat/completions") {
        const bool has_new = body.contains("max_completion_tokens");
        const bool has_old = body.contains("max_tokens");
        if (has_old) cap_field(body, "max_tokens", limit);
        if (has_new || !has_old) cap_field(body, "max_completion_tokens", limit);
    } else if (endpoint == "/v1/responses") {
        cap_field(body, "max_output_tokens", limit);
    } else if (endpoint == "/v1/completions") {
        cap_field(body, "max_tokens", limit);
    } else {
        return false;
    }
    return body != before;
}

bool request_stream_usage(nlohmann::json& body, std::string_view target) {
    if (!body.is_object() || endpoint_of(target) != "/v1/chat/completions") return false;
    auto stream = body.find("stream");
    if (stream == body.end() || !stream->is_boolean() || !stream->get<bool>()) return false;
    auto& options = body["stream_options"];
    if (!options.is_object()) options = nlohmann::json::object();
    auto include = options.find("include_usage");
    if (include != options.end() && include->is_boolean() && include->get<bool>()) return false;
    options["include_usage"] = true;
    return true;
}

}  // namespace sluice
