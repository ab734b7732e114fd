#include "policy/realtime/realtime_event.h"

#include <nlohmann/json.hpp>

#include "policy/masking/json_masker.h"
#include "policy/prompt_text.h"
#include "policy/request_reading.h"

namespace sluice::realtime {

namespace {

using json = nlohmann::json;

std::optional<json> parse_object(std::string_view text) {
    if (!masking::json_depth_within(text)) return std::nullopt;
    json parsed = json::parse(text, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object()) return std::nullopt;
    const auto type = parsed.find("type");
    if (type == parsed.end() || !type->is_string()) return std::nullopt;
    return parsed;
}

const json* member(const json& object, const char* name) {
    if (!object.is_object()) return nullptr;
    const auto it = object.find(name);
    return it == object.end() ? nullptr : &*it;
}

void add_string(const json* value, std::vector<std::string>& texts) {
    if (value && value->is_string() && !value->get_ref<const std::string&>().empty())
        texts.push_back(value->get<std::string>());
}

// A conversation item's text: message parts (input_text, text, a transcript the client
// supplies), a function call's arguments, a function call's output.
void add_item_texts(const json& item, std::vector<std::string>& texts) {
    if (!item.is_object()) return;
    if (const json* content = member(item, "content"); content && content->is_array()) {
        for (const json& part : *content) {
            add_string(member(part, "text"), texts);
            add_string(member(part, "transcript"), texts);
        }
    }
    add_string(member(item, "arguments"), texts);
    add_string(member(item, "output"), texts);
}

bool has_tools(const json* holder) {
    const json* tools = holder ? member(*holder, "tools") : nullptr;
    return tools && tools->is_array() && !tools->empty();
}

void read_output_cap(const json* response, ClientEvent& event) {
    const json* cap = response ? member(*response, "max_output_tokens") : nullptr;
    if (!cap || cap->is_null() || (cap->is_string() && *cap == "inf")) return;
    if (cap->is_number_unsigned() || (cap->is_number_integer() && cap->get<int64_t>() >= 0))
        event.max_output_tokens = cap->get<int64_t>();
    else
        event.output_cap_unreadable = true;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string percent_decode(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size()) {
            const int high = hex_value(text[i + 1]), low = hex_value(text[i + 2]);
            if (high >= 0 && low >= 0) {
                out.push_back(static_cast<char>(high * 16 + low));
                i += 2;
                continue;
            }
        }
        out.push_back(text[i] == '+' ? ' ' : text[i]);
    }
    return out;
}

}  // namespace

ClientEvent read_client_event(std::string_view text) {
    ClientEvent event;
    auto parsed = parse_object(text);
    if (!parsed) return event;
    // The strict reading decides whether the event is read at all: the tree above keeps the
    // last of a member named twice, the provider may keep the first. Audio appends are only
    // checked, not collected (their one string is the audio).
    const bool audio = (*parsed)["type"] == "input_audio_buffer.append";
    const RequestReading reading = read_request_body(text, "/v1/realtime", !audio);
    if (!reading.readable()) return event;
    if (!audio) event.scan_texts = prompt_scan_texts(reading);
    event.type = (*parsed)["type"].get<std::string>();
    const json* session = member(*parsed, "session");
    const json* response = member(*parsed, "response");
    if (event.type == "session.update") {
        event.kind = ClientEventKind::session_update;
        if (const json* model = session ? member(*session, "model") : nullptr;
            model && model->is_string())
            event.model = model->get<std::string>();
        event.names_tools = has_tools(session);
        if (session) add_string(member(*session, "instructions"), event.texts);
    } else if (event.type == "conversation.item.create") {
        event.kind = ClientEventKind::item_create;
        if (const json* item = member(*parsed, "item")) add_item_texts(*item, event.texts);
    } else if (event.type == "response.create") {
        event.kind = ClientEventKind::response_create;
        event.names_tools = has_tools(response);
        if (response) {
            add_string(member(*response, "instructions"), event.texts);
            if (const json* input = member(*response, "input"); input && input->is_array())
                for (const json& item : *input) add_item_texts(item, event.texts);
        }
        read_output_cap(response, event);
    } else if (event.type == "input_audio_buffer.append") {
        event.kind = ClientEventKind::audio_append;
    } else {
        event.kind = ClientEventKind::other;
    }
    return event;
}

ServerEvent read_server_event(std::string_view text) {
    ServerEvent event;
    auto parsed = parse_object(text);
    if (!parsed) return event;
    event.type = (*parsed)["type"].get<std::string>();
    const json* response = member(*parsed, "response");
    if (!response || !response->is_object()) return event;
    if (const json* id = member(*response, "id"); id && id->is_string()) event.response_id = *id;
    if (event.type != "response.done") return event;
    if (const json* status = member(*response, "status"); status && status->is_string())
        event.status = *status;
    if (const json* usage = member(*response, "usage"); usage && usage->is_object())
        event.usage = UsageObject{usage->dump()};
    return event;
}

PolicyRequest realtime_policy_request(std::string_view path, std::string_view model,
                                      const ClientEvent* event, bool response) {
    PolicyRequest request;
    request.method = "GET";
    request.path = std::string(path);
    request.model = std::string(model);
    request.model_unnamed = model.empty();
    if (event) {
        request.texts = event->texts;
        request.scan_texts = event->scan_texts;
        request.estimated_prompt_tokens = estimate_prompt_tokens(event->texts);
    }
    if (response) {
        request.max_output_tokens = event ? event->max_output_tokens : std::nullopt;
        request.output_cap_writable = true;
        if (event && event->output_cap_unreadable)
            request.output_unbounded = "response.max_output_tokens is not a whole number";
    }
    return request;
}

std::string model_from_target(std::string_view target) {
    const auto query_at = target.find('?');
    if (query_at == std::string_view::npos) return {};
    std::string_view query = target.substr(query_at + 1);
    while (!query.empty()) {
        const auto end = query.find('&');
        const std::string_view pair = query.substr(0, end);
        if (pair.starts_with("model=")) return percent_decode(pair.substr(6));
        if (end == std::string_view::npos) break;
        query.remove_prefix(end + 1);
    }
    return {};
}

bool write_response_output_cap(std::string& event, int64_t cap) {
    auto parsed = parse_object(event);
    if (!parsed) return false;
    json& response = (*parsed)["response"];
    if (response.is_null()) response = json::object();
    if (!response.is_object()) return false;
    response["max_output_tokens"] = cap;
    event = parsed->dump(-1, ' ', false, json::error_handler_t::replace);
    return true;
}

}  // namespace sluice::realtime
