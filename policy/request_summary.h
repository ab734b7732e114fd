// What an OpenAI API request asks for, read from its JSON body: the facts policy and audit use.
#pragma once

#include <string>
#include <string_view>

#include "policy/json_view.h"

namespace sluice {

struct RequestSummary {
    bool json_ok = false;  // body parsed as a JSON object
    std::string model;
    bool stream = false;
    long long max_output_tokens = -1;  // max_tokens / max_completion_tokens / max_output_tokens
};

// From the strict reading's view of the body (json_view.h).
RequestSummary summarize_request(const JsonView& body);
// From the text alone, without a policy in force: a member named twice is not refused here, and
// its last copy counts.
RequestSummary summarize_request_body(std::string_view body);

}  // namespace sluice
