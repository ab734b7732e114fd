#include "tests/fake_openai/openai_replies.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "tests/fake_openai/limits.h"

namespace sluice::fake_openai {
namespace {

// Insertion-ordered so replies read like OpenAI's ("id" and "type" first); clients don't care.
using json = nlohmann::ordered_json;

// Fixed so that a reply is a function of the request alone.
constexpr std::int64_t kCreatedAt = 1700000000;

std::uint64_t fnv1a(std::string_view bytes, std::uint64_t hash = 1469598103934665603ull) {
    for (unsigned char c : bytes) {
        hash ^= c;
        hash *= 1099511628211ull;
    }
    return hash;
}

std::string make_id(std::string_view prefix, std::string_view body, std::string_view salt) {
    std::array<char, 17> hex{};
    std::snprintf(hex.data(), hex.size(), "%016llx",
                  static_cast<unsigned long long>(fnv1a(salt, fnv1a(body))));
    return std::string(prefix) + hex.data();
}

// Request text may hold invalid UTF-8 (it came through a proxy under test); never throw on it.
std::string dump(const json& value) {
    return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

json null_if_empty(std::string_view s) { return s.empty() ? json(nullptr) : json(s); }

ApiReply json_reply(unsigned status, const json& body, std::string request_id) {
    ApiReply reply;
    reply.status = status;
    reply.request_id = std::move(request_id);
    reply.json_body = dump(body);
    return reply;
}

ApiReply error_reply(unsigned status, std::string_view message, std::string_view type,
                     std::string_view param, std::string_view code, std::string request_id) {
    ApiReply reply;
    reply.status = status;
    reply.request_id = std::move(request_id);
    reply.json_body = error_body(message, type, param, code);
    return reply;
}

ApiReply injected_failure(unsigned status, std::string request_id) {
    std::string_view type = "invalid_request_error";
    std::string_view code;
    if (status == 401) {
        code = "invalid_api_key";
    } else if (status == 403) {
        type = "permission_error";
    } else if (status == 429) {
        type = "requests";
        code = "rate_limit_exceeded";
    } else if (status >= 500) {
        type = "server_error";
    }
    return error_reply(status, "fake-openai: injected failure (--fail-status)", type, "", code,
                       std::move(request_id));
}

bool flag(const json& object, const char* key) {
    auto it = object.find(key);
    return it != object.end() && it->is_boolean() && it->get<bool>();
}

std::string string_field(const json& object, const char* key) {
    auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Text of a chat message content / Responses content / tool output: a string, or an array
// of parts ({"type":"text"|"input_text"|"output_text","text":...}), or an object with text.
std::string text_of(const json& content) {
    if (content.is_string()) return content.get<std::string>();
    std::string text;
    if (content.is_array()) {
        for (const auto& part : content) text += text_of(part);
    } else if (content.is_object()) {
        text = string_field(content, "text");
    }
    return text;
}

// Arguments for a function tool that satisfy its JSON schema, so SDKs that validate
// arguments (the Agents SDK with zod, strict mode) accept them. Strings carry `seed`
// (the last user text) so a test can see what the "model" saw.
json sample_for_schema(const json& schema, const std::string& seed, int depth) {
    if (!schema.is_object() || depth > 8) return nullptr;
    if (auto it = schema.find("const"); it != schema.end()) return *it;
    if (auto it = schema.find("enum"); it != schema.end() && it->is_array() && !it->empty()) {
        return it->front();
    }
    for (const char* alternatives : {"anyOf", "oneOf", "allOf"}) {
        auto it = schema.find(alternatives);
        if (it == schema.end() || !it->is_array()) continue;
        for (const auto& option : *it) {
            if (option.is_object() && string_field(option, "type") != "null") {
                return sample_for_schema(option, seed, depth + 1);
            }
        }
    }
    std::string type;
    if (auto it = schema.find("type"); it != schema.end()) {
        if (it->is_string()) {
            type = it->get<std::string>();
        } else if (it->is_array()) {
            for (const auto& t : *it) {
                if (t.is_string() && t.get<std::string>() != "null") {
                    type = t.get<std::string>();
                    break;
                }
            }
        }
    }
    if (type.empty() && schema.contains("properties")) type = "object";
    if (type == "string") return seed;
    if (type == "integer" || type == "number") return seed.size();
    if (type == "boolean") return true;
    if (type == "array") return json::array();
    if (type == "object") {
        json object = json::object();
        if (auto it = schema.find("properties"); it != schema.end() && it->is_object()) {
            for (const auto& [name, property] : it->items()) {
                object[name] = sample_for_schema(property, seed, depth + 1);
            }
        }
        return object;
    }
    return nullptr;
}

std::string tool_arguments(const json& parameters, const std::string& seed) {
    json arguments = sample_for_schema(parameters, seed, 0);
    if (!arguments.is_object()) arguments = json::object();
    return dump(arguments);
}

std::string answer_text(const std::string& user_text, const std::vector<std::string>& outputs,
                        std::string_view suffix) {
    std::string text = "echo: " + user_text;
    if (!outputs.empty()) {
        text += " | tool: ";
        for (std::size_t i = 0; i < outputs.size(); ++i) {
            if (i != 0) text += "; ";
            text += outputs[i];
        }
    }
    text += suffix;
    return text;
}

// Splits JSON-escaped-free raw bytes into pieces of at most kMaxDeltaBytes, never inside a
// UTF-8 sequence.
std::vector<std::string> split_bytes(std::string_view text) {
    std::vector<std::string> pieces;
    while (!text.empty()) {
        std::size_t cut = std::min(text.size(), kMaxDeltaBytes);
        while (cut < text.size() && cut > 1 &&
               (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) {
            --cut;
        }
        pieces.emplace_back(text.substr(0, cut));
        text.remove_prefix(cut);
    }
    return pieces;
}

// ---------------------------------------------------------------- models

const std::array<const char*, 6> kModelIds = {
    "gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "o4-mini", "text-embedding-3-small"};

json model_object(std::string_view id) {
    return json{{"id", id}, {"object", "model"}, {"created", kCreatedAt}, {"owned_by", "openai"}};
}

ApiReply answer_models(std::string request_id) {
    json data = json::array();
    for (const char* id : kModelIds) data.push_back(model_object(id));
    return json_reply(200, json{{"object", "list"}, {"data", data}}, std::move(request_id));
}

ApiReply answer_model(std::string_view id, std::string request_id) {
    for (const char* known : kModelIds) {
        if (id == known) return json_reply(200, model_object(id), std::move(request_id));
    }
    return error_reply(404, "The model '" + std::string(id) + "' does not exist",
                       "invalid_request_error", "model", "model_not_found", std::move(request_id));
}

// ---------------------------------------------------------------- chat completions

struct ChosenTool {
    std::string name;
    json parameters;
};

std::optional<ChosenTool> choose_chat_tool(const json& request) {
    auto tools = request.find("tools");
    if (tools == request.end() || !tools->is_array()) return std::nullopt;
    std::string wanted;
    if (auto choice = request.find("tool_choice"); choice != request.end()) {
        if (choice->is_string() && choice->get<std::string>() == "none") return std::nullopt;
        if (choice->is_object() && choice->contains("function")) {
            wanted = string_field((*choice)["function"], "name");
        }
    }
    for (const auto& tool : *tools) {
        if (!tool.is_object() || string_field(tool, "type") != "function") continue;
        auto function = tool.find("function");
        if (function == tool.end() || !function->is_object()) continue;
        std::string name = string_field(*function, "name");
        if (name.empty() || (!wanted.empty() && name != wanted)) continue;
        json parameters =
            function->contains("parameters") ? (*function)["parameters"] : json::object();
        return ChosenTool{name, parameters};
    }
    return std::nullopt;
}

json chat_usage(std::uint64_t prompt_tokens, std::uint64_t completion_tokens) {
    return json{{"prompt_tokens", prompt_tokens},
                {"completion_tokens", completion_tokens},
                {"total_tokens", prompt_tokens + completion_tokens},
                {"prompt_tokens_details", {{"cached_tokens", 0}, {"audio_tokens", 0}}},
                {"completion_tokens_details",
                 {{"reasoning_tokens", 0},
                  {"audio_tokens", 0},
                  {"accepted_prediction_tokens", 0},
                  {"rejected_prediction_tokens", 0}}}};
}

class ChatChunkWriter {
public:
    ChatChunkWriter(std::string id, std::string model, bool include_usage)
        : id_(std::move(id)), model_(std::move(model)), include_usage_(include_usage) {}

    void add_delta(const json& delta, const json& finish_reason, int index = 0) {
        json choice = {{"index", index},
                       {"delta", delta},
                       {"logprobs", nullptr},
                       {"finish_reason", finish_reason}};
        json chunk = head();
        chunk["choices"] = json::array({choice});
        if (include_usage_) chunk["usage"] = nullptr;
        add(chunk);
    }
    void add_usage(const json& usage) {
        json chunk = head();
        chunk["choices"] = json::array();
        chunk["usage"] = usage;
        add(chunk);
    }
    std::vector<std::string> finish() {
        events_.emplace_back("data: [DONE]\n\n");
        return std::move(events_);
    }

private:
    json head() const {
        return json{{"id", id_},
                    {"object", "chat.completion.chunk"},
                    {"created", kCreatedAt},
                    {"model", model_},
                    {"service_tier", "default"},
                    {"system_fingerprint", "fp_fake"}};
    }
    void add(const json& chunk) { events_.push_back("data: " + dump(chunk) + "\n\n"); }

    std::string id_;
    std::string model_;
    bool include_usage_;
    std::vector<std::string> events_;
};

// `n` choices (default 1), each the same answer: OpenAI bills every choice's tokens.
int choice_count(const json& request) {
    auto it = request.find("n");
    if (it == request.end() || !it->is_number_integer()) return 1;
    return static_cast<int>(std::clamp<int64_t>(it->get<int64_t>(), 1, 128));
}

// The output cap a provider honours: the larger of the two chat fields, nullopt when none.
std::optional<std::uint64_t> chat_output_cap(const json& request) {
    std::optional<std::uint64_t> cap;
    for (const char* key : {"max_completion_tokens", "max_tokens"}) {
        auto it = request.find(key);
        if (it == request.end() || !it->is_number_integer() || it->get<int64_t>() < 0) continue;
        cap = std::max(cap.value_or(0), it->get<std::uint64_t>());
    }
    return cap;
}

ApiReply answer_chat(const json& request, std::string_view body, std::string request_id,
                     const ReplyBehavior& behavior) {
    const std::string_view answer_suffix = behavior.answer_suffix;
    auto messages = request.find("messages");
    if (messages == request.end() || !messages->is_array()) {
        return error_reply(400, "Missing required parameter: 'messages'.", "invalid_request_error",
                           "messages", "missing_required_parameter", std::move(request_id));
    }
    std::string model = string_field(request, "model");
    if (model.empty()) {
        return error_reply(400, "you must provide a model parameter", "invalid_request_error", "",
                           "", std::move(request_id));
    }

    std::size_t input_bytes = 0;
    std::string user_text;
    for (const auto& message : *messages) {
        if (!message.is_object()) continue;
        std::string text = message.contains("content") ? text_of(message["content"]) : "";
        input_bytes += text.size();
        if (string_field(message, "role") == "user") user_text = std::move(text);
    }
    // Tool results that answer the last assistant turn.
    std::vector<std::string> tool_outputs;
    for (auto it = messages->rbegin(); it != messages->rend(); ++it) {
        if (!it->is_object() || string_field(*it, "role") != "tool") break;
        tool_outputs.insert(tool_outputs.begin(),
                            it->contains("content") ? text_of((*it)["content"]) : "");
    }

    std::optional<ChosenTool> tool = choose_chat_tool(request);
    const bool call_tool = tool && tool_outputs.empty();
    const std::string completion_id = make_id("chatcmpl-", body, "chat");
    const std::string call_id = make_id("call_", body, "call");

    std::string text;
    std::string arguments;
    if (call_tool) {
        arguments = tool_arguments(tool->parameters, user_text);
    } else {
        text = answer_text(user_text, tool_outputs, answer_suffix);
    }
    const std::uint64_t prompt_tokens = count_tokens(input_bytes);
    const int choices = choice_count(request);
    std::uint64_t choice_tokens =
        count_tokens(call_tool ? tool->name.size() + arguments.size() : text.size());
    if (const auto cap = chat_output_cap(request)) {
        choice_tokens = behavior.bill_to_cap ? *cap : std::min(choice_tokens, *cap);
    }
    const std::uint64_t completion_tokens = choice_tokens * static_cast<std::uint64_t>(choices);
    const char* finish_reason = call_tool ? "tool_calls" : "stop";

    if (!flag(request, "stream")) {
        json message = {{"role", "assistant"}};
        if (call_tool) {
            message["content"] = nullptr;
            message["tool_calls"] =
                json::array({{{"id", call_id},
                              {"type", "function"},
                              {"function", {{"name", tool->name}, {"arguments", arguments}}}}});
        } else {
            message["content"] = text;
        }
        message["refusal"] = nullptr;
        message["annotations"] = json::array();
        json completion = {
            {"id", completion_id},       {"object", "chat.completion"},
            {"created", kCreatedAt},     {"model", model},
            {"choices", json::array()},  {"usage", chat_usage(prompt_tokens, completion_tokens)},
            {"service_tier", "default"}, {"system_fingerprint", "fp_fake"}};
        for (int i = 0; i < choices; ++i)
            completion["choices"].push_back({{"index", i},
                                             {"message", message},
                                             {"logprobs", nullptr},
                                             {"finish_reason", finish_reason}});
        return json_reply(200, completion, std::move(request_id));
    }

    bool include_usage = false;
    if (auto options = request.find("stream_options");
        options != request.end() && options->is_object()) {
        include_usage = flag(*options, "include_usage");
    }
    ChatChunkWriter writer(completion_id, model, include_usage);
    for (int i = 0; i < choices; ++i) {
        if (call_tool) {
            writer.add_delta(
                {{"role", "assistant"},
                 {"content", nullptr},
                 {"tool_calls",
                  json::array({{{"index", 0},
                                {"id", call_id},
                                {"type", "function"},
                                {"function", {{"name", tool->name}, {"arguments", ""}}}}})},
                 {"refusal", nullptr}},
                nullptr, i);
            for (const auto& piece : split_bytes(arguments)) {
                writer.add_delta(
                    {{"tool_calls",
                      json::array({{{"index", 0}, {"function", {{"arguments", piece}}}}})}},
                    nullptr, i);
            }
        } else {
            writer.add_delta({{"role", "assistant"}, {"content", ""}, {"refusal", nullptr}},
                             nullptr, i);
            for (const auto& piece : split_into_deltas(text))
                writer.add_delta({{"content", piece}}, nullptr, i);
        }
        writer.add_delta(json::object(), finish_reason, i);
    }
    if (include_usage) writer.add_usage(chat_usage(prompt_tokens, completion_tokens));

    ApiReply reply;
    reply.request_id = std::move(request_id);
    reply.streaming = true;
    reply.sse_events = writer.finish();
    return reply;
}

// ---------------------------------------------------------------- responses

std::optional<ChosenTool> choose_responses_tool(const json& request) {
    auto tools = request.find("tools");
    if (tools == request.end() || !tools->is_array()) return std::nullopt;
    std::string wanted;
    if (auto choice = request.find("tool_choice"); choice != request.end()) {
        if (choice->is_string() && choice->get<std::string>() == "none") return std::nullopt;
        if (choice->is_object()) wanted = string_field(*choice, "name");
    }
    for (const auto& tool : *tools) {
        if (!tool.is_object() || string_field(tool, "type") != "function") continue;
        std::string name = string_field(tool, "name");
        if (name.empty() || (!wanted.empty() && name != wanted)) continue;
        json parameters = tool.contains("parameters") ? tool["parameters"] : json::object();
        return ChosenTool{name, parameters};
    }
    return std::nullopt;
}

json responses_usage(std::uint64_t input_tokens, std::uint64_t output_tokens) {
    return json{{"input_tokens", input_tokens},
                {"input_tokens_details", {{"cached_tokens", 0}}},
                {"output_tokens", output_tokens},
                {"output_tokens_details", {{"reasoning_tokens", 0}}},
                {"total_tokens", input_tokens + output_tokens}};
}

json response_object(const json& request, const std::string& id, const std::string& model,
                     std::string_view status, const json& output, const json& usage) {
    json response = {{"id", id},
                     {"object", "response"},
                     {"created_at", kCreatedAt},
                     {"status", status},
                     {"background", false},
                     {"error", nullptr},
                     {"incomplete_details", nullptr},
                     {"instructions", nullptr},
                     {"max_output_tokens", nullptr},
                     {"model", model},
                     {"output", output},
                     {"parallel_tool_calls", true},
                     {"previous_response_id", nullptr},
                     {"reasoning", {{"effort", nullptr}, {"summary", nullptr}}},
                     {"service_tier", "default"},
                     {"store", true},
                     {"temperature", 1.0},
                     {"text", {{"format", {{"type", "text"}}}}},
                     {"tool_choice", "auto"},
                     {"tools", json::array()},
                     {"top_p", 1.0},
                     {"truncation", "disabled"},
                     {"usage", usage},
                     {"user", nullptr},
                     {"metadata", json::object()}};
    // Echo the request's settings back, as OpenAI does.
    for (const char* key : {"instructions", "max_output_tokens", "parallel_tool_calls",
                            "previous_response_id", "store", "temperature", "text", "tool_choice",
                            "tools", "top_p", "truncation", "user", "metadata"}) {
        if (auto it = request.find(key); it != request.end() && !it->is_null()) response[key] = *it;
    }
    return response;
}

class ResponsesEventWriter {
public:
    void add(std::string_view type, const json& fields) {
        json event = {{"type", type}, {"sequence_number", sequence_number_++}};
        for (const auto& [key, value] : fields.items()) event[key] = value;
        events_.push_back("event: " + std::string(type) + "\ndata: " + dump(event) + "\n\n");
    }
    std::vector<std::string> finish() { return std::move(events_); }

private:
    std::uint64_t sequence_number_ = 0;
    std::vector<std::string> events_;
};

ApiReply answer_responses(const json& request, std::string_view body, std::string request_id,
                          std::string_view answer_suffix) {
    std::string model = string_field(request, "model");
    if (model.empty()) {
        return error_reply(400, "Missing required parameter: 'model'.", "invalid_request_error",
                           "model", "missing_required_parameter", std::move(request_id));
    }
    std::size_t input_bytes = string_field(request, "instructions").size();
    std::string user_text;
    std::vector<std::string> tool_outputs;
    if (auto input = request.find("input"); input != request.end()) {
        if (input->is_string()) {
            user_text = input->get<std::string>();
            input_bytes += user_text.size();
        } else if (input->is_array()) {
            for (const auto& item : *input) {
                if (!item.is_object()) continue;
                const std::string type = string_field(item, "type");
                if (type == "function_call_output") {
                    std::string output = item.contains("output") ? text_of(item["output"]) : "";
                    input_bytes += output.size();
                    tool_outputs.push_back(std::move(output));
                    continue;
                }
                // Tool results only count while they answer the latest turn.
                tool_outputs.clear();
                if (type == "function_call") {
                    input_bytes += string_field(item, "arguments").size();
                    continue;
                }
                std::string text = item.contains("content") ? text_of(item["content"]) : "";
                input_bytes += text.size();
                if (string_field(item, "role") == "user") user_text = std::move(text);
            }
        }
    }

    std::optional<ChosenTool> tool = choose_responses_tool(request);
    const bool call_tool = tool && tool_outputs.empty();
    const std::string response_id = make_id("resp_", body, "response");
    const std::string item_id = make_id(call_tool ? "fc_" : "msg_", body, "item");
    const std::string call_id = make_id("call_", body, "call");

    std::string text;
    std::string arguments;
    if (call_tool) {
        arguments = tool_arguments(tool->parameters, user_text);
    } else {
        text = answer_text(user_text, tool_outputs, answer_suffix);
    }
    const json usage = responses_usage(
        count_tokens(input_bytes),
        count_tokens(call_tool ? tool->name.size() + arguments.size() : text.size()));

    auto function_call_item = [&](std::string_view status, std::string_view args) {
        return json{{"id", item_id},     {"type", "function_call"}, {"status", status},
                    {"arguments", args}, {"call_id", call_id},      {"name", tool->name}};
    };
    auto text_part = [&](std::string_view part_text) {
        return json{{"type", "output_text"},
                    {"annotations", json::array()},
                    {"logprobs", json::array()},
                    {"text", part_text}};
    };
    auto message_item = [&](std::string_view status, const json& content) {
        return json{{"id", item_id},
                    {"type", "message"},
                    {"status", status},
                    {"content", content},
                    {"role", "assistant"}};
    };
    const json done_item = call_tool ? function_call_item("completed", arguments)
                                     : message_item("completed", json::array({text_part(text)}));
    const json completed =
        response_object(request, response_id, model, "completed", json::array({done_item}), usage);

    if (!flag(request, "stream")) return json_reply(200, completed, std::move(request_id));

    ResponsesEventWriter writer;
    const json in_progress =
        response_object(request, response_id, model, "in_progress", json::array(), nullptr);
    writer.add("response.created", {{"response", in_progress}});
    writer.add("response.in_progress", {{"response", in_progress}});
    if (call_tool) {
        writer.add("response.output_item.added",
                   {{"output_index", 0}, {"item", function_call_item("in_progress", "")}});
        for (const auto& piece : split_bytes(arguments)) {
            writer.add("response.function_call_arguments.delta",
                       {{"item_id", item_id}, {"output_index", 0}, {"delta", piece}});
        }
        writer.add("response.function_call_arguments.done", {{"item_id", item_id},
                                                             {"output_index", 0},
                                                             {"name", tool->name},
                                                             {"arguments", arguments}});
    } else {
        writer.add("response.output_item.added",
                   {{"output_index", 0}, {"item", message_item("in_progress", json::array())}});
        const json where = {{"item_id", item_id}, {"output_index", 0}, {"content_index", 0}};
        json added = where;
        added["part"] = text_part("");
        writer.add("response.content_part.added", added);
        for (const auto& piece : split_into_deltas(text)) {
            json delta = where;
            delta["delta"] = piece;
            delta["logprobs"] = json::array();
            writer.add("response.output_text.delta", delta);
        }
        json text_done = where;
        text_done["text"] = text;
        text_done["logprobs"] = json::array();
        writer.add("response.output_text.done", text_done);
        json part_done = where;
        part_done["part"] = text_part(text);
        writer.add("response.content_part.done", part_done);
    }
    writer.add("response.output_item.done", {{"output_index", 0}, {"item", done_item}});
    writer.add("response.completed", {{"response", completed}});

    ApiReply reply;
    reply.request_id = std::move(request_id);
    reply.streaming = true;
    reply.sse_events = writer.finish();
    return reply;
}

// ---------------------------------------------------------------- embeddings

// Components are (byte - 128) / 128: exact in float32, so the float and base64 encodings of
// one input agree bit for bit.
std::vector<float> embed(std::string_view input, std::size_t dimensions) {
    std::vector<float> vector(dimensions);
    std::uint64_t hash = 0;
    for (std::size_t i = 0; i < dimensions; ++i) {
        if (i % 8 == 0) hash = fnv1a(input, fnv1a(std::to_string(i)));
        const auto byte = static_cast<int>((hash >> (8 * (i % 8))) & 0xff);
        vector[i] = static_cast<float>(byte - 128) / 128.0f;
    }
    return vector;
}

ApiReply answer_embeddings(const json& request, std::string request_id) {
    std::string model = string_field(request, "model");
    if (model.empty()) {
        return error_reply(400, "Missing required parameter: 'model'.", "invalid_request_error",
                           "model", "missing_required_parameter", std::move(request_id));
    }
    std::vector<std::string> inputs;
    auto input = request.find("input");
    if (input != request.end() && input->is_string()) {
        inputs.push_back(input->get<std::string>());
    } else if (input != request.end() && input->is_array() && !input->empty()) {
        if (input->front().is_number_integer()) {
            inputs.push_back(dump(*input));  // one input given as token ids
        } else {
            for (const auto& element : *input) {
                inputs.push_back(element.is_string() ? element.get<std::string>() : dump(element));
            }
        }
    } else {
        return error_reply(400, "'input' must be a string or a non-empty array",
                           "invalid_request_error", "input", "invalid_value",
                           std::move(request_id));
    }
    std::size_t dimensions = 8;
    if (auto it = request.find("dimensions"); it != request.end() && it->is_number_unsigned()) {
        dimensions = std::clamp<std::size_t>(it->get<std::size_t>(), 1, kMaxEmbeddingDimensions);
    }
    const bool as_base64 = string_field(request, "encoding_format") == "base64";

    json data = json::array();
    std::uint64_t tokens = 0;
    for (std::size_t index = 0; index < inputs.size(); ++index) {
        const std::vector<float> vector = embed(inputs[index], dimensions);
        tokens += count_tokens(inputs[index].size());
        json embedding;
        if (as_base64) {
            // OpenAI sends little-endian float32; so does every machine this runs on.
            embedding = base64_encode(std::string_view(reinterpret_cast<const char*>(vector.data()),
                                                       vector.size() * sizeof(float)));
        } else {
            embedding = vector;
        }
        data.push_back({{"object", "embedding"}, {"index", index}, {"embedding", embedding}});
    }
    return json_reply(200,
                      json{{"object", "list"},
                           {"data", data},
                           {"model", model},
                           {"usage", {{"prompt_tokens", tokens}, {"total_tokens", tokens}}}},
                      std::move(request_id));
}

// ---------------------------------------------------------------- files

ApiReply answer_file_upload(const std::optional<UploadSummary>& upload, std::string request_id) {
    if (!upload || upload->malformed || !upload->found_file) {
        return error_reply(400, "Missing required parameter: 'file'.", "invalid_request_error",
                           "file", "missing_required_parameter", std::move(request_id));
    }
    const std::string identity = upload->filename + "/" + std::to_string(upload->file_bytes);
    return json_reply(200,
                      json{{"object", "file"},
                           {"id", make_id("file-", identity, upload->purpose)},
                           {"purpose", upload->purpose.empty() ? "user_data" : upload->purpose},
                           {"filename", upload->filename},
                           {"bytes", upload->file_bytes},
                           {"created_at", kCreatedAt},
                           {"expires_at", nullptr},
                           {"status", "processed"},
                           {"status_details", nullptr}},
                      std::move(request_id));
}

}  // namespace

std::uint64_t count_tokens(std::size_t text_bytes) {
    return std::max<std::uint64_t>(1, (text_bytes + 3) / 4);
}

std::vector<std::string> split_into_deltas(std::string_view text) {
    // One word plus the spaces after it per delta, long words cut into kMaxDeltaBytes pieces:
    // roughly what a tokenizer does, and it splits values like card numbers across deltas.
    std::vector<std::string> deltas;
    while (!text.empty()) {
        std::size_t end = text.find(' ');
        end = end == std::string_view::npos ? text.size() : text.find_first_not_of(' ', end);
        if (end == std::string_view::npos) end = text.size();
        for (auto& piece : split_bytes(text.substr(0, end))) deltas.push_back(std::move(piece));
        text.remove_prefix(end);
    }
    return deltas;
}

std::string error_body(std::string_view message, std::string_view type, std::string_view param,
                       std::string_view code) {
    return dump(json{{"error",
                      {{"message", message},
                       {"type", type},
                       {"param", null_if_empty(param)},
                       {"code", null_if_empty(code)}}}});
}

ApiReply answer_request(const ApiRequest& request, const ReplyBehavior& behavior) {
    std::string request_id = make_id("req_", request.body, request.target);
    if (!behavior.expected_api_key.empty() &&
        request.authorization != "Bearer " + behavior.expected_api_key) {
        return error_reply(
            401,
            request.authorization.empty()
                ? "You didn't provide an API key. You need to provide your API key in "
                  "an Authorization header using Bearer auth."
                : "Incorrect API key provided. You can find your API key at "
                  "https://platform.openai.com/account/api-keys.",
            "invalid_request_error", "", "invalid_api_key", std::move(request_id));
    }
    if (behavior.fail_status != 0)
        return injected_failure(behavior.fail_status, std::move(request_id));

    const std::string_view path = request.target.substr(0, request.target.find('?'));
    constexpr std::string_view kModelPrefix = "/v1/models/";
    if (request.method == "GET" && path == "/v1/models")
        return answer_models(std::move(request_id));
    if (request.method == "GET" && path.starts_with(kModelPrefix) &&
        path.size() > kModelPrefix.size()) {
        return answer_model(path.substr(kModelPrefix.size()), std::move(request_id));
    }
    if (request.method == "POST" && path == "/v1/files") {
        return answer_file_upload(request.upload, std::move(request_id));
    }
    const bool json_endpoint =
        request.method == "POST" &&
        (path == "/v1/chat/completions" || path == "/v1/responses" || path == "/v1/embeddings");
    if (!json_endpoint) {
        return error_reply(
            404, "Invalid URL (" + std::string(request.method) + " " + std::string(path) + ")",
            "invalid_request_error", "", "unknown_url", std::move(request_id));
    }
    const json body = json::parse(request.body, nullptr, /*allow_exceptions=*/false);
    if (!body.is_object()) {
        return error_reply(400,
                           "We could not parse the JSON body of your request. (HINT: This likely "
                           "means you aren't using your HTTP library correctly.)",
                           "invalid_request_error", "", "", std::move(request_id));
    }
    if (path == "/v1/chat/completions")
        return answer_chat(body, request.body, std::move(request_id), behavior);
    if (path == "/v1/responses")
        return answer_responses(body, request.body, std::move(request_id), behavior.answer_suffix);
    return answer_embeddings(body, std::move(request_id));
}

std::string base64_encode(std::string_view bytes) {
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 2 < bytes.size(); i += 3) {
        const std::uint32_t n = (static_cast<unsigned char>(bytes[i]) << 16) |
                                (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                                static_cast<unsigned char>(bytes[i + 2]);
        out += kAlphabet[(n >> 18) & 63];
        out += kAlphabet[(n >> 12) & 63];
        out += kAlphabet[(n >> 6) & 63];
        out += kAlphabet[n & 63];
    }
    if (i < bytes.size()) {
        std::uint32_t n = static_cast<unsigned char>(bytes[i]) << 16;
        if (i + 1 < bytes.size()) n |= static_cast<unsigned char>(bytes[i + 1]) << 8;
        out += kAlphabet[(n >> 18) & 63];
        out += kAlphabet[(n >> 12) & 63];
        out += i + 1 < bytes.size() ? kAlphabet[(n >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

}  // namespace sluice::fake_openai
