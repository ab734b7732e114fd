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

enum class JsonKind : uint8_t { object, array, string, number, boolean, null };

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
bool scan_json(std::string_view text, int max_depth,
               FunctionRef<void(const JsonValue&)> visit);

// The text of a JSON string literal (quotes included, already validated by scan_json).
std::string decode_json_string(std::string_view literal);
// A JSON integer literal that fits int64_t, else nullopt.
std::optional<int64_t> json_int64(std::string_view literal);

}  // namespace sluice
