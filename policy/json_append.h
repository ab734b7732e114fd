// Appends JSON scalars to a string, for text written without building a JSON tree (audit
// lines: building and dumping an nlohmann::json per request was a fifth of the proxy's CPU per
// request, docs/benchmarks.md; masked stream deltas). The text matches nlohmann's
// dump(-1, ' ', false, replace).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice {

// A quoted JSON string. Bytes that are not valid UTF-8 become U+FFFD, as nlohmann's
// error_handler_t::replace does: audit fields carry untrusted text (paths, models, exe names).
void append_json_string(std::string& out, std::string_view text);

// A JSON number that reads back as the same double (shortest form, always with a fraction or
// exponent); NaN and infinities, which JSON cannot carry, become null.
void append_json_double(std::string& out, double value);

// Members of an object written as text: each appends `"name":value,` (`name` needs no
// escaping); the writer turns the last ',' into the closing brace.
void append_json_key(std::string& out, std::string_view name);
void append_json_text_member(std::string& out, std::string_view name, std::string_view value);
void append_json_number_member(std::string& out, std::string_view name, uint64_t value);
void append_json_bool_member(std::string& out, std::string_view name, bool value);
void append_json_double_member(std::string& out, std::string_view name, double value);

}  // namespace sluice
