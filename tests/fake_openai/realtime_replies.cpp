#include "tests/fake_openai/realtime_replies.h"

#include <nlohmann/json.hpp>

#include "tests/fake_openai/openai_replies.h"

namespace sluice::fake_openai {

namespace {

using json = nlohmann::json;

std::string item_text(const json& item) {
    std::string text;
    if (!item.is_object()) return text;
    const auto content = item.find("content");
    if (content == item.end() || !content->is_array()) return text;
    for (const json& part : *content) {
        if (!part.is_object()) continue;
        const auto value = part.find("text");
        if (value != part.end() && value->is_string()) text += value->get<std::string>();
    }
    return text;
}

std::string error_event(std::string_view message) {
    return json{{"type", "error"},
                {"error", {{"type", "invalid_request_error"}, {"message", message}}}}
        .dump();
}

}  // namespace

FakeRealtimeSession::FakeRealtimeSession(std::string model, bool beta, std::string answer_suffix)
    : model_(std::move(model)), beta_(beta), answer_suffix_(std::move(answer_suffix)) {}

std::string FakeRealtimeSession::next_id(std::string_view prefix) {
    return std::string(prefix) + "_" + std::to_string(++counter_);
}

std::string FakeRealtimeSession::session_created() const {
    return json{
        {"type", "session.created"},
        {"event_id", "event_0"},
        {"session", {{"id", "sess_fake"}, {"object", "realtime.session"}, {"model", model_}}}}
        .dump();
}

std::vector<std::string> FakeRealtimeSession::answer(std::string_view text,
                                                     std::optional<RealtimeClose>& close) {
    std::vector<std::string> out;
    const json event = json::parse(text, nullptr, false);
    if (event.is_discarded() || !event.is_object() || !event.contains("type") ||
        !event["type"].is_string()) {
        out.push_back(error_event("fake-openai: an event must be a JSON object with a type"));
        return out;
    }
    const std::string type = event["type"];
    if (type == "fake.close") {
        close = RealtimeClose{static_cast<std::uint16_t>(event.value("code", 1000)),
                              event.value("reason", "")};
        return out;
    }
    if (type == "session.update") {
        const json session = event.value("session", json::object());
        if (session.is_object() && session.contains("model") && session["model"].is_string())
            model_ = session["model"];
        out.push_back(json{{"type", "session.updated"},
                           {"event_id", next_id("event")},
                           {"session", {{"id", "sess_fake"}, {"model", model_}}}}
                          .dump());
        return out;
    }
    if (type == "conversation.item.create") {
        json item = event.value("item", json::object());
        last_text_ = item_text(item);
        if (item.is_object()) item["id"] = next_id("item");
        out.push_back(json{
            {"type", "conversation.item.created"}, {"event_id", next_id("event")}, {"item", item}}
                          .dump());
        return out;
    }
    if (type != "response.create") {
        if (type != "input_audio_buffer.append")
            out.push_back(error_event("fake-openai: unknown event " + type));
        return out;
    }
    const std::string response_id = next_id("resp");
    const std::string item_id = next_id("item");
    const std::string answer = "echo: " + last_text_ + answer_suffix_;
    const std::string text_kind = beta_ ? "response.text" : "response.output_text";
    const std::string audio_kind = beta_ ? "response.audio" : "response.output_audio";
    const std::string transcript_kind =
        beta_ ? "response.audio_transcript" : "response.output_audio_transcript";
    auto part_event = [&](const std::string& event_type) {
        return json{{"type", event_type},         {"event_id", next_id("event")},
                    {"response_id", response_id}, {"item_id", item_id},
                    {"output_index", 0},          {"content_index", 0}};
    };
    out.push_back(json{{"type", "response.created"},
                       {"event_id", next_id("event")},
                       {"response", {{"id", response_id}, {"status", "in_progress"}}}}
                      .dump());
    bool first = true;
    for (const std::string& delta : split_into_deltas(answer)) {
        json piece = part_event(text_kind + ".delta");
        piece["delta"] = delta;
        out.push_back(piece.dump());
        if (first) {
            json audio = part_event(audio_kind + ".delta");
            audio["delta"] = base64_encode(std::string(32, '\x01'));
            out.push_back(audio.dump());
            json transcript = part_event(transcript_kind + ".delta");
            transcript["content_index"] = 1;
            transcript["delta"] = "(audio)";
            out.push_back(transcript.dump());
            first = false;
        }
    }
    json done = part_event(text_kind + ".done");
    done["text"] = answer;
    out.push_back(done.dump());
    const std::uint64_t input_tokens = count_tokens(last_text_.size());
    const std::uint64_t output_tokens = count_tokens(answer.size());
    json output_item = {{"id", item_id},
                        {"type", "message"},
                        {"role", "assistant"},
                        {"content", json::array({{{"type", "text"}, {"text", answer}}})}};
    out.push_back(json{{"type", "response.done"},
                       {"event_id", next_id("event")},
                       {"response",
                        {{"id", response_id},
                         {"status", "completed"},
                         {"output", json::array({output_item})},
                         {"usage",
                          {{"total_tokens", input_tokens + output_tokens},
                           {"input_tokens", input_tokens},
                           {"output_tokens", output_tokens}}}}}}
                      .dump());
    return out;
}

}  // namespace sluice::fake_openai
