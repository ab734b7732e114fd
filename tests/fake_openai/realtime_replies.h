// The Realtime API as the fake upstream speaks it (docs/realtime.md): a session's client events
// in, the server events to send back out, no sockets. Deterministic, like openai_replies.h:
//   - the session opens with session.created naming the model of the URL;
//   - session.update answers session.updated (the new model, if any);
//   - conversation.item.create answers conversation.item.created and remembers the item's text;
//   - response.create streams "echo: " + the last item's text + the answer suffix as text
//     deltas of at most kMaxDeltaBytes (split_into_deltas), with an audio delta and an audio
//     transcript delta between them, then the text's .done and response.done with usage
//     (count_tokens of the item and of the answer);
//   - {"type":"fake.close","code":N,"reason":"..."} asks the server to close with that code.
// Event names: the beta's (response.text.delta) when the client sent OpenAI-Beta: realtime=v1,
// otherwise the GA's (response.output_text.delta).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::fake_openai {

struct RealtimeClose {
    std::uint16_t code = 1000;
    std::string reason;
};

class FakeRealtimeSession {
public:
    FakeRealtimeSession(std::string model, bool beta, std::string answer_suffix);

    std::string session_created() const;
    // The events answering one client text event, in order; `close` is set when the client
    // asked the server to close.
    std::vector<std::string> answer(std::string_view event, std::optional<RealtimeClose>& close);

private:
    std::string next_id(std::string_view prefix);

    std::string model_;
    bool beta_;
    std::string answer_suffix_;
    std::string last_text_;
    std::uint64_t counter_ = 0;
};

}  // namespace sluice::fake_openai
