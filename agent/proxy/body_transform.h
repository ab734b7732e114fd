// What the answer relay does to each piece of a body on its way to the client. The relay
// (intercepted_session.cpp) is one loop for every answer it streams; what differs is the
// transform: bytes as they came, or the stream masker's output; a recorder or a tool-call
// filter joins the same way instead of adding another loop.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "policy/masking/sse_stream_masker.h"
#include "policy/tool_calls/tool_call_stream.h"

namespace sluice {

class BodyTransform {
public:
    virtual ~BodyTransform() = default;
    // Sets `out` to what the client gets for `piece` (`last`: no more pieces follow); `out`
    // stays valid until the next call. False when the body cannot go on: `out` then holds what
    // to send last, and the relay ends the answer there.
    virtual bool feed(std::string_view piece, bool last, std::string_view& out) = 0;
    // Whether the client's body differs in length from upstream's (then it is sent chunked).
    virtual bool changes_length() const = 0;
    // Why feed() returned false.
    virtual std::string failure() const { return {}; }
};

class PassThrough final : public BodyTransform {
public:
    bool feed(std::string_view piece, bool, std::string_view& out) override {
        out = piece;
        return true;
    }
    bool changes_length() const override { return false; }
};

// Masks a streamed (SSE) answer: holds back only a tail that could still become a match; if
// masking fails, the masker's error event is the last thing the client gets, nothing raw.
class StreamMasking final : public BodyTransform {
public:
    explicit StreamMasking(std::unique_ptr<masking::SseStreamMasker> masker)
        : masker_(std::move(masker)) {}
    bool feed(std::string_view piece, bool last, std::string_view& out) override;
    bool changes_length() const override { return true; }
    std::string failure() const override { return masker_->failure(); }

private:
    std::unique_ptr<masking::SseStreamMasker> masker_;
    std::string out_;
};

// Decides the tool calls of a streamed answer (tool_call_stream.h) and hands what it releases
// to `next` (the stream masker, or nothing): tool calls are judged on what the model wrote,
// masking applies to what the agent gets.
class ToolCallFiltering final : public BodyTransform {
public:
    ToolCallFiltering(const ToolCallControl& control, std::string rule, std::string_view path,
                      ApprovalResolver approver, BodyTransform* next)
        : filter_(control, std::move(rule), path, std::move(approver)), next_(next) {}
    bool feed(std::string_view piece, bool last, std::string_view& out) override;
    bool changes_length() const override { return true; }
    std::string failure() const override;
    const std::vector<ToolCallRecord>& calls() const { return filter_.calls(); }

private:
    ToolCallStreamFilter filter_;
    BodyTransform* next_;
    std::string out_;
};

}  // namespace sluice
