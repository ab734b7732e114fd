#include "policy/masking/json_masker.h"

#include <vector>

#include "policy/json_append.h"
#include "policy/json_scan.h"
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
    if (auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
    while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
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
    const bool empty = value.is_null() || ((value.is_array() || value.is_object()) && value.empty());
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

void edit_tool_calls(json& message, JsonEdit& edit) {
    if (auto* calls = member(message, "tool_calls"); calls && calls->is_array())
        for (auto& call : *calls)
            if (auto* fn = member(call, "function")) edit_key(*fn, "arguments", edit);
    if (auto* fn = member(message, "function_call")) edit_key(*fn, "arguments", edit);
}

void edit_chat_message(json& message, JsonEdit& edit) {
    if (auto* content = member(message, "content")) edit_content(*content, edit);
    edit_key(message, "refusal", edit);
    edit_tool_calls(message, edit);
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

void edit_string_or_strings(json& body, const char* key, JsonEdit& edit) {
    auto* value = member(body, key);
    if (!value) return;
    if (value->is_string()) {
        edit.string(*value);
    } else if (value->is_array()) {
        for (auto& item : *value) {
            if (item.is_string())
                edit.string(item);
            else if (item.is_object())
                edit_key(item, "text", edit);
        }
    }
}

bool skipped_key(std::string_view key) {
    return key == "model" || key == "id" || key == "object" || key == "b64_json" ||
           key == "embedding" || key == "partial_image_b64" || key == "type";
}

void edit_all_strings(json& value, JsonEdit& edit) {
    if (value.is_string()) {
        edit.string(value);
    } else if (value.is_array()) {
        for (auto& item : value) edit_all_strings(item, edit);
    } else if (value.is_object()) {
        for (auto it = value.begin(); it != value.end(); ++it)
            if (!skipped_key(it.key())) edit_all_strings(it.value(), edit);
    }
}

// Answer members that hold identifiers, enumerations or binary payloads, not text for a
// reader: masking them could only break the client.
bool answer_structural_key(std::string_view key) {
    return skipped_key(key) || key == "role" || key == "finish_reason" || key == "status" ||
           key == "call_id" || key == "item_id" || key == "system_fingerprint" ||
           key == "service_tier" || key == "previous_response_id" || key == "encrypted_content" ||
           key == "result" /* image_generation_call base64 */ || key == "data" /* audio */;
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
            if (key == "logprobs")
                edit.drop_logprobs(it.value());
            else if (key == "arguments" && it->is_string())
                edit.json_text(it.value());
            else
                edit_answer_strings(it.value(), edit);
        }
    }
}

void edit_request_value(json& body, ApiShape shape, JsonEdit& edit) {
    switch (shape) {
        case ApiShape::chat:
            if (auto* messages = member(body, "messages"); messages && messages->is_array())
                for (auto& message : *messages) edit_chat_message(message, edit);
            break;
        case ApiShape::responses:
            edit_key(body, "instructions", edit);
            if (auto* input = member(body, "input")) {
                if (input->is_array())
                    for (auto& item : *input) edit_item(item, edit);
                else
                    edit.string(*input);
            }
            break;
        case ApiShape::embeddings:
        case ApiShape::moderations:
            edit_string_or_strings(body, "input", edit);
            break;
        case ApiShape::completions:
            edit_string_or_strings(body, "prompt", edit);
            break;
        case ApiShape::other:
            edit_all_strings(body, edit);
            break;
    }
}

BodyStatus edit_body(std::string& body, JsonEdit& edit, ApiShape shape, bool request) {
    if (!json_depth_within(body)) return BodyStatus::not_json;
    json parsed = json::parse(body, nullptr, false);
    if (parsed.is_discarded()) return BodyStatus::not_json;
    if (request)
        edit_request_value(parsed, shape, edit);
    else
        edit_response_value(parsed, shape, edit);
    if (edit.failed) return BodyStatus::failed;
    if (!edit.changed) return BodyStatus::unchanged;
    body = parsed.dump(-1, ' ', false, json::error_handler_t::replace);
    return BodyStatus::masked;
}

}  // namespace

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

namespace {

// The request schema of edit_request_value() as paths, for masking by splicing.
struct Path {
    const JsonStep* step;
    int depth;
    bool key(int i, std::string_view name) const {
        return i < depth && step[i].is_member(name);
    }
    bool index(int i) const { return i < depth && step[i].is_index; }
    Path from(int i) const { return {step + i, depth - i}; }
};

// A content value: a string, or parts that are strings or carry `text` / `refusal`.
bool content_string(Path p) {
    return p.depth == 0 || (p.depth == 1 && p.index(0)) ||
           (p.depth == 2 && p.index(0) && (p.key(1, "text") || p.key(1, "refusal")));
}

bool chat_message_string(Path p) {
    return (p.key(0, "content") && content_string(p.from(1))) ||
           (p.depth == 1 && p.key(0, "refusal")) ||
           (p.depth == 4 && p.key(0, "tool_calls") && p.index(1) && p.key(2, "function") &&
            p.key(3, "arguments")) ||
           (p.depth == 2 && p.key(0, "function_call") && p.key(1, "arguments"));
}

bool item_string(Path p) {
    return p.depth == 0 ||
           ((p.key(0, "content") || p.key(0, "summary") || p.key(0, "output")) &&
            content_string(p.from(1))) ||
           (p.depth == 1 && (p.key(0, "arguments") || p.key(0, "input")));
}

bool string_or_strings(Path p, std::string_view name) {
    return p.key(0, name) &&
           (p.depth == 1 || (p.index(1) && (p.depth == 2 || (p.depth == 3 && p.key(2, "text")))));
}

bool request_content(ApiShape shape, Path p) {
    switch (shape) {
        case ApiShape::chat:
            return p.key(0, "messages") && p.index(1) && chat_message_string(p.from(2));
        case ApiShape::responses:
            return (p.depth == 1 && p.key(0, "instructions")) ||
                   (p.key(0, "input") && (p.depth == 1 || (p.index(1) && item_string(p.from(2)))));
        case ApiShape::embeddings:
        case ApiShape::moderations:
            return string_or_strings(p, "input");
        case ApiShape::completions:
            return string_or_strings(p, "prompt");
        case ApiShape::other:
            for (int i = 0; i < p.depth; ++i)
                if (!p.step[i].is_index && skipped_key(p.step[i].key)) return false;
            return true;
    }
    return false;
}

}  // namespace

// Requests are masked by splicing: a validating scan finds the content strings by their path,
// and only the strings that change are rewritten; every other byte stays as the client sent
// it. (Parsing into a tree and dumping it ran at ~200 MB/s, nearly all of the cost.) A body
// with an escaped member name anywhere on a content path takes the tree, which decodes names.
BodyStatus mask_request_body(std::string& body, std::string_view path, TextMasker& masker) {
    const ApiShape shape = api_shape(path);
    struct Found {
        std::size_t begin, end;
        bool escaped;
    };
    thread_local std::vector<Found> found;
    found.clear();
    bool escaped_key = false;
    const bool valid = scan_json(body, kJsonMaxDepth, [&](const JsonValue& value) {
        if (value.kind != JsonKind::string) return;
        escaped_key |= value.path_key_escaped();
        if (request_content(shape, {value.path, value.depth}))
            found.push_back({value.begin, value.end, value.escaped});
    });
    if (!valid) return BodyStatus::not_json;
    if (escaped_key) {
        JsonEdit edit{masker, Direction::request};
        return edit_body(body, edit, shape, true);
    }
    std::string out;
    std::size_t copied = 0;
    std::string text;
    for (const auto& f : found) {
        const std::string_view literal(body.data() + f.begin, f.end - f.begin);
        if (f.escaped)
            text = decode_json_string(literal);
        else
            text.assign(literal.substr(1, literal.size() - 2));
        bool changed = false;
        if (!masker.mask(text, Direction::request, &changed)) return BodyStatus::failed;
        if (!changed) continue;
        if (out.empty()) out.reserve(body.size() + 64);
        out.append(body, copied, f.begin - copied);
        append_json_string(out, text);
        copied = f.end;
    }
    if (copied == 0) return BodyStatus::unchanged;
    out.append(body, copied);
    body.swap(out);
    return BodyStatus::masked;
}

BodyStatus mask_response_body(std::string& body, std::string_view path, TextMasker& masker,
                              bool restore) {
    JsonEdit edit{masker, Direction::response, restore};
    return edit_body(body, edit, api_shape(path), false);
}

}  // namespace sluice::masking
