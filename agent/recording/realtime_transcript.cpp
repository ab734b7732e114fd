#include "agent/recording/realtime_transcript.h"

#include <cstdint>
#include <cstdio>
#include <optional>

#include "agent/recording/recording_fields.h"

namespace sluice {

namespace {

using json = nlohmann::json;

std::string str(const json& object, const char* key) { return member_text(object, key); }
const json& member(const json& object, const char* key) { return member_of(object, key); }

const json& events_of(const json& recording) {
    return member(member(recording, "realtime"), "events");
}

std::string at(double ms) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "[%7.0f ms] ", ms);
    return buf;
}

// The deltas whose text the model says: output text, and what its audio says.
bool is_text_delta(const std::string& type) {
    return type == "response.text.delta" || type == "response.output_text.delta" ||
           type == "response.audio_transcript.delta" ||
           type == "response.output_audio_transcript.delta";
}

// An item's content as one text: text parts, transcripts, audio parts by name.
std::string item_text(const json& item) {
    const std::string type = str(item, "type");
    if (type == "function_call_output")
        return "tool output [" + str(item, "call_id") + "]: " + str(item, "output");
    if (type == "function_call")
        return "tool call " + str(item, "name") + "(" + str(item, "arguments") + ") [" +
               str(item, "call_id") + "]";
    std::string text;
    const json& content = member(item, "content");
    if (content.is_array())
        for (const json& part : content) {
            if (part.contains("text") && part["text"].is_string())
                text += part["text"].get<std::string>();
            else if (part.contains("transcript") && part["transcript"].is_string())
                text += part["transcript"].get<std::string>();
            else
                text += "[" + str(part, "type") + "]";
        }
    const std::string role = str(item, "role");
    return (role.empty() ? type : role) + ": " + text;
}

// What one client event says, as a line ("" for none).
std::string client_line(const json& event) {
    const std::string type = str(event, "type");
    if (type == "conversation.item.create") return item_text(member(event, "item"));
    if (type == "session.update") {
        const json& session = member(event, "session");
        std::string line = "session.update";
        if (session.contains("model")) line += " model " + str(session, "model");
        if (session.contains("tools") && session["tools"].is_array())
            line += ", " + std::to_string(session["tools"].size()) + " tools";
        if (session.contains("instructions"))
            line += ", instructions: " + str(session, "instructions");
        return line;
    }
    if (type == "response.create") {
        const json& response = member(event, "response");
        std::string line = "response.create";
        if (response.contains("instructions"))
            line += ", instructions: " + str(response, "instructions");
        return line;
    }
    return type;
}

// What one upstream event says ("" for a delta, which is joined into its response's text).
std::string upstream_line(const json& event) {
    const std::string type = str(event, "type");
    if (type == "response.done") {
        const json& response = member(event, "response");
        const json& usage = member(response, "usage");
        std::string line = "response.done " + str(response, "status");
        if (usage.is_object())
            line += " (tokens " + str(usage, "input_tokens") + " in, " +
                    str(usage, "output_tokens") + " out)";
        return line;
    }
    if (type == "error") return "error: " + str(member(event, "error"), "message");
    if (type == "conversation.item.input_audio_transcription.completed")
        return "user (transcribed): " + str(event, "transcript");
    return type;
}

// Events shown by size (audio, binary messages, and every event of a metadata recording): a run
// of the same kind from the same side is one line, so an audio stream is not hundreds of lines.
struct SizedRun {
    bool from_client = false;
    std::string kind;
    double t_ms = 0;
    uint64_t count = 0;
    uint64_t bytes = 0;
    std::string sha256;  // of the only one, when the run has one

    std::string line() const {
        std::string out = kind + " (";
        if (count > 1) out += std::to_string(count) + " events, ";
        out += std::to_string(bytes) + " bytes";
        if (count == 1 && !sha256.empty()) out += ", sha256 " + sha256;
        return out + ")";
    }
};

// Walks the events in order: `line(t_ms, from_client, text)` for each line of the transcript,
// `delta(t_ms, text)` for each text delta of the model's answer (its text; its audio's
// transcript is a line of its own).
template <class Line, class Delta>
void walk(const json& recording, Line line, Delta delta) {
    struct Answer {
        std::string who;
        std::string text;
        double t_ms = 0;
    };
    Answer text{"assistant", "", 0};
    Answer transcript{"assistant (audio transcript)", "", 0};
    std::optional<SizedRun> run;
    const auto flush_run = [&] {
        if (run) line(run->t_ms, run->from_client, run->line());
        run.reset();
    };
    const auto flush_answers = [&] {
        for (Answer* answer : {&text, &transcript}) {
            if (answer->text.empty()) continue;
            line(answer->t_ms, false, answer->who + ": " + answer->text);
            answer->text.clear();
        }
    };
    for (const json& e : events_of(recording)) {
        const double t_ms = e.value("t_ms", 0.0);
        const bool from_client = str(e, "from") == "client";
        if (!e.contains("data")) {
            const std::string kind = e.value("binary", false) ? "binary message" : str(e, "type");
            if (!run || run->from_client != from_client || run->kind != kind) {
                flush_run();
                run = SizedRun{from_client, kind, t_ms, 0, 0, ""};
            }
            ++run->count;
            run->bytes += e.value("bytes", uint64_t{0});
            run->sha256 = str(e, "sha256");
            continue;
        }
        const json event = json::parse(str(e, "data"), nullptr, false);
        const std::string type = str(event, "type");
        if (!from_client && is_text_delta(type)) {
            Answer& answer = type.find("transcript") == std::string::npos ? text : transcript;
            if (answer.text.empty()) answer.t_ms = t_ms;
            answer.text += str(event, "delta");
            if (&answer == &text) delta(t_ms, str(event, "delta"));
            continue;
        }
        if (!from_client && type.ends_with(".delta")) continue;  // arguments: in the item's done
        if (!from_client) flush_answers();
        flush_run();
        line(t_ms, from_client, from_client ? client_line(event) : upstream_line(event));
    }
    flush_answers();
    flush_run();
}

}  // namespace

bool is_realtime_recording(const json& recording) { return events_of(recording).is_array(); }

std::vector<std::string> realtime_transcript_lines(const json& recording) {
    std::vector<std::string> lines;
    walk(
        recording,
        [&](double t_ms, bool from_client, const std::string& text) {
            lines.push_back(at(t_ms) + (from_client ? "> " : "< ") + text);
        },
        [](double, const std::string&) {});
    const json& cut = member(member(recording, "realtime"), "cut");
    if (cut.is_object())
        lines.push_back("(recording cut after " + str(cut, "after_events") + " events; " +
                        str(cut, "events_not_recorded") + " more were not recorded)");
    return lines;
}

std::vector<RealtimeReplayStep> realtime_replay_steps(const json& recording) {
    std::vector<RealtimeReplayStep> steps;
    bool in_answer = false;
    walk(
        recording,
        [&](double t_ms, bool from_client, const std::string& text) {
            // The answer's text was already played delta by delta: end its line only.
            if (!from_client && text.starts_with("assistant: ")) {
                if (in_answer) steps.push_back({t_ms, "\n"});
                in_answer = false;
                return;
            }
            steps.push_back({t_ms, std::string(from_client ? "> " : "< ") + text + "\n"});
        },
        [&](double t_ms, const std::string& text) {
            if (!in_answer) steps.push_back({t_ms, "< assistant: "});
            in_answer = true;
            steps.push_back({t_ms, text});
        });
    return steps;
}

std::string realtime_answer_text(const json& recording) {
    std::string out;
    walk(
        recording,
        [&](double, bool from_client, const std::string& text) {
            if (!from_client && text.starts_with("assistant: ")) out += text + "\n";
        },
        [](double, const std::string&) {});
    return out;
}

}  // namespace sluice
