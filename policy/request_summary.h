// What an OpenAI API request asks for, read from its JSON body: the facts policy and audit use.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace sluice {

struct RequestSummary {
    bool json_ok = false;  // body parsed as a JSON object
    std::string model;
    bool stream = false;
    long long max_output_tokens = -1;  // max_tokens / max_completion_tokens / max_output_tokens
};

RequestSummary summarize_request(const nlohmann::json& body);
RequestSummary summarize_request_body(std::string_view body);

}  // namespace sluice
