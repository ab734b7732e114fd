#include "policy/masking/realtime_event_masker.h"

#include <nlohmann/json.hpp>

#include "policy/masking/request_masker.h"

namespace sluice::masking {

namespace {

using json = nlohmann::json;

bool ends_with(std::string_view text, std::string_view suffix) {
    return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// Audio deltas carry base64 audio: never inspected.
bool is_audio_delta(std::string_view type) {
    return type == "response.audio.delta" || type == "response.output_audio.delta";
}

std::string member_text(const json& event, const char* name) {
    const auto it = event.find(name);
    if (it == event.end()) return {};
    return it->is_string() ? it->get<std::string>() : it->dump();
}

// One channel per streamed text: its kind ("response.text"), response, item and part.
std::string channel_key(const json& event, std::string_view kind) {
    std::string key(kind);
    for (const char* name : {"response_id", "item_id", "output_index", "content_index"}) {
        key += '\x1f';
        key += member_text(event, name);
    }
    return key;
}

// The member a `.done` event carries its channel's full text in.
const char* done_text_member(std::string_view kind) {
    if (ends_with(kind, "audio_transcript")) return "transcript";
    if (ends_with(kind, "arguments")) return "arguments";
    if (kind.find("transcription") != std::string_view::npos) return "transcript";
    return "text";
}

std::string dump(const json& event) {
    return event.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

RealtimeEventMasker::RealtimeEventMasker(TextMasker& masker, bool mask_requests,
                                         bool restore_tokens)
    : masker_(masker), mask_requests_(mask_requests), restore_(restore_tokens) {}

RealtimeEventMasker::~RealtimeEventMasker() = default;

bool RealtimeEventMasker::fail(std::string reason) {
    if (failure_.empty()) failure_ = std::move(reason);
    return false;
}

BodyStatus RealtimeEventMasker::mask_client_event(std::string& message) {
    if (!mask_requests_) return BodyStatus::unchanged;
    // The audio appended to the input buffer is not inspected; its type is read without
    // parsing the (often large) base64 it carries.
    if (message.find("\"input_audio_buffer.append\"") != std::string::npos) {
        const json probe = json::parse(message, nullptr, false);
        if (!probe.is_discarded() && probe.is_object() &&
            probe.value("type", "") == "input_audio_buffer.append")
            return BodyStatus::unchanged;
    }
    return mask_request_body(message, "/v1/realtime", masker_);
}

bool RealtimeEventMasker::mask_server_event(std::string_view message,
                                            std::vector<std::string>& out) {
    if (!failure_.empty()) return false;
    if (!json_depth_within(message)) return fail("upstream event nested too deeply");
    json event = json::parse(message, nullptr, false);
    if (event.is_discarded() || !event.is_object() || !event.contains("type") ||
        !event["type"].is_string())
        return fail("upstream event is not a JSON object with a type");
    const std::string type = event["type"];
    if (is_audio_delta(type)) {
        out.emplace_back(message);
        return true;
    }
    if (ends_with(type, ".delta") && event.contains("delta") && event["delta"].is_string()) {
        const std::string_view kind = std::string_view(type).substr(0, type.size() - 6);
        const std::string key = channel_key(event, kind);
        auto found = channels_.find(key);
        if (found == channels_.end()) {
            if (channels_.size() >= kMaxChannels) return fail("too many streamed texts at once");
            found = channels_
                        .emplace(key, Channel{std::make_unique<TextStreamMasker>(
                                          masker_, Direction::response, restore_)})
                        .first;
        }
        released_.clear();
        if (!found->second.masker->feed(event["delta"].get_ref<const std::string&>(), released_))
            return fail("a streamed text could not be masked");
        event["delta"] = released_;
        out.push_back(dump(event));
        return true;
    }
    if (ends_with(type, ".done")) {
        const std::string_view kind = std::string_view(type).substr(0, type.size() - 5);
        const auto found = channels_.find(channel_key(event, kind));
        if (found != channels_.end()) {
            released_.clear();
            if (!found->second.masker->finish(released_))
                return fail("a streamed text could not be masked");
            channels_.erase(found);
            if (!released_.empty()) {
                json tail = event;
                tail["type"] = std::string(kind) + ".delta";
                if (tail.contains("event_id"))
                    tail["event_id"] = member_text(event, "event_id") + "_tail";
                tail.erase(done_text_member(kind));
                tail["delta"] = released_;
                out.push_back(dump(tail));
            }
        }
    }
    JsonEdit edit{masker_, Direction::response, restore_};
    edit_answer_value(event, edit);
    if (edit.failed) return fail("an upstream event could not be masked");
    out.push_back(edit.changed ? dump(event) : std::string(message));
    return true;
}

}  // namespace sluice::masking
