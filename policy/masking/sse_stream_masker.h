// Masks a streamed answer (text/event-stream) on its way to the client: raw SSE bytes in, as
// they arrive, valid SSE out, every `data:` JSON event rewritten with its text masked.
//
// Chat Completions: `choices[].delta.content`, `.refusal`, `.audio.transcript` and tool call /
// function call argument deltas are channels keyed by choice (and tool call) index; argument
// text is unescaped (`\u0040` → `@`) before masking, so the client parses what was masked.
// `delta.annotations` arrive whole and are masked in place. A channel's held-back
// tail is released in the chunk that carries the choice's finish_reason (or, failing that, a
// chunk synthesized before `[DONE]` / at the end of the stream).
//
// Responses: every `*.delta` event with a text `delta` (output text, refusal, function call
// arguments, reasoning text and summaries, custom tool input) is a channel keyed by event kind,
// output_index and content/summary index. At its `*.done` event the tail goes out in one
// synthesized delta event just before it (later sequence_numbers shift by one), and the
// `.done` text, `response.content_part.done`, `response.output_item.done` and the final
// `response.completed` object carry exactly the text the deltas released, so the two agree.
//
// Token-level logprobs cannot be masked consistently and are dropped (null / []).
//
// Fail closed: a malformed event, an event over the size limit, too many channels or a scan
// failure ends the stream with an OpenAI-style error event; nothing after it (and no held-back
// text) is ever emitted.
#pragma once

#include <array>
#include <cstddef>
#include <initializer_list>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "policy/masking/json_masker.h"
#include "policy/masking/text_stream_masker.h"
#include "policy/sse_parser.h"

namespace sluice::masking {

struct SseMaskerLimits {
    std::size_t max_event_bytes = 8 * 1024 * 1024;
    std::size_t max_channels = 256;
    // Text kept per Responses channel so `.done` and `response.completed` match the deltas.
    std::size_t max_emitted_bytes = 32 * 1024 * 1024;
};

class SseStreamMasker {
public:
    SseStreamMasker(TextMasker& masker, ApiShape shape, bool restore_tokens,
                    SseMaskerLimits limits = {});
    ~SseStreamMasker();

    // Appends rewritten SSE to `out`. False once the stream has failed; `out` then ends with the
    // error event and the caller should end the response after writing it.
    [[nodiscard]] bool feed(std::string_view bytes, std::string& out);
    // Upstream ended: releases held-back text (in synthesized events). A partial event left
    // in the parser is dropped.
    [[nodiscard]] bool finish(std::string& out);

    bool failed() const { return failed_; }
    const std::string& failure() const { return failure_; }  // "" unless failed

private:
    struct Channel;
    void on_event(const SseEvent& event, std::string& out);
    // The fast path for plain text deltas (sse_delta_match.h): edits the event's bytes in place
    // of a JSON round trip. False when the event is not one; it then takes the general path.
    bool splice_chat_delta(const SseEvent& event, std::string& out);
    bool splice_responses_delta(const SseEvent& event, std::string& out);
    void on_chat(nlohmann::json& chunk);
    void on_responses(const SseEvent& event, nlohmann::json& body, std::string& out);
    Channel* channel(const std::string& key, bool create);
    bool release(Channel& channel, std::string_view delta, std::string& text);
    bool close(Channel& channel, std::string& tail);
    void set_full_text(nlohmann::json& holder, const char* field, const std::string& key);
    void replace_item_texts(nlohmann::json& item, std::size_t output_index);
    void mask_other_members(nlohmann::json& object,
                            std::initializer_list<std::string_view> streamed);
    void flush_all(std::string& out);
    void write(std::string_view event, std::string_view id, std::string_view data,
               std::string& out);
    void fail(std::string reason, std::string& out);

    TextMasker& masker_;
    ApiShape shape_;
    bool restore_;
    SseMaskerLimits limits_;
    SseParser parser_;
    std::vector<std::unique_ptr<Channel>> channels_;
    std::unordered_map<std::string, Channel*> by_key_;
    std::size_t emitted_bytes_ = 0;
    int64_t sequence_shift_ = 0;
    int64_t last_sequence_ = -1;
    nlohmann::json last_chat_chunk_;             // id/model/created for synthesized chunks
    std::array<std::string, 5> last_chunk_raw_;  // the same as spliced events carried them
    bool failed_ = false;
    bool done_ = false;
    std::string failure_;
    std::string pending_failure_;  // set while handling an event, turned into fail()
    std::string unescaped_;        // scratch: a json_text channel's delta, unescaped
};

}  // namespace sluice::masking
