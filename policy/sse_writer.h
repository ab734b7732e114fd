// Writes one Server-Sent Event (WHATWG HTML §9.2), the inverse of sse_parser.h: what stream
// filters and maskers pass on or make up.
#pragma once

#include <string>
#include <string_view>

namespace sluice {

// Appends the event: `event:` and `id:` lines when not empty, one `data:` line per line of
// `data` (a newline inside it would otherwise end the field), then the blank line.
void append_sse_event(std::string& out, std::string_view event, std::string_view id,
                      std::string_view data);

}  // namespace sluice
