#include "policy/masking/json_masker.h"

#include <vector>

#include "policy/api_endpoint.h"
#include "policy/masking/json_text_unescape.h"

namespace sluice::masking {

using nlohmann::json;

std::string_view to_string(BodyStatus status) {
    switch (status) {
        case BodyStatus::unchanged:
            return "unchanged";
        case BodyStatus::masked:
            return "masked";
        case BodyStatus::not_json:
            return "not_json";
        case BodyStatus::failed:
            return "failed";
    }
    return "unknown";
}

ApiShape api_shape(std::string_view path) {
    path = api_endpoint(path);
    auto under = [&](std::string_view prefix) {
        return path == prefix ||
               (path.size() > prefix.size() && path.substr(0, prefix.size()) == prefix &&
                path[prefix.size()] == '/');
    };
    if (under("/v1/chat/completions")) return ApiShape::chat;
    if (under("/v1/responses")) return ApiShape::responses;
    if (path == "/v1/embeddings") return ApiShape::embeddings;
    if (path == "/v1/completions") return ApiShape::completions;
    if (path == "/v1/moderations") return ApiShape::moderations;
    return ApiShape::other;
}

bool json_depth_within(std::string_view text, int max_depth) {
    int depth = 0;
    bool in_string = false;
    bool escaped = false;
    for (char c : text) {
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"')
            in_string = true;
        else if (c == '[' || c == '{') {
            if (++depth > max_depth) return false;
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    return true;
}

void JsonEdit::json_text(json& value) {
    if (!value.is_string() || failed) return;
    const auto& text = value.get_ref<const std::string&>();
    if (text.find('\\') == std::string::npos) return string(value);
    // Masked on the text the client will parse; written back only if something was masked, so
    // arguments with nothing to mask keep their spelling.
    json decoded = unescape_json_text(text);
    JsonEdit probe{masker, direction, restore};
    probe.string(decoded);
    if (probe.failed) {
        failed = true;
        return;
    }
    if (!probe.changed) return;
    value = std::move(decoded);
    changed = true;
}

void JsonEdit::drop_logprobs(json& value) {
    const bool empty =
        value.is_null() || ((value.is_array() || value.is_object()) && value.empty());
    if (empty) return;
    value = value.is_array() ? json::array() : json(nullptr);
    changed = true;
}

void JsonEdit::string(json& value) {
    if (!value.is_string() || failed) return;
    auto& text = value.get_ref<std::string&>();
    if (!masker.mask(text, direction, &changed)) {
        failed = true;
        return;
    }
    if (restore) {
        const std::size_t n = restore_placeholders(masker.vault(), text);
        masker.stats().restored += static_cast<uint32_t>(n);
        changed |= n > 0;
    }
}

namespace {

json* member(json& object, const char* key) {
    if (!object.is_object()) return nullptr;
    auto it = object.find(key);
    return it == object.end() ? nullptr : &*it;
}

void edit_key(json& object, const char* key, JsonEdit& edit) {
    if (auto* v = member(object, key)) edit.string(*v);
}

// A content value: a string, or parts whose text is in `text` (or `refusal`).
void edit_content(json& content, JsonEdit& edit) {
    if (content.is_string()) {
        edit.string(content);
        return;
    }
    if (!content.is_array()) return;
    for (auto& part : content) {
        if (part.is_string()) {
            edit.string(part);
        } else if (part.is_object()) {
            edit_key(part, "text", edit);
            edit_key(part, "refusal", edit);
        }
    }
}

// Responses input and output items share a shape: text parts in content/summary, tool
// arguments and outputs.
void edit_item(json& item, JsonEdit& edit) {
    if (item.is_string()) {
        edit.string(item);
        return;
    }
    if (!item.is_object()) return;
    if (auto* content = member(item, "content")) edit_content(*content, edit);
    if (auto* summary = member(item, "summary")) edit_content(*summary, edit);
    if (auto* output = member(item, "output")) edit_content(*output, edit);
    edit_key(item, "arguments", edit);
    edit_key(item, "input", edit);  // custom tool call input
}

void edit_all_strings(json& value, JsonEdit& edit) {
    if (value.is_string()) {
        edit.string(value);
    } else if (value.is_array()) {
        for (auto& item : value) edit_all_strings(item, edit);
    } else if (value.is_object()) {
        for (auto it = value.begin(); it != value.end(); ++it)
            if (!identifier_key(it.key())) edit_all_strings(it.value(), edit);
    }
}

// Every string an answer carries reaches the client: message text, refusals, audio
// transcripts, annotation titles and URLs, tool arguments (as the client will parse them),
// tool outputs, reasoning summaries, echoed instructions. Token logprobs spell the text out a
// token at a time and cannot be masked, so they are dropped, as in streams.
void edit_answer_strings(json& value, JsonEdit& edit) {
    if (value.is_string()) {
        edit.string(value);
    } else if (value.is_array()) {
        for (auto& item : value) edit_answer_strings(item, edit);
    } else if (value.is_object()) {
        for (auto it = value.begin(); it != value.end(); ++it) {
            const std::string& key = it.key();
            if (answer_structural_key(key)) continue;
            if (key == "audio" && it->is_string()) continue;  // a realtime item's base64 audio
            if (key == "logprobs")
                edit.drop_logprobs(it.value());
            else if (key == "arguments" && it->is_string())
                edit.json_text(it.value());
            else
                edit_answer_strings(it.value(), edit);
        }
    }
}

}  // namespace

bool identifier_key(std::string_view key) {
    return key == "model" || key == "id" || key == "object" || key == "b64_json" ||
           key == "embedding" || key == "partial_image_b64" || key == "type";
}

// Answer members that hold identifiers, enumerations or binary payloads, not text for a
// reader: masking them could only break the client.
bool answer_structural_key(std::string_view key) {
    return identifier_key(key) || key == "role" || key == "finish_reason" || key == "status" ||
           key == "call_id" || key == "item_id" || key == "system_fingerprint" ||
           key == "service_tier" || key == "previous_response_id" || key == "encrypted_content" ||
           key == "result" /* image_generation_call base64 */ || key == "data" /* audio */ ||
           key == "event_id" || key == "response_id" || key == "previous_item_id" /* realtime */;
}

void edit_responses_output_item(json& item, JsonEdit& edit) { edit_item(item, edit); }

void edit_answer_value(json& value, JsonEdit& edit) { edit_answer_strings(value, edit); }

void edit_response_value(json& body, ApiShape shape, JsonEdit& edit) {
    switch (shape) {
        case ApiShape::chat:
        case ApiShape::completions:
        case ApiShape::responses:
            edit_answer_strings(body, edit);
            break;
        case ApiShape::embeddings:
            break;
        case ApiShape::moderations:
        case ApiShape::other:
            edit_all_strings(body, edit);
            break;
    }
}

}  // namespace sluice::masking
