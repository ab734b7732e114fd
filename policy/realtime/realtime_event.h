// The Realtime API's events as the policy reads them (docs/realtime.md). A realtime session is
// one WebSocket carrying JSON events both ways; the relay decides on a few of them:
//
//   client → upstream
//     session.update           the model and tools may change: decided again
//     conversation.item.create  text the client sends (input_text parts, function outputs)
//     response.create           asks for a response: counted by rate limits, reserved against
//                               budgets (its instructions and input items are prompt text)
//     input_audio_buffer.append audio: relayed, never inspected
//   upstream → client
//     response.done             the response's usage: settles its reservation
//
// Pure: text in, facts out; no sockets.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/policy_model.h"
#include "policy/usage.h"

namespace sluice::realtime {

enum class ClientEventKind {
    session_update,
    item_create,
    response_create,
    audio_append,  // input_audio_buffer.append: audio, not inspected
    other,         // relayed as it is (after masking)
    unreadable,    // not a JSON object with a string type: refused, never relayed
};

struct ClientEvent {
    ClientEventKind kind = ClientEventKind::unreadable;
    std::string type;
    // The text the event sends to the model, for blocked-prompt patterns: input_text and text
    // parts of items, function call outputs, instructions.
    std::vector<std::string> texts;
    // What blocked-prompt patterns run over: every string of the event, decoded and folded, the
    // conversation's parts also joined (the one reading, policy/request_reading.h). An event
    // that does not read strictly (a member named twice, bad UTF-8) is unreadable.
    std::vector<std::string> scan_texts;
    std::optional<std::string> model;  // session.update's session.model
    bool names_tools = false;          // session.update / response.create carry tools
    // response.create: response.max_output_tokens when it is a whole number ("inf" or absent:
    // none, and the relay may write the policy's cap in).
    std::optional<int64_t> max_output_tokens;
    bool output_cap_unreadable = false;  // a cap that is neither a whole number nor "inf"
};

// Reads one client text message. Never throws.
ClientEvent read_client_event(std::string_view text);

struct ServerEvent {
    std::string type;  // "" when not a JSON object with a string type
    std::string response_id;
    std::optional<UsageObject> usage;  // response.done: response.usage
    std::string status;                // response.done: response.status
};

// Reads one upstream text message (its type, and what response.done reports). Never throws.
ServerEvent read_server_event(std::string_view text);

// The policy's view of a realtime decision point: a GET of the session's endpoint (`path`,
// the upgrade's target) on `model`, with the event's prompt text. `response` is set for a
// response.create: it names its output cap, which the relay can write (response.max_output_tokens).
PolicyRequest realtime_policy_request(std::string_view path, std::string_view model,
                                      const ClientEvent* event, bool response);

// The model a realtime upgrade names in its query (`?model=gpt-realtime`), percent-decoded;
// "" when it names none.
std::string model_from_target(std::string_view target);

// Rewrites a response.create event so its response asks for at most `cap` output tokens.
// False when the event cannot be read (it is then refused, never sent unclamped).
bool write_response_output_cap(std::string& event, int64_t cap);

}  // namespace sluice::realtime
