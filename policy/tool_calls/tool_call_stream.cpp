#include "policy/tool_calls/tool_call_stream.h"

#include <optional>

#include "policy/api_endpoint.h"
#include "policy/json_member.h"
#include "policy/sse_writer.h"

namespace sluice {

namespace {

using nlohmann::json;

const json* member(const json& object, const char* key) {
    if (!object.is_object()) return nullptr;
    auto it = object.find(key);
    return it == object.end() ? nullptr : &*it;
}

bool carries_calls(const json& choice) {
    const json* delta = member(choice, "delta");
    return delta && (member(*delta, "tool_calls") || member(*delta, "function_call"));
}

bool finishes(const json& choice) {
    const json* reason = member(choice, "finish_reason");
    return reason && !reason->is_null();
}

// The value of an event's "sequence_number" member, read without parsing the event: inside a
// string the quotes would be escaped, and no nested object of these events has that member.
std::optional<int64_t> sequence_number_of(std::string_view data) {
    constexpr std::string_view kKey = "\"sequence_number\":";
    const auto at = data.find(kKey);
    if (at == std::string_view::npos) return std::nullopt;
    std::size_t i = at + kKey.size();
    while (i < data.size() && data[i] == ' ') ++i;
    int64_t value = 0;
    const std::size_t start = i;
    for (; i < data.size() && data[i] >= '0' && data[i] <= '9' && i - start < 18; ++i)
        value = value * 10 + (data[i] - '0');
    if (i == start) return std::nullopt;
    return value;
}

constexpr int64_t kLegacyFunctionCall = -1;  // chat's `function_call`, held beside tool calls

}  // namespace

ToolCallStreamFilter::ToolCallStreamFilter(const ToolCallControl& control, std::string rule,
                                           std::string_view path, ApprovalResolver resolver)
    : control_(control),
      rule_(std::move(rule)),
      resolver_(std::move(resolver)),
      responses_(api_endpoint(path) == "/v1/responses"),
      parser_(kMaxHeldBytes) {}

bool ToolCallStreamFilter::feed(std::string_view bytes, std::string& out) {
    if (failed_) return false;
    const bool ok = parser_.feed(
        bytes, [&](const SseEvent& event) { on_event(event, out); },
        [&](std::string_view comment) {
            if (!failed_) out.append(":").append(comment).append("\n\n");
        });
    if (!ok) fail("an event is larger than the stream limit", out);
    return !failed_;
}

bool ToolCallStreamFilter::finish(std::string& out) {
    if (failed_) return false;
    if (!held_.empty()) fail("the stream ended inside a tool call", out);
    return !failed_;
}

void ToolCallStreamFilter::on_event(const SseEvent& event, std::string& out) {
    if (failed_) return;
    if (responses_)
        on_responses(event, out);
    else
        on_chat(event, out);
}

void ToolCallStreamFilter::hold(const SseEvent& event, json data) {
    held_bytes_ += event.data.size();
    held_.push_back({event.event, std::move(data)});
}

void ToolCallStreamFilter::on_chat(const SseEvent& event, std::string& out) {
    if (event.data == "[DONE]") {
        if (!held_.empty()) release_chat(out);
        emit_raw(event, out);
        return;
    }
    // Most events are text: without a call's member name they cannot start or carry one.
    if (held_.empty() && event.data.find("\"tool_calls\"") == std::string::npos &&
        event.data.find("\"function_call\"") == std::string::npos)
        return emit_raw(event, out);
    json chunk = json::parse(event.data, nullptr, false);
    const json* choices = member(chunk, "choices");
    if (chunk.is_discarded() || !choices || !choices->is_array()) {
        if (!held_.empty()) return fail("a chunk of a held tool call is not a chat chunk", out);
        return emit_raw(event, out);
    }
    if (held_.empty() && std::none_of(choices->begin(), choices->end(), carries_calls))
        return emit_raw(event, out);
    for (const auto& choice : *choices) {
        const int64_t index = int_or(choice, "index", 0);
        const json* delta = member(choice, "delta");
        if (carries_calls(choice)) {
            if (finished_choices_.count(index))
                return fail("a tool call delta after its choice finished", out);
            HeldChoice& held = chat_choices_[index];
            held.had_role |= member(*delta, "role") != nullptr;
            auto add = [&](const json& call, int64_t call_index) {
                HeldChatCall& c = held.calls[call_index];
                if (auto id = string_or(call, "id"); !id.empty()) c.id = id;
                if (auto type = string_or(call, "type"); !type.empty()) c.type = type;
                const json* fields = member(call, "function");
                if (!fields) fields = member(call, "custom");
                if (!fields) fields = &call;  // legacy function_call
                c.name += string_or(*fields, "name");
                c.arguments += string_or(*fields, "arguments") + string_or(*fields, "input");
            };
            if (const json* calls = member(*delta, "tool_calls"); calls && calls->is_array())
                for (const auto& call : *calls) add(call, int_or(call, "index", 0));
            if (const json* call = member(*delta, "function_call")) add(*call, kLegacyFunctionCall);
        }
        auto held = chat_choices_.find(index);
        if (held == chat_choices_.end()) continue;
        if (delta) held->second.content += string_or(*delta, "content");
        if (finishes(choice)) {
            held->second.finished = true;
            held->second.finish_reason = choice["finish_reason"];
        }
    }
    hold(event, std::move(chunk));
    if (held_bytes_ > kMaxHeldBytes) return fail("a tool call is larger than the hold limit", out);
    if (std::all_of(chat_choices_.begin(), chat_choices_.end(),
                    [](const auto& entry) { return entry.second.finished; }))
        release_chat(out);
}

void ToolCallStreamFilter::release_chat(std::string& out) {
    struct Outcome {
        json kept = json::array();
        json legacy;
        std::vector<ToolCallRecord> refused;
    };
    std::map<int64_t, Outcome> outcomes;
    bool changed = false;
    for (auto& [choice_index, choice] : chat_choices_) {
        Outcome& outcome = outcomes[choice_index];
        for (auto& [index, call] : choice.calls) {
            ToolCallDecision decision =
                decide_tool_call(control_, {call.name, call.arguments}, resolver_);
            if (decision.action == ToolCallAction::redact) {
                call.arguments.swap(decision.arguments);
                changed = true;
            }
            ToolCallRecord record{call.name, call.arguments, decision.action, decision.reason};
            if (decision.action == ToolCallAction::deny) {
                outcome.refused.push_back(record);
                changed = true;
            } else if (index == kLegacyFunctionCall) {
                outcome.legacy = {{"name", call.name}, {"arguments", call.arguments}};
            } else {
                const bool custom = call.type == "custom";
                json fields = {{"name", call.name},
                               {custom ? "input" : "arguments", call.arguments}};
                outcome.kept.push_back({{"index", outcome.kept.size()},
                                        {"id", call.id},
                                        {"type", call.type.empty() ? "function" : call.type},
                                        {custom ? "custom" : "function", std::move(fields)}});
            }
            calls_.push_back(std::move(record));
        }
    }
    if (!changed) {
        for (auto& held : held_) emit(held.event, std::move(held.data), out);
    } else {
        // The held chunks without the held choices' deltas and finish (other choices' text
        // stays where it was), then per held choice its kept calls, its text with the
        // explanation, and its finish.
        const json base = held_.front().data;
        for (auto& held : held_) {
            json& choices = held.data["choices"];
            json rest = json::array();
            for (auto& choice : choices)
                if (!chat_choices_.count(int_or(choice, "index", 0))) rest.push_back(choice);
            const bool usage = held.data.contains("usage") && !held.data["usage"].is_null();
            if (rest.empty() && !usage) continue;
            choices = std::move(rest);
            emit(held.event, std::move(held.data), out);
        }
        for (auto& entry : outcomes) {
            const int64_t choice_index = entry.first;  // a plain name: lambdas below capture it
            Outcome& outcome = entry.second;
            const HeldChoice& choice = chat_choices_[choice_index];
            auto chunk_with = [&](json delta, json finish_reason) {
                json chunk = base;
                chunk.erase("usage");
                chunk["choices"] = json::array({{{"index", choice_index},
                                                 {"delta", std::move(delta)},
                                                 {"logprobs", nullptr},
                                                 {"finish_reason", std::move(finish_reason)}}});
                return chunk;
            };
            const bool any_kept = !outcome.kept.empty() || !outcome.legacy.is_null();
            json opening = json::object();
            if (choice.had_role) opening["role"] = "assistant";
            if (any_kept) {
                json delta = opening;
                if (!outcome.kept.empty()) delta["tool_calls"] = std::move(outcome.kept);
                if (!outcome.legacy.is_null()) delta["function_call"] = std::move(outcome.legacy);
                emit("", chunk_with(std::move(delta), nullptr), out);
            }
            std::string text = choice.content;
            if (!outcome.refused.empty())
                text += (text.empty() ? "" : "\n\n") + refusal_explanation(outcome.refused, rule_);
            if (!text.empty()) {
                json delta = any_kept ? json::object() : opening;
                delta["content"] = std::move(text);
                emit("", chunk_with(std::move(delta), nullptr), out);
            }
            json finish =
                choice.finish_reason.is_null() ? json("tool_calls") : choice.finish_reason;
            emit("", chunk_with(json::object(), any_kept ? finish : json("stop")), out);
        }
    }
    for (const auto& entry : chat_choices_) finished_choices_[entry.first] = true;
    held_.clear();
    held_bytes_ = 0;
    chat_choices_.clear();
}

void ToolCallStreamFilter::on_responses(const SseEvent& event, std::string& out) {
    // Before anything was replaced, only an added call item needs reading: the rest pass as
    // they are, keeping count of their sequence numbers.
    if (held_.empty() && replacements_.empty() &&
        event.data.find("\"response.output_item.added\"") == std::string::npos &&
        event.data.find("_call\"") == std::string::npos) {
        if (auto number = sequence_number_of(event.data)) next_sequence_ = *number + 1;
        return emit_raw(event, out);
    }
    json data = json::parse(event.data, nullptr, false);
    if (data.is_discarded() || !data.is_object()) {
        if (!held_.empty()) return fail("an event of a held tool call is not JSON", out);
        return emit_raw(event, out);
    }
    const std::string type = string_or(data, "type");
    const int64_t output_index = int_or(data, "output_index", -1);
    const bool call_added = type == "response.output_item.added" && data.contains("item") &&
                            item_tool_call(data["item"]);
    if (!held_.empty() || call_added) {
        if (call_added) pending_items_[output_index] = true;
        if (type == "response.output_item.done" &&
            (pending_items_.erase(output_index) ||
             (data.contains("item") && item_tool_call(data["item"]))))
            done_items_[output_index] = data.contains("item") ? data["item"] : json();
        hold(event, std::move(data));
        if (held_bytes_ > kMaxHeldBytes)
            return fail("a tool call is larger than the hold limit", out);
        if (pending_items_.empty()) release_responses(out);
        return;
    }
    if (json* response = data.contains("response") ? &data["response"] : nullptr;
        response && response->is_object() && response->contains("output") &&
        (*response)["output"].is_array()) {
        settle_output((*response)["output"]);
        return emit(event.event, std::move(data), out);
    }
    if (data.contains("item") && item_tool_call(data["item"])) {
        // A call item in any other event (done without having been added as one, or an event
        // of a type this filter does not know): decided now, like any other.
        if (json instead = decide_item(output_index, data["item"]); !instead.is_null()) {
            replacements_[output_index] = instead;
            if (type == "response.output_item.done")
                return emit_replacement(output_index, instead, out);
            data["item"] = std::move(instead);
            return emit(event.event, std::move(data), out);
        }
    }
    if (renumber_) return emit(event.event, std::move(data), out);
    next_sequence_ = int_or(data, "sequence_number", next_sequence_ - 1) + 1;
    emit_raw(event, out);
}

void ToolCallStreamFilter::release_responses(std::string& out) {
    std::map<int64_t, json> replaced;  // output index → the item the agent gets instead
    for (const auto& [index, item] : done_items_)
        if (json instead = decide_item(index, item); !instead.is_null())
            replaced[index] = std::move(instead);
    for (auto& held : held_) {
        const int64_t index = int_or(held.data, "output_index", -1);
        auto it = replaced.find(index);
        if (it == replaced.end()) {
            emit(held.event, std::move(held.data), out);
        } else if (string_or(held.data, "type") == "response.output_item.done") {
            emit_replacement(index, it->second, out);
            replacements_[index] = it->second;
        }  // the replaced item's other events are dropped
    }
    held_.clear();
    held_bytes_ = 0;
    done_items_.clear();
}

json ToolCallStreamFilter::decide_item(int64_t index, const json& item) {
    auto found = item_tool_call(item);
    if (!found) {
        // Added as a call, done as something else: nothing the agent could run is let by
        // unread.
        if (string_or(item, "type") == "message" || !item.is_object()) return nullptr;
        return explanation_item("msg_sluice_" + string_or(item, "id"),
                                "sluice withheld an output item it could not read");
    }
    ToolCallDecision decision = decide_tool_call(control_, found->call, resolver_);
    ToolCallRecord record{found->call.name, found->call.arguments, decision.action,
                          decision.reason};
    json instead;
    if (decision.action == ToolCallAction::allow) {
        allowed_arguments_[index] = found->call.arguments;
    } else if (decision.action == ToolCallAction::redact && found->arguments_key) {
        instead = item;
        instead[found->arguments_key] = decision.arguments;
        record.arguments = decision.arguments;
    } else {
        if (decision.action == ToolCallAction::redact) {
            record.action = ToolCallAction::deny;  // a built-in's action cannot be redacted
            record.reason += ", arguments cannot be redacted";
        }
        instead = explanation_item("msg_sluice_" + string_or(item, "id"),
                                   refusal_explanation({record}, rule_));
    }
    calls_.push_back(std::move(record));
    return instead;
}

void ToolCallStreamFilter::settle_output(json& output) {
    for (std::size_t i = 0; i < output.size(); ++i) {
        const auto index = static_cast<int64_t>(i);
        if (auto it = replacements_.find(index); it != replacements_.end()) {
            output[i] = it->second;
            continue;
        }
        auto found = item_tool_call(output[i]);
        if (!found) continue;
        if (auto it = allowed_arguments_.find(index);
            it != allowed_arguments_.end() && it->second == found->call.arguments)
            continue;
        if (json instead = decide_item(index, output[i]); !instead.is_null()) {
            replacements_[index] = instead;
            output[i] = std::move(instead);
        }
    }
}

void ToolCallStreamFilter::emit_replacement(int64_t index, const json& item, std::string& out) {
    renumber_ = true;
    auto item_event = [&](const char* type, json value) {
        emit(type, {{"type", type}, {"output_index", index}, {"item", std::move(value)}}, out);
    };
    json opening = item;
    opening["status"] = "in_progress";
    if (string_or(item, "type") != "message") {  // a redacted call: added, then done
        item_event("response.output_item.added", std::move(opening));
        item_event("response.output_item.done", item);
        return;
    }
    opening["content"] = json::array();
    item_event("response.output_item.added", std::move(opening));
    const std::string id = string_or(item, "id");
    const json& part = item["content"][0];
    auto part_event = [&](const char* type, const char* key, json value) {
        json data = {{"type", type},
                     {"item_id", id},
                     {"output_index", index},
                     {"content_index", 0},
                     {key, std::move(value)}};
        if (std::string_view(type).starts_with("response.output_text."))
            data["logprobs"] = json::array();
        emit(type, std::move(data), out);
    };
    json empty_part = part;
    empty_part["text"] = "";
    part_event("response.content_part.added", "part", std::move(empty_part));
    part_event("response.output_text.delta", "delta", part["text"]);
    part_event("response.output_text.done", "text", part["text"]);
    part_event("response.content_part.done", "part", part);
    item_event("response.output_item.done", item);
}

void ToolCallStreamFilter::emit(std::string_view event, json data, std::string& out) {
    if (responses_ && data.is_object()) {
        if (renumber_ || !data.contains("sequence_number"))
            data["sequence_number"] = next_sequence_;
        next_sequence_ = int_or(data, "sequence_number", next_sequence_) + 1;
    }
    append_sse_event(out, event, "", dump_json(data));
}

void ToolCallStreamFilter::emit_raw(const SseEvent& event, std::string& out) {
    append_sse_event(out, event.event, event.id, event.data);
}

void ToolCallStreamFilter::fail(std::string reason, std::string& out) {
    if (failed_) return;
    failed_ = true;
    failure_ = std::move(reason);
    held_.clear();
    constexpr const char* kMessage =
        "sluice: a tool call in the response stream could not be checked, so the stream was ended";
    if (responses_) {
        emit("error",
             {{"type", "error"},
              {"code", "tool_call_policy_failed"},
              {"message", kMessage},
              {"param", nullptr}},
             out);
    } else {
        emit("",
             {{"error",
               {{"message", kMessage},
                {"type", "policy_violation"},
                {"code", "tool_call_policy_failed"}}}},
             out);
    }
}

}  // namespace sluice
