// Masks a JSON answer body (not a stream: sse_stream_masker.h) on one validating scan
// (json_scan.h): each string the endpoint's shape says a reader sees is masked and, only where
// it changed, spliced back re-encoded; every other byte stays as the upstream sent it. Which
// strings: json_masker.h (edit_response_value, the same rules on a parsed value), which the
// differential test holds this to. A parse into a tree and a dump again per answer was two
// fifths of the proxy's CPU per request with every feature on (docs/benchmarks.md).
#pragma once

#include <string>
#include <string_view>

#include "policy/masking/json_masker.h"
#include "policy/masking/text_masker.h"

namespace sluice::masking {

// `restore`: put back placeholders issued for this session's requests. The caller sets
// Content-Length from the new size.
BodyStatus mask_response_body(std::string& body, std::string_view path, TextMasker& masker,
                              bool restore);

}  // namespace sluice::masking
