// Edits a request's JSON body to carry out a policy decision: each edit sets one top-level
// member, or one member of a top-level object, to a value. Planned on the strict reading's view
// of the body (policy/json_view.h, where the policy's facts come from), then written into the
// body text as splices at the places that view found: every other byte stays as the client
// sent it, and no second reading or tree is made (docs/benchmarks.md). Endpoints that do not
// generate tokens are left alone.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "policy/json_view.h"

namespace sluice {

struct MemberEdit {
    std::string member;  // top-level member
    std::string inner;   // "" to set `member` itself; else the member of `member`'s object
    nlohmann::json value;
};

// Caps the output-token field the endpoint reads (chat: max_completion_tokens / max_tokens,
// responses: max_output_tokens, completions: max_tokens), adding it when the request has none.
void plan_output_cap(const JsonView& body, std::string_view target, int64_t limit,
                     std::vector<MemberEdit>& edits);

// A metered Chat Completions stream must report its usage to be settled exactly, which
// OpenAI only does when asked (stream_options.include_usage). Asks for it when the client did
// not; the client then sees one final chunk with empty `choices` and the usage.
void plan_stream_usage(const JsonView& body, std::string_view target,
                       std::vector<MemberEdit>& edits);

// Writes `edits`, planned on `body` (the view of `text`, a JSON object), into `text`. False,
// `text` untouched, when they do not fit it (the view is not of an object, or an inner edit
// names a member that is no object).
[[nodiscard]] bool write_member_edits(std::string& text, const JsonView& body,
                                      const std::vector<MemberEdit>& edits);

}  // namespace sluice
