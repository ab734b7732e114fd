#include "policy/tool_calls/tool_call_stream.h"

#include <optional>

namespace sluice {

namespace {

using nlohmann::json;

std::string dump(const json& value) {
    return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

int64_t int_or(const json& object, const char* key, int64_t fallback) {
    if (!object.is_object()) return fallback;
    auto it = object.find(key);
    return it != object.end() && it->is_number_integer() ? it->get<int64_t>() : fallback;
}

std::string string_or(const json& object, const char* key) {
    if (!object.is_object()) return {};
    auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

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

std::string_view endpoint_of(std::string_view path) {
    if (auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
    while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
    return path;
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
      responses_(endpoint_of(path) == "/v1/responses"),
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

void ToolCallStreamFilter::on_chat(const SseEvent& event, std::string& out) {
    if (event.data == "[DONE]") {
        if (!held_.empty()) release_chat(nullptr, out);
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
    const bool has_calls = std::any_of(choices->begin(), choices->end(), carries_calls);
    if (!has_calls) {
        if (held_.empty()) return emit_raw(event, out);
        for (const auto& choice : *choices) {
            if (int_or(choice, "index", 0) != held_choice_) continue;
            if (finishes(choice)) return release_chat(&chunk, out);
            if (const json* delta = member(choice, "delta"))
                held_content_ += string_or(*delta, "content");
            held_bytes_ += event.data.size();
            held_.push_back({event.event, std::move(chunk)});
            return;
        }
        return emit_raw(event, out);  // another choice's chunk, or the usage chunk
    }
    if (choices->size() != 1) return fail("tool calls for several choices in one chunk", out);
    const json& choice = choices->front();
    const int64_t index = int_or(choice, "index", 0);
    if (!held_.empty() && index != held_choice_) release_chat(nullptr, out);
    held_choice_ = index;
    const json& delta = *member(choice, "delta");
    auto add = [&](const json& call, int64_t call_index) {
        HeldChatCall& held = chat_calls_[call_index];
        if (auto id = string_or(call, "id"); !id.empty()) held.id = id;
        if (auto type = string_or(call, "type"); !type.empty()) held.type = type;
        const json* fields = member(call, "function");
        if (!fields) fields = member(call, "custom");
        if (!fields) fields = &call;  // legacy function_call
        held.name += string_or(*fields, "name");
        held.arguments += string_or(*fields, "arguments") + string_or(*fields, "input");
    };
    if (const json* calls = member(delta, "tool_calls"); calls && calls->is_array())
        for (const auto& call : *calls) add(call, int_or(call, "index", 0));
    if (const json* call = member(delta, "function_call")) add(*call, kLegacyFunctionCall);
    held_content_ += string_or(delta, "content");
    held_bytes_ += event.data.size();
    const bool finished = finishes(choice);
    held_.push_back({event.event, std::move(chunk)});
    if (held_bytes_ > kMaxHeldBytes) return fail("a tool call is larger than the hold limit", out);
    if (finished) release_chat(nullptr, out);
}

void ToolCallStreamFilter::release_chat(const json* finish_chunk, std::string& out) {
    std::vector<ToolCallRecord> refused;
    json kept = json::array();
    json legacy;
    bool changed = false;
    for (auto& [index, call] : chat_calls_) {
        ToolCallDecision decision =
            decide_tool_call(control_, {call.name, call.arguments}, resolver_);
        if (decision.action == ToolCallAction::redact) {
            call.arguments.swap(decision.arguments);
            changed = true;
        }
        ToolCallRecord record{
            call.name,
            decision.action == ToolCallAction::redact ? decision.arguments : call.arguments,
            decision.action, decision.reason};
        if (decision.action == ToolCallAction::deny) {
            refused.push_back(record);
            changed = true;
        } else if (index == kLegacyFunctionCall) {
            legacy = {{"name", call.name}, {"arguments", call.arguments}};
        } else {
            const bool custom = call.type == "custom";
            json fields = {{"name", call.name}, {custom ? "input" : "arguments", call.arguments}};
            kept.push_back({{"index", kept.size()},
                            {"id", call.id},
                            {"type", call.type.empty() ? "function" : call.type},
                            {custom ? "custom" : "function", std::move(fields)}});
        }
        calls_.push_back(std::move(record));
    }
    if (!changed) {
        for (auto& held : held_) emit(held.event, std::move(held.data), out);
        if (finish_chunk) emit("", *finish_chunk, out);
    } else {
        json base = held_.front().data;
        const json* first_delta = member(base["choices"][0], "delta");
        const bool had_role = first_delta && member(*first_delta, "role");
        const bool any_kept = !kept.empty() || !legacy.is_null();
        auto chunk_with = [&](json delta, json finish_reason) {
            json chunk = base;
            chunk["choices"] = json::array({{{"index", held_choice_},
                                             {"delta", std::move(delta)},
                                             {"logprobs", nullptr},
                                             {"finish_reason", std::move(finish_reason)}}});
            return chunk;
        };
        if (any_kept) {
            json delta = json::object();
            if (had_role) delta["role"] = "assistant";
            if (!kept.empty()) delta["tool_calls"] = std::move(kept);
            if (!legacy.is_null()) delta["function_call"] = std::move(legacy);
            emit("", chunk_with(std::move(delta), nullptr), out);
        }
        if (!refused.empty()) {
            json delta = {{"content", (held_content_.empty() ? "" : held_content_ + "\n\n") +
                                          refusal_explanation(refused, rule_)}};
            if (had_role && !any_kept) delta["role"] = "assistant";
            emit("", chunk_with(std::move(delta), nullptr), out);
        }
        json finish = finish_chunk ? *finish_chunk : chunk_with(json::object(), "tool_calls");
        for (auto& choice : finish["choices"])
            if (int_or(choice, "index", 0) == held_choice_ && !any_kept)
                choice["finish_reason"] = "stop";
        emit("", std::move(finish), out);
    }
    held_.clear();
    held_bytes_ = 0;
    chat_calls_.clear();
    held_content_.clear();
    held_choice_ = -1;
}

void ToolCallStreamFilter::on_responses(const SseEvent& event, std::string& out) {
    // Before anything was replaced, only an added call item needs reading: the rest pass as
    // they are, keeping count of their sequence numbers.
    if (held_.empty() && replacements_.empty() &&
        event.data.find("\"response.output_item.added\"") == std::string::npos) {
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
    if (!held_.empty()) {
        held_bytes_ += event.data.size();
        if (held_bytes_ > kMaxHeldBytes)
            return fail("a tool call is larger than the hold limit", out);
        const bool done = type == "response.output_item.done" && output_index == held_output_;
        json item = done ? data["item"] : json();
        held_.push_back({event.event, std::move(data)});
        if (done) release_responses_item(item, out);
        return;
    }
    if (type == "response.output_item.added" && data.contains("item") &&
        item_tool_call(data["item"])) {
        held_output_ = output_index;
        held_bytes_ = event.data.size();
        held_.push_back({event.event, std::move(data)});
        return;
    }
    if (json* response = data.contains("response") ? &data["response"] : nullptr;
        response && !replacements_.empty() && response->is_object() &&
        response->contains("output") && (*response)["output"].is_array()) {
        json& output = (*response)["output"];
        for (auto& [index, item] : replacements_)
            if (index >= 0 && static_cast<std::size_t>(index) < output.size())
                output[static_cast<std::size_t>(index)] = item;
        return emit(event.event, std::move(data), out);
    }
    if (renumber_) return emit(event.event, std::move(data), out);
    next_sequence_ = int_or(data, "sequence_number", next_sequence_ - 1) + 1;
    emit_raw(event, out);
}

void ToolCallStreamFilter::release_responses_item(const json& item, std::string& out) {
    auto found = item_tool_call(item);
    ToolCallDecision decision =
        found ? decide_tool_call(control_, found->call, resolver_) : ToolCallDecision{};
    ToolCallRecord record{found ? found->call.name : "", found ? found->call.arguments : "",
                          decision.action, decision.reason};
    const int64_t index = held_output_;
    auto item_event = [&](const char* type, json value) {
        emit(type, {{"type", type}, {"output_index", index}, {"item", std::move(value)}}, out);
    };
    if (decision.action == ToolCallAction::allow) {
        for (auto& held : held_) emit(held.event, std::move(held.data), out);
    } else if (decision.action == ToolCallAction::redact && found->arguments_key) {
        json redacted = item;
        redacted[found->arguments_key] = decision.arguments;
        record.arguments = decision.arguments;
        json added = redacted;
        added["status"] = "in_progress";
        item_event("response.output_item.added", std::move(added));
        item_event("response.output_item.done", redacted);
        replacements_[index] = std::move(redacted);
        renumber_ = true;
    } else {
        if (decision.action == ToolCallAction::redact) {
            record.action = ToolCallAction::deny;  // a built-in's action cannot be redacted
            record.reason += ", arguments cannot be redacted";
        }
        const std::string text = refusal_explanation({record}, rule_);
        const std::string id = "msg_sluice_" + string_or(item, "id");
        json message = explanation_item(id, text);
        json opening = message;
        opening["status"] = "in_progress";
        opening["content"] = json::array();
        item_event("response.output_item.added", std::move(opening));
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
        const json empty_part = {
            {"type", "output_text"}, {"text", ""}, {"annotations", json::array()}};
        part_event("response.content_part.added", "part", empty_part);
        part_event("response.output_text.delta", "delta", text);
        part_event("response.output_text.done", "text", text);
        part_event("response.content_part.done", "part", message["content"][0]);
        item_event("response.output_item.done", message);
        replacements_[index] = std::move(message);
        renumber_ = true;
    }
    calls_.push_back(std::move(record));
    held_.clear();
    held_bytes_ = 0;
    held_output_ = -1;
}

void ToolCallStreamFilter::emit(std::string_view event, json data, std::string& out) {
    if (responses_ && data.is_object()) {
        if (renumber_ || !data.contains("sequence_number"))
            data["sequence_number"] = next_sequence_;
        next_sequence_ = int_or(data, "sequence_number", next_sequence_) + 1;
    }
    if (!event.empty()) out.append("event: ").append(event).append("\n");
    out.append("data: ").append(dump(data)).append("\n\n");
}

void ToolCallStreamFilter::emit_raw(const SseEvent& event, std::string& out) {
    if (!event.event.empty()) out.append("event: ").append(event.event).append("\n");
    if (!event.id.empty()) out.append("id: ").append(event.id).append("\n");
    std::string_view data = event.data;
    while (true) {
        const auto newline = data.find('\n');
        out.append("data: ").append(data.substr(0, newline)).append("\n");
        if (newline == std::string_view::npos) break;
        data.remove_prefix(newline + 1);
    }
    out.append("\n");
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
