// Pure core of the fake OpenAI upstream: a request in, a reply out, no sockets or clocks.
// Every reply is a deterministic function of the request, so tests can check what arrived:
//   - assistant text is "echo: " + the last user text (plus " | tool: " + tool outputs once
//     the conversation carries tool results), then ReplyBehavior::answer_suffix;
//   - token counts are ceil(bytes / 4), at least 1 (see count_tokens); chat answers `n`
//     choices and bills each (capped by max_completion_tokens / max_tokens);
//   - ids are derived from a hash of the request body.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::fake_openai {

// What the session learnt from a multipart/form-data upload it streamed past.
struct UploadSummary {
    bool found_file = false;
    std::uint64_t file_bytes = 0;
    std::string filename;
    std::string purpose;
    bool malformed = false;
};

struct ApiRequest {
    std::string_view method;
    std::string_view target;  // path and query, as received
    std::string_view authorization;
    std::string_view body;                // the whole JSON body (uploads: unused)
    std::optional<UploadSummary> upload;  // set for POST /v1/files
};

// Knobs from the command line that change answers (not timing).
struct ReplyBehavior {
    std::string expected_api_key;  // empty: accept any
    unsigned fail_status = 0;      // 0: answer normally
    // Chat usage bills every choice at the request's output cap, the most a provider may bill
    // (budget tests sum it); otherwise a choice is its answer's tokens, at most the cap.
    bool bill_to_cap = false;
    // Appended to every assistant text (chat and Responses, streamed or not): the proxy
    // benchmark puts personal data here so answer masking has something to mask.
    std::string answer_suffix;
};

struct ApiReply {
    unsigned status = 200;
    std::string request_id;
    // Non-streaming: the JSON body.
    std::string json_body;
    // Streaming: SSE events, each already framed ("data: ...\n\n"), written one by one.
    bool streaming = false;
    std::vector<std::string> sse_events;
};

[[nodiscard]] ApiReply answer_request(const ApiRequest& request, const ReplyBehavior& behavior);

// Exposed for tests.
[[nodiscard]] std::uint64_t count_tokens(std::size_t text_bytes);
[[nodiscard]] std::vector<std::string> split_into_deltas(std::string_view text);
[[nodiscard]] std::string error_body(std::string_view message, std::string_view type,
                                     std::string_view param, std::string_view code);

// Standard base64 (RFC 4648, with padding): the SDK asks for base64 embeddings by default.
std::string base64_encode(std::string_view bytes);

}  // namespace sluice::fake_openai
