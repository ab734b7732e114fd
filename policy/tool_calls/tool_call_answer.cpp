#include "policy/tool_calls/tool_call_answer.h"

#include "policy/api_endpoint.h"

namespace sluice {

namespace {

using nlohmann::json;

std::string string_member(const json& object, const char* key) {
    auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// A chat tool call: {"type":"function","function":{"name","arguments"}} or
// {"type":"custom","custom":{"name","input"}}; the legacy `function_call` has name/arguments.
std::optional<std::pair<json*, const char*>> chat_call_arguments(json& call, std::string& name) {
    for (const auto& [kind, key] : {std::pair{"function", "arguments"}, {"custom", "input"}}) {
        auto it = call.find(kind);
        if (it == call.end() || !it->is_object()) continue;
        name = string_member(*it, "name");
        return std::pair{&*it, key};
    }
    if (call.contains("arguments")) {
        name = string_member(call, "name");
        return std::pair{&call, "arguments"};
    }
    return std::nullopt;
}

// A call's record, and with action redact the arguments to send instead.
std::pair<ToolCallRecord, std::string> decide(const ToolCallControl& control, ToolCall call,
                                              const ApprovalResolver& resolver) {
    ToolCallDecision decision = decide_tool_call(control, call, resolver);
    return {ToolCallRecord{std::move(call.name), std::move(call.arguments), decision.action,
                           std::move(decision.reason)},
            std::move(decision.arguments)};
}

void edit_chat_choice(json& choice, const ToolCallControl& control, std::string_view rule,
                      const ApprovalResolver& resolver, ToolCallOutcome& outcome) {
    auto message = choice.find("message");
    if (message == choice.end() || !message->is_object()) return;
    std::vector<ToolCallRecord> refused;
    auto judge = [&](json& holder) -> bool {  // false: remove the call
        std::string name;
        auto where = chat_call_arguments(holder, name);
        if (!where) return true;
        json& arguments = (*where->first)[where->second];
        auto [record, redacted] =
            decide(control,
                   {name, arguments.is_string() ? arguments.get<std::string>() : arguments.dump()},
                   resolver);
        bool keep = true;
        if (record.action == ToolCallAction::redact) {
            arguments = std::move(redacted);
            outcome.changed = true;
        } else if (record.action == ToolCallAction::deny) {
            refused.push_back(record);
            keep = false;
        }
        outcome.calls.push_back(std::move(record));
        return keep;
    };
    if (auto calls = message->find("tool_calls"); calls != message->end() && calls->is_array()) {
        json kept = json::array();
        for (auto& call : *calls)
            if (!call.is_object() || judge(call)) kept.push_back(std::move(call));
        if (kept.empty())
            message->erase("tool_calls");
        else
            *calls = std::move(kept);
    }
    if (auto call = message->find("function_call"); call != message->end() && call->is_object())
        if (!judge(*call)) message->erase("function_call");
    if (refused.empty()) return;
    outcome.changed = true;
    const std::string before = string_member(*message, "content");
    (*message)["content"] =
        (before.empty() ? "" : before + "\n\n") + refusal_explanation(refused, rule);
    if (!message->contains("tool_calls") && !message->contains("function_call"))
        choice["finish_reason"] = "stop";
}

void edit_responses_output(json& output, const ToolCallControl& control, std::string_view rule,
                           const ApprovalResolver& resolver, ToolCallOutcome& outcome) {
    if (!output.is_array()) return;
    for (auto& item : output) {
        auto found = item_tool_call(item);
        if (!found) continue;
        auto [record, redacted] = decide(control, std::move(found->call), resolver);
        if (record.action == ToolCallAction::redact && found->arguments_key) {
            item[found->arguments_key] = std::move(redacted);
            outcome.changed = true;
        } else if (record.action != ToolCallAction::allow) {
            if (record.action == ToolCallAction::redact) {
                record.action = ToolCallAction::deny;  // a built-in's action cannot be redacted
                record.reason += ", arguments cannot be redacted";
            }
            item = explanation_item("msg_sluice_" + string_member(item, "id"),
                                    refusal_explanation({record}, rule));
            outcome.changed = true;
        }
        outcome.calls.push_back(std::move(record));
    }
}

}  // namespace

std::optional<ItemToolCall> item_tool_call(const json& item) {
    if (!item.is_object()) return std::nullopt;
    const std::string type = string_member(item, "type");
    if (type == "function_call")
        return ItemToolCall{{string_member(item, "name"), string_member(item, "arguments")},
                            "arguments"};
    if (type == "custom_tool_call")
        return ItemToolCall{{string_member(item, "name"), string_member(item, "input")}, "input"};
    if (type == "mcp_call")
        return ItemToolCall{
            {"mcp:" + string_member(item, "server_label") + "/" + string_member(item, "name"),
             string_member(item, "arguments")},
            "arguments"};
    for (const char* builtin : {"local_shell", "shell", "computer", "apply_patch"}) {
        if (type != std::string(builtin) + "_call") continue;
        json action = json::object();
        for (const char* key : {"action", "operation"})
            if (auto it = item.find(key); it != item.end()) action = *it;
        return ItemToolCall{{builtin, action.dump()}, nullptr};
    }
    return std::nullopt;
}

std::string refusal_explanation(const std::vector<ToolCallRecord>& refused, std::string_view rule) {
    std::string text;
    for (const auto& record : refused) {
        if (!text.empty()) text += "\n";
        text += "sluice blocked the tool call " + record.name + " (policy rule " +
                std::string(rule) + ", " + record.reason + "). The tool was not run.";
    }
    return text;
}

json explanation_item(std::string_view id, const std::string& text) {
    return json{
        {"type", "message"},
        {"id", id},
        {"status", "completed"},
        {"role", "assistant"},
        {"content",
         json::array({{{"type", "output_text"}, {"text", text}, {"annotations", json::array()}}})}};
}

ToolCallOutcome apply_tool_call_policy(json& body, std::string_view path,
                                       const ToolCallControl& control, std::string_view rule,
                                       const ApprovalResolver& resolver) {
    ToolCallOutcome outcome;
    if (!body.is_object()) return outcome;
    const std::string_view endpoint = api_endpoint(path);
    if (endpoint == "/v1/chat/completions") {
        if (auto choices = body.find("choices"); choices != body.end() && choices->is_array())
            for (auto& choice : *choices)
                if (choice.is_object()) edit_chat_choice(choice, control, rule, resolver, outcome);
    } else if (endpoint == "/v1/responses") {
        if (auto output = body.find("output"); output != body.end())
            edit_responses_output(*output, control, rule, resolver, outcome);
    }
    return outcome;
}

}  // namespace sluice
