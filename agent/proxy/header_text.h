// A message header as text: byte for byte what Beast's serializer sends (start line, the
// fields in list order, the blank line), written out in one pass.
//
// Beast's serializer hands every piece of a header through a variant-based buffer iterator
// (buffers_cat_view); for the small messages most proxied requests are, walking it cost about
// as much as encrypting the record. Messages with a body in memory and a Content-Length are
// sent as this text plus the body; chunked ones keep Beast's serializer, which frames the body.
#pragma once

#include <string>

#include "agent/proxy/request_rewrite.h"

namespace sluice {

void append_header_text(std::string& out, const RequestHeader& header);
void append_header_text(std::string& out, const ResponseHeader& header);

}  // namespace sluice
