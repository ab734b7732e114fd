#include "policy/tool_calls/tool_call_control.h"

#include <re2/re2.h>

#include <nlohmann/json.hpp>

#include "policy/glob.h"
#include "policy/text_fold.h"

namespace sluice {

namespace {

using nlohmann::json;

// Every text a pattern may find a value in: the arguments as written, each string in them as
// the agent decodes it, and the folded view of each (text_fold.h).
std::vector<std::string> argument_texts(const std::string& raw, const json* parsed) {
    std::vector<std::string> texts{raw};
    auto add_strings = [&](const json& value, auto& self) -> void {
        if (value.is_string()) {
            texts.push_back(value.get<std::string>());
        } else if (value.is_structured()) {
            for (const auto& [key, item] : value.items()) {
                if (value.is_object()) texts.push_back(key);
                self(item, self);
            }
        }
    };
    if (parsed) add_strings(*parsed, add_strings);
    const std::size_t written = texts.size();
    for (std::size_t i = 0; i < written; ++i) {
        FoldedText folded;
        if (fold_for_matching(texts[i], folded)) texts.push_back(std::move(folded.text));
    }
    return texts;
}

json* value_at(json& arguments, const std::vector<std::string>& members) {
    json* at = &arguments;
    for (const auto& member : members) {
        if (!at->is_object()) return nullptr;
        auto it = at->find(member);
        if (it == at->end()) return nullptr;
        at = &*it;
    }
    return at;
}

std::string as_text(const json& value) {
    return value.is_string() ? value.get<std::string>() : value.dump();
}

bool condition_holds(const ArgumentCondition& condition, json& arguments) {
    const json* value = value_at(arguments, condition.members);
    if (!value) return false;
    const std::string text = as_text(*value);
    if (RE2::PartialMatch(text, *condition.pattern)) return true;
    FoldedText folded;
    return fold_for_matching(text, folded) && RE2::PartialMatch(folded.text, *condition.pattern);
}

std::string entry_name(int index) { return "tool_calls[" + std::to_string(index) + "]"; }

}  // namespace

std::string_view to_string(ToolCallAction action) {
    switch (action) {
        case ToolCallAction::allow:
            return "allow";
        case ToolCallAction::deny:
            return "deny";
        case ToolCallAction::redact:
            return "redact";
        case ToolCallAction::require_approval:
            return "require_approval";
    }
    return "deny";
}

std::optional<std::vector<std::string>> parse_argument_path(std::string_view path) {
    if (!path.starts_with("$.") || path.size() == 2) return std::nullopt;
    std::vector<std::string> members;
    path.remove_prefix(2);
    while (true) {
        const auto dot = path.find('.');
        const std::string_view member = path.substr(0, dot);
        if (member.empty()) return std::nullopt;
        members.emplace_back(member);
        if (dot == std::string_view::npos) return members;
        path.remove_prefix(dot + 1);
    }
}

ToolCallDecision decide_tool_call(const ToolCallControl& control, const ToolCall& call) {
    json arguments = json::parse(call.arguments, nullptr, false);
    const bool is_object = arguments.is_object();
    std::optional<std::vector<std::string>> texts;
    for (std::size_t i = 0; i < control.entries.size(); ++i) {
        const ToolCallEntry& entry = control.entries[i];
        const int index = static_cast<int>(i);
        if (!entry.tools.empty() &&
            std::none_of(entry.tools.begin(), entry.tools.end(),
                         [&](const std::string& glob) { return glob_match(glob, call.name); }))
            continue;
        std::string why = entry_name(index) + ": tool " + call.name;
        if (!is_object && (!entry.where.empty() || entry.action == ToolCallAction::redact)) {
            // Conditions on the arguments cannot be checked: the entry holds, and a redaction
            // that cannot be made becomes a refusal.
            return {entry.action == ToolCallAction::allow ? ToolCallAction::deny : entry.action,
                    index,
                    why + ", arguments are not a JSON object",
                    {}};
        }
        if (entry.arguments) {
            if (!texts) texts = argument_texts(call.arguments, is_object ? &arguments : nullptr);
            const auto found = entry.arguments->first_match(*texts);
            if (!found) continue;
            why += ", arguments match " + *found;
        }
        bool all_hold = true;
        for (const auto& condition : entry.where) {
            if (!condition_holds(condition, arguments)) {
                all_hold = false;
                break;
            }
            why += ", " + condition.path + " matches";
        }
        if (!all_hold) continue;
        ToolCallDecision decision{entry.action, index, std::move(why), {}};
        if (entry.action == ToolCallAction::redact) {
            for (const auto& path : entry.redact)
                if (json* value = value_at(arguments, path.members)) *value = "[REDACTED]";
            decision.arguments = arguments.dump();
        }
        return decision;
    }
    return {};
}

ToolCallDecision decide_tool_call(const ToolCallControl& control, const ToolCall& call,
                                  const ApprovalResolver& resolver) {
    ToolCallDecision decision = decide_tool_call(control, call);
    if (decision.action != ToolCallAction::require_approval) return decision;
    decision.reason += ", needs a person's approval";
    decision.action = resolver ? resolver(call, decision.reason) : ToolCallAction::deny;
    return decision;
}

}  // namespace sluice
