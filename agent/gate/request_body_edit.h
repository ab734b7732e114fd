// Edits a request's JSON body to carry out a policy decision. Each returns whether it changed
// the body; endpoints that do not generate tokens are left alone.
#pragma once

#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

namespace sluice {

// Caps the output-token field the endpoint reads (chat: max_completion_tokens / max_tokens,
// responses: max_output_tokens, completions: max_tokens), adding it when the request has none.
bool set_max_output_tokens(nlohmann::json& body, std::string_view target, int64_t limit);

// A metered Chat Completions stream must report its usage to be settled exactly, which
// OpenAI only does when asked (stream_options.include_usage). Asks for it when the client did
// not; the client then sees one final chunk with empty `choices` and the usage.
bool request_stream_usage(nlohmann::json& body, std::string_view target);

}  // namespace sluice
