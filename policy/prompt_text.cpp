#include "policy/prompt_text.h"

#include "policy/api_endpoint.h"

namespace sluice {

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

int64_t estimate_prompt_tokens(const std::vector<std::string>& texts) {
    constexpr int64_t kTokensPerText = 4;
    int64_t tokens = 0;
    for (const auto& text : texts)
        tokens += (static_cast<int64_t>(text.size()) + kBytesPerToken - 1) / kBytesPerToken +
                  kTokensPerText;
    return tokens;
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

}  // namespace sluice
