// The proxy's header transform, pure: validate framing, then turn a client's request header
// into the one sent upstream (client credentials out, real key in, hop-by-hop fields out).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>

#include "agent/common/openai_error.h"

namespace sluice {

using RequestHeader = boost::beast::http::request_header<boost::beast::http::fields>;
using ResponseHeader = boost::beast::http::response_header<boost::beast::http::fields>;

// Request smuggling defences beyond Beast's parser (which already rejects differing duplicate
// Content-Length and TE-after-CL): any request carrying both Transfer-Encoding and
// Content-Length, or a Transfer-Encoding other than exactly chunked (RFC 9112 §6.3: a server may
// refuse codings it does not understand; the controls could not read the body under them).
std::optional<ClientError> validate_request_framing(const RequestHeader& header);

// What the client presented as its key (Bearer token, api-key header, or the Realtime API's
// openai-insecure-api-key.* WebSocket subprotocol), for fingerprinting.
std::string presented_credential(const RequestHeader& header);

// Strips credentials, hop-by-hop fields and Expect; asks for an identity-encoded response
// (so usage and masking can read it); sets Authorization to the real key.
void prepare_upstream_request(RequestHeader& header, std::string_view real_key);

// Strips hop-by-hop fields from an upstream response before it goes to the client.
void prepare_client_response(ResponseHeader& header);

}  // namespace sluice
