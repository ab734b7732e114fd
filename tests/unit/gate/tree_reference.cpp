// The policy's facts and the gate's body edits as they were read from a parsed tree
// (nlohmann::json) before the gate read them from the strict reading's view
// (policy/json_view.h). Kept here, verbatim, as the reference the view-based readers are
// differentially tested against; nothing in sluiced uses it.
#include "tests/unit/gate/tree_reference.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "policy/api_endpoint.h"
#include "policy/ascii_case.h"

namespace sluice::tree_reference {

namespace {

using nlohmann::json;

constexpr int64_t kBytesPerToken = 3;

void add_string(const json& value, std::vector<std::string>& out) {
    if (value.is_string()) out.push_back(value.get<std::string>());
}

// Every string in a value, recursively (for unknown shapes).
void add_all_strings(const json& value, std::vector<std::string>& out, bool skip_model_key) {
    if (value.is_string()) {
        out.push_back(value.get<std::string>());
    } else if (value.is_array()) {
        for (const auto& item : value) add_all_strings(item, out, false);
    } else if (value.is_object()) {
        for (const auto& [key, item] : value.items()) {
            if (skip_model_key && key == "model") continue;
            add_all_strings(item, out, false);
        }
    }
}

// A content value: a string, or an array of parts whose text lives in `text` (chat "text",
// Responses "input_text"/"output_text") or, for refusals, `refusal`.
void add_content(const json& content, std::vector<std::string>& out) {
    if (content.is_string()) {
        out.push_back(content.get<std::string>());
        return;
    }
    if (!content.is_array()) return;
    for (const auto& part : content) {
        if (part.is_string()) {
            out.push_back(part.get<std::string>());
        } else if (part.is_object()) {
            if (auto it = part.find("text"); it != part.end()) add_string(*it, out);
            if (auto it = part.find("refusal"); it != part.end()) add_string(*it, out);
        }
    }
}

void add_chat_messages(const json& body, std::vector<std::string>& out) {
    auto messages = body.find("messages");
    if (messages == body.end() || !messages->is_array()) return;
    for (const auto& message : *messages) {
        if (!message.is_object()) continue;
        if (auto it = message.find("content"); it != message.end()) add_content(*it, out);
        if (auto calls = message.find("tool_calls"); calls != message.end() && calls->is_array()) {
            for (const auto& call : *calls) {
                if (!call.is_object()) continue;
                if (auto fn = call.find("function"); fn != call.end() && fn->is_object())
                    if (auto args = fn->find("arguments"); args != fn->end())
                        add_string(*args, out);
            }
        }
        if (auto fn = message.find("function_call"); fn != message.end() && fn->is_object())
            if (auto args = fn->find("arguments"); args != fn->end()) add_string(*args, out);
    }
}

void add_responses_input(const json& body, std::vector<std::string>& out) {
    if (auto it = body.find("instructions"); it != body.end()) add_string(*it, out);
    auto input = body.find("input");
    if (input == body.end()) return;
    if (input->is_string()) {
        out.push_back(input->get<std::string>());
        return;
    }
    if (!input->is_array()) return;
    for (const auto& item : *input) {
        if (item.is_string()) {
            out.push_back(item.get<std::string>());
            continue;
        }
        if (!item.is_object()) continue;
        if (auto it = item.find("content"); it != item.end()) add_content(*it, out);
        // function_call_output / custom_tool_call_output / computer_call_output carry `output`.
        if (auto it = item.find("output"); it != item.end()) add_content(*it, out);
        if (auto it = item.find("arguments"); it != item.end()) add_string(*it, out);
        if (auto it = item.find("input"); it != item.end())
            add_string(*it, out);  // custom tool call
    }
}

// `input` of embeddings and moderations, `prompt` of completions: a string or strings (token
// arrays are numbers and carry no scannable text).
void add_string_or_strings(const json& body, const char* key, std::vector<std::string>& out) {
    auto it = body.find(key);
    if (it == body.end()) return;
    if (it->is_string()) {
        out.push_back(it->get<std::string>());
    } else if (it->is_array()) {
        for (const auto& item : *it) {
            if (item.is_string())
                out.push_back(item.get<std::string>());
            else if (item.is_object())  // moderations multi-modal: {"type":"text","text":...}
                add_content(json::array({item}), out);
        }
    }
}

}  // namespace

std::vector<std::string> extract_prompt_texts(const nlohmann::json& body, std::string_view path) {
    std::vector<std::string> out;
    if (!body.is_object()) return out;
    auto endpoint = api_endpoint(path);
    if (endpoint == "/v1/chat/completions") {
        add_chat_messages(body, out);
    } else if (endpoint == "/v1/responses") {
        add_responses_input(body, out);
    } else if (endpoint == "/v1/embeddings" || endpoint == "/v1/moderations") {
        add_string_or_strings(body, "input", out);
    } else if (endpoint == "/v1/completions") {
        add_string_or_strings(body, "prompt", out);
        add_string_or_strings(body, "suffix", out);
    } else {
        add_all_strings(body, out, true);
    }
    return out;
}

namespace {

constexpr int64_t kImageTokensLow = 85;
constexpr int64_t kImageTokensHigh = 1536;
constexpr int64_t kMiniImageMultiplier = 33;

int64_t json_text_tokens(const json& value) {
    return (static_cast<int64_t>(value.dump().size()) + kBytesPerToken - 1) / kBytesPerToken;
}

// Image parts anywhere in the conversation: chat `image_url` parts, Responses `input_image`.
int64_t image_tokens(const json& value, int64_t multiplier) {
    int64_t tokens = 0;
    if (value.is_array()) {
        for (const auto& item : value) tokens += image_tokens(item, multiplier);
    } else if (value.is_object()) {
        const auto type = value.find("type");
        if (type != value.end() && (*type == "image_url" || *type == "input_image")) {
            const json* detail = &value;
            if (auto inner = value.find("image_url"); inner != value.end() && inner->is_object())
                detail = &*inner;
            const auto d = detail->find("detail");
            const bool low = d != detail->end() && *d == "low";
            return (low ? kImageTokensLow : kImageTokensHigh) * multiplier;
        }
        for (const auto& [key, item] : value.items()) tokens += image_tokens(item, multiplier);
    }
    return tokens;
}

}  // namespace

int64_t estimate_attachment_tokens(const nlohmann::json& body, std::string_view path) {
    if (!body.is_object()) return 0;
    const auto endpoint = api_endpoint(path);
    const bool chat = endpoint == "/v1/chat/completions";
    if (!chat && endpoint != "/v1/responses") return 0;
    int64_t tokens = 0;
    for (const char* key : {"tools", "functions"})
        if (auto it = body.find(key); it != body.end()) tokens += json_text_tokens(*it);
    if (auto it = body.find("response_format"); chat && it != body.end())
        tokens += json_text_tokens(*it);
    if (auto it = body.find("text"); !chat && it != body.end() && it->is_object())
        if (auto format = it->find("format"); format != it->end())
            tokens += json_text_tokens(*format);
    const auto model = body.find("model");
    const bool mini = model != body.end() && model->is_string() &&
                      model->get_ref<const std::string&>().starts_with("gpt-4o-mini");
    if (auto it = body.find(chat ? "messages" : "input"); it != body.end())
        tokens += image_tokens(*it, mini ? kMiniImageMultiplier : 1);
    return tokens;
}

namespace output_bound_detail {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

enum class Endpoint { chat, completions, responses, other };

// Query and trailing '/' ignored, case too: an upstream may route "/V1/Chat/Completions" as
// the lower-case path, so its caps must be read the same way.
Endpoint endpoint_of(std::string_view path) {
    const std::string lower = ascii_lower(api_endpoint(path));
    if (lower == "/v1/chat/completions") return Endpoint::chat;
    if (lower == "/v1/completions") return Endpoint::completions;
    if (lower == "/v1/responses") return Endpoint::responses;
    return Endpoint::other;
}

// A whole number as a provider reads it: an integer, or a float with no fraction (10.0).
// nullopt for anything else; `absent` when the member is missing or null (the default).
struct WholeNumber {
    bool absent = true;
    std::optional<int64_t> value;
};

WholeNumber whole_number(const nlohmann::json& body, const char* key) {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) return {};
    if (it->is_number_unsigned()) {
        const auto v = it->get<uint64_t>();
        return {false, v > static_cast<uint64_t>(kMax) ? kMax : static_cast<int64_t>(v)};
    }
    if (it->is_number_integer()) return {false, it->get<int64_t>()};
    if (it->is_number_float()) {
        const double v = it->get<double>();
        if (!std::isfinite(v) || v != std::floor(v)) return {false, std::nullopt};
        if (v >= 9.2e18) return {false, kMax};
        if (v <= -9.2e18) return {false, -kMax};
        return {false, static_cast<int64_t>(v)};
    }
    return {false, std::nullopt};
}

bool asks_for_audio(const nlohmann::json& body) {
    if (auto it = body.find("audio"); it != body.end() && !it->is_null()) return true;
    auto modalities = body.find("modalities");
    if (modalities == body.end() || !modalities->is_array()) return false;
    for (const auto& m : *modalities)
        if (m.is_string() && m.get_ref<const std::string&>() == "audio") return true;
    return false;
}

}  // namespace output_bound_detail
using namespace output_bound_detail;

OutputBound read_output_bound(const nlohmann::json& body, std::string_view path) {
    OutputBound bound;
    if (!body.is_object()) return bound;
    const Endpoint endpoint = endpoint_of(path);
    std::array<const char*, 2> caps{};
    switch (endpoint) {
        case Endpoint::chat:
            caps = {"max_completion_tokens", "max_tokens"};
            break;
        case Endpoint::completions:
            caps = {"max_tokens", nullptr};
            break;
        case Endpoint::responses:
            caps = {"max_output_tokens", nullptr};
            break;
        case Endpoint::other:
            break;
    }
    bound.cap_writable = endpoint != Endpoint::other;
    for (const char* key : caps) {
        if (!key) continue;
        const WholeNumber cap = whole_number(body, key);
        if (cap.absent) continue;
        if (!cap.value) {
            bound.unbounded = std::string(key) + " is not a whole number";
            continue;
        }
        // A negative cap is refused upstream; it must not lower a reservation meanwhile.
        const int64_t tokens = std::max<int64_t>(0, *cap.value);
        bound.cap = bound.cap ? std::max(*bound.cap, tokens) : tokens;
    }
    if (endpoint == Endpoint::chat && body.contains("reasoning_effort") &&
        !body["reasoning_effort"].is_null() && bound.cap &&
        whole_number(body, "max_completion_tokens").absent)
        bound.unbounded = "max_tokens does not bound reasoning tokens (max_completion_tokens does)";

    for (const char* key : {"n", "best_of"}) {
        if (key == std::string_view("best_of") && endpoint != Endpoint::completions) continue;
        const WholeNumber count = whole_number(body, key);
        if (count.absent) continue;
        if (!count.value) {
            bound.unbounded = std::string(key) + " is not a whole number";
            continue;
        }
        bound.outputs = std::max(bound.outputs, *count.value);
    }
    if (endpoint == Endpoint::chat && asks_for_audio(body))
        bound.outputs = saturating_multiply(bound.outputs, 2);
    return bound;
}

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

namespace {

// Without regard to case, as policy reads the caps.
std::string edit_endpoint_of(std::string_view target) { return ascii_lower(api_endpoint(target)); }

void cap_field(const nlohmann::json& body, const char* field, int64_t limit,
               std::vector<MemberEdit>& edits) {
    auto it = body.find(field);
    bool over = true;  // absent or not an integer: set
    if (it != body.end() && it->is_number_integer()) {
        // An unsigned value past INT64_MAX must not be read as a negative cap and kept.
        over = it->is_number_unsigned()
                   ? it->get<uint64_t>() > static_cast<uint64_t>(std::max<int64_t>(0, limit))
                   : it->get<int64_t>() > limit;
    }
    // A value equal to the cap (4096.0 for 4096) is left as it is.
    if (over && (it == body.end() || *it != nlohmann::json(limit)))
        edits.push_back({field, "", limit});
}

}  // namespace

void plan_output_cap(const nlohmann::json& body, std::string_view target, int64_t limit,
                     std::vector<MemberEdit>& edits) {
    if (!body.is_object()) return;
    const std::string endpoint = edit_endpoint_of(target);
    if (endpoint == "/v1/chat/completions") {
        const bool has_new = body.contains("max_completion_tokens");
        const bool has_old = body.contains("max_tokens");
        if (has_old) cap_field(body, "max_tokens", limit, edits);
        if (has_new || !has_old) cap_field(body, "max_completion_tokens", limit, edits);
    } else if (endpoint == "/v1/responses") {
        cap_field(body, "max_output_tokens", limit, edits);
    } else if (endpoint == "/v1/completions") {
        cap_field(body, "max_tokens", limit, edits);
    }
}

void plan_stream_usage(const nlohmann::json& body, std::string_view target,
                       std::vector<MemberEdit>& edits) {
    if (!body.is_object() || edit_endpoint_of(target) != "/v1/chat/completions") return;
    auto stream = body.find("stream");
    if (stream == body.end() || !stream->is_boolean() || !stream->get<bool>()) return;
    auto options = body.find("stream_options");
    if (options == body.end() || !options->is_object()) {
        edits.push_back({"stream_options", "", {{"include_usage", true}}});
        return;
    }
    auto include = options->find("include_usage");
    if (include != options->end() && include->is_boolean() && include->get<bool>()) return;
    edits.push_back({"stream_options", "include_usage", true});
}

void apply_member_edits(nlohmann::json& body, const std::vector<MemberEdit>& edits) {
    for (const auto& edit : edits) {
        if (edit.inner.empty())
            body[edit.member] = edit.value;
        else
            body[edit.member][edit.inner] = edit.value;
    }
}

}  // namespace sluice::tree_reference
