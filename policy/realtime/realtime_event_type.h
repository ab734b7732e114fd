// What kind of realtime event a message is, without parsing it: the top-level "type" member of a
// JSON object, found by one pass that skips strings and nested values. The relay names each
// event it records by it and tells audio (recorded as size and SHA-256) from text; audio events
// are large and must not be parsed on the proxy thread for that. Pure.
#pragma once

#include <string_view>

namespace sluice::realtime {

// The top-level "type" string of `text`; "" when `text` is not an object whose top level has a
// plain (escape-free) string "type". Never throws; reads each byte at most once.
std::string_view event_type(std::string_view text);

// Whether events of `type` carry audio (base64) rather than text: the client's
// input_audio_buffer.append and the upstream's audio deltas.
bool is_audio_event(std::string_view type);

}  // namespace sluice::realtime
