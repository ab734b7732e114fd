// How many output tokens a request can make the provider bill, read from its JSON body by
// endpoint: the largest per-output cap the provider might honour, and how many outputs of up to
// that cap it asks for. Budgets and tokens_per_minute reserve
//     prompt estimate + cap × outputs
// so a burst cannot overshoot a limit by asking for many outputs per request (issue 24).
//
// Caps, per endpoint (every other field is not a cap there and is ignored):
//   /v1/chat/completions  max_completion_tokens, max_tokens — both forwarded, so the larger
//                         counts (a provider might honour either)
//   /v1/completions       max_tokens
//   /v1/responses         max_output_tokens
// Outputs: max(n, best_of), doubled when a chat request asks for audio output (the transcript
// and the audio are both completion tokens; no cap is documented to bound them together).
// Reasoning tokens are within max_completion_tokens / max_output_tokens, not within the legacy
// max_tokens: a chat request asking for reasoning effort with only max_tokens has no bound.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "policy/json_view.h"

namespace sluice {

struct OutputBound {
    std::optional<int64_t> cap;  // tokens per output; nullopt: the request names none
    int64_t outputs = 1;         // outputs of up to `cap` each (n, best_of, audio)
    // The endpoint takes a cap the agent can write into the body (chat, completions, responses):
    // a request naming none can be given one, which makes an assumed output a bound.
    bool cap_writable = false;
    // Non-empty: why no bound can be computed (a cap or `n` that is not a whole number, reasoning
    // under a cap that does not bound it). Controls that need one follow their fail_mode.
    std::string unbounded;
};

// `body`: the strict reading's view of the request body.
OutputBound read_output_bound(const JsonView& body, std::string_view path);

// a × b and a + b, saturating at INT64_MAX (negative operands count as 0): n = 10^9 or a cap
// of 2^63 - 1 must not wrap a reservation into a refund.
int64_t saturating_multiply(int64_t a, int64_t b);
int64_t saturating_add(int64_t a, int64_t b);

}  // namespace sluice
