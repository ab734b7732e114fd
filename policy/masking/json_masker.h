// Which strings of a JSON answer of the OpenAI API are masked: only the string values that carry
// content, found by the endpoint's schema; everything else (ids, model, numbers, base64
// payloads) is left as it was. Applied here to parsed values (the stream masker's full-text
// events); whole answer bodies are masked by a scan and splice with the same rules
// (response_masker.h). (Requests: request_masker.h.)
//
// Answers of chat, completions and Responses: every string the client receives except
// identifiers, enumerations and binary payloads (edit_answer_strings); tool arguments as the
// client will parse them; token logprobs dropped. Other JSON endpoints: every string except a
// few known identifier/binary keys.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "policy/json_scan.h"
#include "policy/masking/text_masker.h"

namespace sluice::masking {

enum class BodyStatus {
    unchanged,  // nothing to mask; body untouched
    masked,     // body replaced
    not_json,   // not JSON (or nested deeper than kJsonMaxDepth): body untouched, not masked
    failed,     // a scan engine failed: body untouched, must not be forwarded
};
std::string_view to_string(BodyStatus status);

enum class ApiShape { chat, responses, embeddings, completions, moderations, other };
ApiShape api_shape(std::string_view path);  // query string and trailing '/' ignored

// True when `text` is nested at most `max_depth` arrays/objects deep (a guard before parsing:
// serialization recurses).
bool json_depth_within(std::string_view text, int max_depth = kJsonMaxDepth);

// Members never masked: identifiers, enumerations and binary payloads. `answer_structural_key`
// is the wider set of answers (chat, completions, Responses); `identifier_key` that of others.
bool identifier_key(std::string_view key);
bool answer_structural_key(std::string_view key);

// Editing a parsed value in place, for the stream masker's full-text events.
struct JsonEdit {
    TextMasker& masker;
    Direction direction;
    bool restore = false;
    bool changed = false;
    bool failed = false;
    void string(nlohmann::json& value);  // masks (and restores) one string value
    // A string holding JSON text (tool arguments): masked as the client will parse it, with
    // escapes such as `\u0040` decoded (json_text_unescape.h).
    void json_text(nlohmann::json& value);
    void drop_logprobs(nlohmann::json& value);  // null / [] (token text cannot be masked)
};
void edit_response_value(nlohmann::json& value, ApiShape shape, JsonEdit& edit);
// Every string of an answer value the client reads (identifiers, enumerations and binary
// payloads excepted), tool arguments as parsed JSON text, logprobs dropped.
void edit_answer_value(nlohmann::json& value, JsonEdit& edit);
void edit_responses_output_item(nlohmann::json& item, JsonEdit& edit);

}  // namespace sluice::masking
