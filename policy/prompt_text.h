// The text a request sends to the model, pulled out of its JSON body so blocked-pattern rules
// see every place a prompt can hide: chat message contents and text parts, tool-call
// arguments and tool results, Responses `instructions` and `input` items (including
// function_call_output), embeddings/moderations `input`, completions `prompt`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "policy/json_view.h"

namespace sluice {

// Known endpoints are read by their schema; any other path yields every string value in the
// body except `model` (objects' members in the order of their names), so an endpoint added
// upstream is scanned rather than skipped. `body` is the strict reading's view of it.
std::vector<std::string> extract_prompt_texts(const JsonView& body, std::string_view path);

// A deliberately high token estimate for reservations: one token per 3 bytes (OpenAI's
// tokenizers average ~4 bytes per token in English, fewer in other scripts), plus a small
// per-text overhead for message framing. Settlement corrects it to the real usage.
int64_t estimate_prompt_tokens(const std::vector<std::string>& texts);

// What else of a chat or Responses body the provider turns into prompt tokens, estimated high:
// tool and function definitions and a structured-output schema (rendered into the prompt: their
// JSON at one token per 3 bytes), and images (per image by `detail`: 85 tokens for "low", 1,536
// for "high"/"auto" — the most a 4o/4.1/5-family image costs at full size — and 33 times both
// for gpt-4o-mini, which counts image tokens at that multiple). Audio input is not estimated.
int64_t estimate_attachment_tokens(const JsonView& body, std::string_view path);

}  // namespace sluice
