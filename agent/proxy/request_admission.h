// The first stage of every intercepted request: decide from its head alone whether it can be
// put in canonical form, and put it there, so that the request the policy decides on is the
// one the upstream receives (docs/policy.md, "What policy sees is what upstream gets").
//
// Decided here, before anything else reads the request: the method is a standard one, the
// framing is unambiguous (request_rewrite.h), the target is canonical origin form and the
// Host field names the intercepted host (both rewritten to their one canonical spelling), and
// how the body is read. The body is read by what the endpoint takes, never by what the client
// says it is: every body is read whole and as JSON, except a multipart upload to one of the
// API's upload endpoints, which streams through and is decided on its headers. Pure.
#pragma once

#include <cstdint>
#include <string_view>
#include <variant>

#include "agent/common/openai_error.h"
#include "agent/proxy/request_rewrite.h"

namespace sluice {

enum class BodyReading {
    none,             // the request has no body
    whole,            // buffered and read as JSON by every control, whatever its Content-Type
    streamed_upload,  // multipart/form-data to an upload endpoint: relayed as it arrives
};

struct AdmittedHead {
    BodyReading body = BodyReading::none;
    // A whole body with a Content-Encoding (gzip, …): the controls cannot read it, so each
    // follows its fail mode and request masking refuses it.
    bool body_encoded = false;
};

// `host`/`port`: the intercepted host the client connected to (canonical SNI). `has_body`:
// the parsed head announces a body (Content-Length > 0 or chunked). On success `header` is
// rewritten to the canonical target and Host.
std::variant<AdmittedHead, ClientError> admit_request_head(RequestHeader& header,
                                                           std::string_view host, uint16_t port,
                                                           bool has_body);

// True for the API endpoints that take multipart/form-data uploads (files, upload parts,
// audio transcription and translation, image edits and variations, container files).
bool is_upload_endpoint(std::string_view path);

}  // namespace sluice
