// A validating single pass over one JSON text (RFC 8259, as strict as nlohmann::json::parse:
// UTF-8 checked, lone surrogates refused) that reports where values are instead of building a
// tree. Streamed deltas are edited by splicing bytes at those places: a parse and re-serialise
// per event costs more than masking its text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "policy/function_ref.h"

namespace sluice {

// `key`: a member name, reported only to scans that ask for names (JsonScanOptions).
enum class JsonKind : uint8_t { object, array, string, number, boolean, null, key };

// Why a text is not one valid JSON value (the first problem found, at `offset`).
enum class JsonScanError : uint8_t {
    none,
    syntax,               // not the JSON grammar (NaN, Infinity, a missing comma, …)
    byte_order_mark,      // starts with U+FEFF: RFC 8259 §8.1 forbids adding one
    invalid_utf8,         // a string is not valid UTF-8
    lone_surrogate,       // \ud800 without its low half, or a low half alone
    control_character,    // a raw byte below 0x20 inside a string
    invalid_escape,       // a backslash escape RFC 8259 §7 does not define
    number_out_of_range,  // a number past double's range (1e400)
    too_deep,             // nested deeper than the scan's max_depth
    trailing_data,        // more than one value, or bytes after it
};
std::string_view to_string(JsonScanError error);

struct JsonScanOptions {
    bool report_keys = false;  // also report every member name (kind `key`) before its value
};

struct JsonScanFailure {
    JsonScanError error = JsonScanError::none;
    std::size_t offset = 0;
};

// Nesting the scans of API bodies and events accept (and the guard before parsing one into a
// tree, whose serialization recurses); real requests and answers nest a few levels.
inline constexpr int kJsonMaxDepth = 128;

// One step of a value's path: an object member (raw key bytes, escapes undecoded) or an
// array element.
struct JsonStep {
    std::string_view key;
    std::size_t index = 0;
    bool is_index = false;
    bool key_escaped = false;  // the key has backslash escapes: `key` is not its decoded name

    // The member `name` (compared byte for byte: an escaped key never equals it).
    bool is_member(std::string_view name) const { return !is_index && key == name; }
};

// Where a value sits and what it is; [begin, end) are its bytes (strings with their quotes).
// A member name (kind `key`) has the path of its value.
struct JsonValue {
    JsonKind kind;
    std::size_t begin, end;
    const JsonStep* path;  // path[0..depth)
    int depth;
    bool escaped = false;  // a string with backslash escapes in it

    // A member name on the path has escapes: comparing keys byte for byte could miss it.
    bool path_key_escaped() const {
        for (int i = 0; i < depth; ++i)
            if (path[i].key_escaped) return true;
        return false;
    }
};

// Calls `visit` for every value, innermost first for containers (a container is reported when
// it ends). False if `text` is not one valid JSON value or nests deeper than `max_depth`.
bool scan_json(std::string_view text, int max_depth, FunctionRef<void(const JsonValue&)> visit);

// The same scan, also reporting member names when asked; on failure `failure` says why.
bool scan_json(std::string_view text, int max_depth, FunctionRef<void(const JsonValue&)> visit,
               const JsonScanOptions& options, JsonScanFailure* failure);

// The text of a JSON string literal (quotes included, already validated by scan_json).
std::string decode_json_string(std::string_view literal);
// A JSON integer literal that fits int64_t, else nullopt.
std::optional<int64_t> json_int64(std::string_view literal);

}  // namespace sluice
