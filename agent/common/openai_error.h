// Errors sent to clients use OpenAI's JSON shape so SDKs surface them (docs/architecture.md,
// Contracts).
#pragma once

#include <string>
#include <string_view>

namespace sluice {

struct ClientError {
    unsigned status = 500;
    std::string type;     // e.g. "policy_violation", "upstream_error", "invalid_request_error"
    std::string code;     // machine-readable, e.g. "upstream_unreachable"
    std::string message;  // one human sentence; never contains secrets
    unsigned retry_after_s = 0;  // >0 adds Retry-After (429)
    // False adds `x-should-retry: false`, which the OpenAI SDKs obey: a retry cannot help (a
    // held request interrupted by a restart would only be held again unseen).
    bool should_retry = true;
};

// {"error":{"message":…,"type":…,"param":null,"code":…}}
std::string openai_error_body(const ClientError& error);

}  // namespace sluice
