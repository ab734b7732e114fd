// Masks a request body before it goes upstream, on the one reading every control shares
// (policy/request_reading.h): every string value and member name, the texts inside JSON
// strings and text `data:` URIs, and the conversation run as one text, so a value split across
// parts is masked across the join. Recognizers match the folded view (policy/text_fold.h:
// fullwidth forms, format characters, Unicode spaces) and the span is mapped back to the
// original bytes; hashes and placeholders are of the folded value, so a look-alike spelling
// gets the same one.
//
// The body is edited in place: each changed text is re-encoded into the layer that holds it
// (a data: URI's base64 again, JSON inside a string escaped again) and spliced into the body;
// every other byte stays as the client sent it. The result must read strictly again (a masked
// member name colliding with its neighbour would not): otherwise masking has failed.
#pragma once

#include <string>
#include <string_view>

#include "policy/masking/json_masker.h"
#include "policy/masking/text_masker.h"
#include "policy/request_reading.h"

namespace sluice::masking {

// not_json when the body does not read strictly (nothing masked: the caller refuses it).
BodyStatus mask_request_body(std::string& body, std::string_view path, TextMasker& masker);
// On a reading of `body` already made (read_request_body(body, path)).
BodyStatus mask_request_reading(std::string& body, std::string_view path,
                                const RequestReading& reading, TextMasker& masker);

// Masks one text on its folded view (spans mapped back to the original bytes), for texts
// outside a body: the audit's command line. False if a scan engine failed.
[[nodiscard]] bool mask_text_folded(std::string& text, Direction direction, TextMasker& masker);

}  // namespace sluice::masking
