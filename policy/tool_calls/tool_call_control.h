// A rule's `tool_calls` control: what happens to each tool call a model's answer proposes,
// decided before the agent receives it. Entries are tried in order; the first whose tool glob,
// argument patterns and argument conditions all hold decides. No entry matching: allow.
//
//   tool_calls:
//     - tools: [run_shell, "mcp:github/*"]      # globs over the call's tool name (below)
//       arguments: {patterns: ['rm\s+-rf']}      # RE2, over the arguments (any string in them)
//       where: {"$.command": '^sudo\b'}          # RE2 over the value at a path of the arguments
//       action: deny                 # allow | deny | redact | require_approval
//       redact: ["$.password"]                   # with action redact: paths whose value is hidden
//
// Tool names: a function or custom tool's own name; a Responses MCP call as
// "mcp:<server_label>/<name>"; a built-in tool the agent runs as its type without "_call"
// (local_shell, shell, computer, apply_patch).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/prompt_patterns.h"

namespace re2 {
class RE2;
}  // namespace re2

namespace sluice {

enum class ToolCallAction { allow, deny, redact, require_approval };
std::string_view to_string(ToolCallAction action);

// `$.a.b` (members from the arguments object down): the value there, read as text (a string
// as it is, anything else as its JSON).
struct ArgumentCondition {
    std::string path;
    std::vector<std::string> members;  // a, b
    std::shared_ptr<const re2::RE2> pattern;
};

struct ToolCallEntry {
    std::vector<std::string> tools;  // globs; empty: every tool
    std::shared_ptr<const PromptPatternSet> arguments;
    std::vector<ArgumentCondition> where;
    ToolCallAction action = ToolCallAction::deny;
    std::vector<ArgumentCondition> redact;  // paths only (pattern unused)
};

struct ToolCallControl {
    std::vector<ToolCallEntry> entries;
};

// One tool call as the answer states it.
struct ToolCall {
    std::string name;
    std::string arguments;  // JSON text, as the agent will parse it
};

struct ToolCallDecision {
    ToolCallAction action = ToolCallAction::allow;
    int entry = -1;         // index into entries, -1: none matched
    std::string reason;     // for the agent and the audit: which entry, which pattern
    std::string arguments;  // with action redact: the arguments to send instead
};

// Arguments that are not a JSON object cannot be checked against `where` or redacted: an entry
// that needs them then matches (fails closed) and says so in the reason.
ToolCallDecision decide_tool_call(const ToolCallControl& control, const ToolCall& call);

// Settles a require_approval decision: allow when an approver granted this call, otherwise
// deny with `reason` extended by how to get it approved. Without one, such calls are refused.
using ApprovalResolver = std::function<ToolCallAction(const ToolCall& call, std::string& reason)>;

// decide_tool_call, with a require_approval outcome settled by `resolver`.
ToolCallDecision decide_tool_call(const ToolCallControl& control, const ToolCall& call,
                                  const ApprovalResolver& resolver);

// Parses "$.a.b" into members; nullopt when it is not that form.
std::optional<std::vector<std::string>> parse_argument_path(std::string_view path);

}  // namespace sluice
