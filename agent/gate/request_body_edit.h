// Edits a request's JSON body to carry out a policy decision: each edit sets one top-level
// member, or one member of a top-level object, to a value. Planned on the parsed body (the
// policy's facts), then written into the body text as splices: every other byte stays as the
// client sent it (a parse already made and a dump again per request were a quarter of the
// gate's cost with every feature on, docs/benchmarks.md). Endpoints that do not generate
// tokens are left alone.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace sluice {

struct MemberEdit {
    std::string member;  // top-level member
    std::string inner;   // "" to set `member` itself; else the member of `member`'s object
    nlohmann::json value;
};

// Caps the output-token field the endpoint reads (chat: max_completion_tokens / max_tokens,
// responses: max_output_tokens, completions: max_tokens), adding it when the request has none.
void plan_output_cap(const nlohmann::json& body, std::string_view target, int64_t limit,
                     std::vector<MemberEdit>& edits);

// A metered Chat Completions stream must report its usage to be settled exactly, which
// OpenAI only does when asked (stream_options.include_usage). Asks for it when the client did
// not; the client then sees one final chunk with empty `choices` and the usage.
void plan_stream_usage(const nlohmann::json& body, std::string_view target,
                       std::vector<MemberEdit>& edits);

// Writes `edits` into `text`, the JSON object `edits` were planned on, which names no member
// twice (request_reading.h refuses such bodies). False, `text` untouched, if it is not one.
[[nodiscard]] bool write_member_edits(std::string& text, const std::vector<MemberEdit>& edits);

// The same edits on a parsed body (the reference the splices are tested against).
void apply_member_edits(nlohmann::json& body, const std::vector<MemberEdit>& edits);

}  // namespace sluice
