// Appends JSON scalars to a string, for text written without building a JSON tree (audit
// lines: building and dumping an nlohmann::json per request was a fifth of the proxy's CPU per
// request, docs/benchmarks.md; masked stream deltas). The text matches nlohmann's
// dump(-1, ' ', false, replace).
#pragma once

#include <string>
#include <string_view>

namespace sluice {

// A quoted JSON string. Bytes that are not valid UTF-8 become U+FFFD, as nlohmann's
// error_handler_t::replace does: audit fields carry untrusted text (paths, models, exe names).
void append_json_string(std::string& out, std::string_view text);

// A JSON number that reads back as the same double (shortest form, always with a fraction or
// exponent); NaN and infinities, which JSON cannot carry, become null.
void append_json_double(std::string& out, double value);

}  // namespace sluice
