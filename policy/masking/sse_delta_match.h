// Recognizes the streamed events that carry one text delta and nothing else the stream masker
// must change — almost every event of an answer — from the raw JSON, without building a tree
// (json_scan.h). Anything unusual (tool calls, finish_reason, logprobs, duplicate members,
// non-integer indexes) is not matched and takes the general path.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::masking {

struct ByteRange {
    std::size_t begin = 0, end = 0;
    bool empty() const { return begin == end; }
};

// {"choices":[{"index":N,"delta":{"content":"..."},...}],...}: one choice, no finish_reason,
// no logprobs, no refusal text, tool calls or function call.
struct ChatDeltaEvent {
    int64_t choice = 0;
    ByteRange content;  // the string literal; empty when the delta has no content text
    // Raw JSON of id, object, created, model, system_fingerprint (empty when absent).
    std::array<ByteRange, 5> chunk_fields{};
};
inline constexpr std::array<std::string_view, 5> kChatChunkFields = {"id", "object", "created",
                                                                     "model", "system_fingerprint"};
std::optional<ChatDeltaEvent> match_chat_delta(std::string_view data);

// {"type":"response.*.delta","delta":"...",...}: a text delta of the Responses API with
// integer (or absent) indexes and sequence_number, and no logprobs.
struct ResponsesDeltaEvent {
    std::string type;                           // "response.output_text.delta"
    ByteRange delta;                            // the string literal
    int64_t output_index = -1, sub_index = -1;  // sub: content_index, else summary_index
    std::optional<int64_t> sequence;
    ByteRange sequence_range;
};
std::optional<ResponsesDeltaEvent> match_responses_delta(std::string_view data);

}  // namespace sluice::masking
