// The one reading of a JSON request body that every control decides on (docs/policy.md, "One
// reading of the body"). Blocked prompt patterns, masking and the policy's facts all take
// their text from here, so no control can see a different request from another, or from the
// provider:
//
// * Strict: RFC 8259 (no byte order mark, NaN/Infinity, numbers past double's range), valid
//   UTF-8, surrogate escapes in pairs, and no object naming a member twice (which copy a
//   provider reads is its parser's choice). A body that is not is unreadable, with a reason
//   that names the problem and its byte offset, never body content.
// * Every string: each value and each member name, wherever it sits, is a text to scan.
// * Decoded as the provider and the model decode it: a string that is itself a JSON object or
//   array (tool `arguments`) is read too and its strings are texts; a `data:` URI is decoded
//   (base64 or percent) and its content is the text when it is text (valid UTF-8 without
//   control bytes). The one exemption: binary payloads (a `data:` URI whose content is not
//   text, `input_audio.data`) are media to the provider, not text to anyone, and a mask
//   written into them would only corrupt the file; they are neither scanned nor masked.
// * Joined as the model reads it: the conversation's texts (chat message contents and text
//   parts, Responses instructions and input texts, completions prompts), in order, form one
//   run, so a value split across parts or messages is one value.
//
// Nodes form a tree stored in document order (a parent before its children): each node is one
// decoded text and where its encoded form sits in its parent's text, so masking can rewrite a
// leaf and re-encode each enclosing layer (request_masking in policy/masking/json_masker.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

class JsonView;

enum class TextEncoding : uint8_t {
    json_string,  // a JSON string literal, quotes included
    base64,       // the payload of a `data:...;base64,` URI
    percent,      // the payload of a `data:` URI without `;base64` (RFC 2397 URL encoding)
};

struct BodyText {
    int parent = -1;                 // the node whose `text` holds this one; -1: the body
    std::size_t begin = 0, end = 0;  // its encoded form in the parent's text (or the body)
    TextEncoding encoding = TextEncoding::json_string;
    bool key = false;        // an object member name
    bool container = false;  // `text` was read further: its children are the texts to scan
    bool binary = false;     // a binary payload: neither scanned nor masked
    bool prompt = false;     // part of the conversation run (joined with its neighbours)
    std::string text;        // decoded
};

struct RequestReading {
    std::string problem;  // "" when the body reads strictly; else why not (no body content)
    std::vector<BodyText> texts;

    bool readable() const { return problem.empty(); }
};

// Reads a request body to `path` (the endpoint decides which strings form the conversation
// run). With `collect_texts` false only the strictness checks run (nothing is decoded).
// `values`, when given, receives the body's values as this reading found them (json_view.h;
// empty unless the body reads strictly): the policy's facts are read from there.
RequestReading read_request_body(std::string_view body, std::string_view path,
                                 bool collect_texts = true, JsonView* values = nullptr);

// A unit of matching: one or more texts read as one, in order (the conversation run, or any
// other single text). Masking takes the leaves (`with_containers` false); blocking also reads
// each container's text as written (a model reads JSON in a string as it is, too).
struct ScanUnit {
    std::vector<int> nodes;
};
std::vector<ScanUnit> scan_units(const RequestReading& reading, bool with_containers);

// The texts blocked-prompt patterns run over: each unit as written and, when it differs, as
// folded for matching (policy/text_fold.h).
std::vector<std::string> prompt_scan_texts(const RequestReading& reading);

// base64 (RFC 4648 §4, padded) for data: URIs; decode is strict (nullopt-like false on any
// character outside the alphabet or bad padding).
bool decode_base64(std::string_view in, std::string& out);
void append_base64(std::string& out, std::string_view bytes);

}  // namespace sluice
