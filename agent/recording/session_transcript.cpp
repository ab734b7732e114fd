#include "agent/recording/session_transcript.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>

#include "agent/recording/realtime_transcript.h"
#include "agent/recording/recording_fields.h"

namespace sluice {

namespace {

using json = nlohmann::json;

std::string str(const json& object, const char* key) { return member_text(object, key); }
const json& member(const json& object, const char* key) { return member_of(object, key); }

// Text of a message content: a string, or parts with "text".
std::string content_text(const json& content) {
    if (content.is_string()) return content.get<std::string>();
    std::string out;
    if (content.is_array())
        for (const auto& part : content) {
            if (part.is_object() && part.contains("text") && part["text"].is_string())
                out += part["text"].get<std::string>();
            else if (part.is_object() && part.contains("type"))
                out += "[" + str(part, "type") + "]";
        }
    return out;
}

std::string tool_call_text(const std::string& name, const std::string& arguments,
                           const std::string& id) {
    std::string out = "tool call " + name + "(" + arguments + ")";
    if (!id.empty()) out += " [" + id + "]";
    return out;
}

void add(std::vector<std::string>& lines, const std::string& who, const std::string& text) {
    lines.push_back(who + ": " + text);
}

// The request's conversation, as lines "who: text".
std::vector<std::string> request_lines(const json& recording) {
    std::vector<std::string> lines;
    const json request = recording.value("request", json::object());
    if (!request.contains("body")) {
        if (request.value("body_streamed", false))
            lines.push_back("(upload of " + str(request, "bytes") + " bytes, sha256 " +
                            str(request, "body_sha256") + ", not recorded)");
        return lines;
    }
    const json body = json::parse(request["body"].get<std::string>(), nullptr, false);
    if (!body.is_object()) {
        lines.push_back("(" + str(request, "bytes") + " bytes, not JSON)");
        return lines;
    }
    if (body.contains("messages") && body["messages"].is_array()) {
        for (const auto& m : body["messages"]) {
            const std::string role = str(m, "role");
            if (m.contains("content") && !m["content"].is_null())
                add(lines, role == "tool" ? "tool output [" + str(m, "tool_call_id") + "]" : role,
                    content_text(m["content"]));
            if (m.contains("tool_calls") && m["tool_calls"].is_array())
                for (const auto& call : m["tool_calls"])
                    add(lines, role,
                        tool_call_text(str(member(call, "function"), "name"),
                                       str(member(call, "function"), "arguments"),
                                       str(call, "id")));
        }
    }
    if (body.contains("instructions")) add(lines, "instructions", str(body, "instructions"));
    if (body.contains("input")) {
        const json& input = body["input"];
        if (input.is_string()) add(lines, "user", input.get<std::string>());
        if (input.is_array())
            for (const auto& item : input) {
                const std::string type = str(item, "type");
                if (type == "function_call")
                    add(lines, "assistant",
                        tool_call_text(str(item, "name"), str(item, "arguments"),
                                       str(item, "call_id")));
                else if (type == "function_call_output")
                    add(lines, "tool output [" + str(item, "call_id") + "]", str(item, "output"));
                else if (item.contains("content"))
                    add(lines, str(item, "role"), content_text(item["content"]));
            }
    }
    if (body.contains("prompt")) add(lines, "prompt", str(body, "prompt"));
    return lines;
}

// Answer pieces from one streamed event: text deltas and finished tool calls.
struct StreamState {
    std::string text;
    std::map<int64_t, std::pair<std::string, std::string>> chat_calls;  // index -> name, args
    std::vector<std::string> calls;
};

std::string event_delta(const json& event, StreamState& state) {
    if (event.contains("choices") && event["choices"].is_array() && !event["choices"].empty()) {
        const json& delta = member(event["choices"][0], "delta");
        if (delta.contains("tool_calls") && delta["tool_calls"].is_array())
            for (const auto& call : delta["tool_calls"]) {
                auto& [name, args] = state.chat_calls[call.value("index", int64_t{0})];
                if (call.contains("function")) {
                    name += str(member(call, "function"), "name");
                    args += str(member(call, "function"), "arguments");
                }
            }
        return delta.contains("content") && delta["content"].is_string()
                   ? delta["content"].get<std::string>()
                   : std::string();
    }
    const std::string type = str(event, "type");
    if (type == "response.output_text.delta") return str(event, "delta");
    if (type == "response.output_item.done" &&
        str(member(event, "item"), "type") == "function_call") {
        const json& item = member(event, "item");
        state.calls.push_back(
            tool_call_text(str(item, "name"), str(item, "arguments"), str(item, "call_id")));
    }
    return {};
}

std::vector<std::string> answer_lines(const json& recording, StreamState& state) {
    std::vector<std::string> lines;
    const json response = recording.value("response", json::object());
    if (response.contains("events")) {
        for (const auto& e : response["events"]) {
            const json event = json::parse(str(e, "data"), nullptr, false);
            if (event.is_object()) state.text += event_delta(event, state);
        }
        if (!state.text.empty()) add(lines, "assistant", state.text);
        for (const auto& [index, call] : state.chat_calls)
            add(lines, "assistant", tool_call_text(call.first, call.second, ""));
        for (const auto& call : state.calls) add(lines, "assistant", call);
        return lines;
    }
    if (!response.contains("body")) return lines;
    const json body = json::parse(str(response, "body"), nullptr, false);
    if (!body.is_object()) {
        if (!str(response, "body").empty()) add(lines, "answer", str(response, "body"));
        return lines;
    }
    if (body.contains("error") && body["error"].is_object())
        add(lines, "error", str(body["error"], "message"));
    if (body.contains("choices") && body["choices"].is_array())
        for (const auto& choice : body["choices"]) {
            const json message = choice.value("message", json::object());
            if (message.contains("content") && !message["content"].is_null())
                add(lines, "assistant", content_text(message["content"]));
            if (message.contains("tool_calls") && message["tool_calls"].is_array())
                for (const auto& call : message["tool_calls"])
                    add(lines, "assistant",
                        tool_call_text(str(member(call, "function"), "name"),
                                       str(member(call, "function"), "arguments"),
                                       str(call, "id")));
            if (choice.contains("text")) add(lines, "assistant", str(choice, "text"));
        }
    if (body.contains("output") && body["output"].is_array())
        for (const auto& item : body["output"]) {
            const std::string type = str(item, "type");
            if (type == "message")
                add(lines, "assistant", content_text(item.value("content", json::array())));
            else if (type == "function_call")
                add(lines, "assistant",
                    tool_call_text(str(item, "name"), str(item, "arguments"),
                                   str(item, "call_id")));
        }
    return lines;
}

std::string format_ms(double ms) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f ms", ms);
    return buf;
}

// Milliseconds between two RFC 3339 UTC stamps of format_utc (same day format).
double ms_between(const std::string& from, const std::string& to) {
    const auto parse = [](const std::string& text) -> double {
        std::tm tm{};
        double fraction = 0;
        if (text.size() < 20 || !strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return 0;
        if (text.size() > 20 && text[19] == '.')
            fraction = std::atof(("0" + text.substr(19)).c_str());
        return (static_cast<double>(timegm(&tm)) + fraction) * 1000.0;
    };
    const double a = parse(from), b = parse(to);
    return a > 0 && b > 0 ? b - a : 0;
}

}  // namespace

std::string answer_text(const json& recording) {
    if (is_realtime_recording(recording)) return realtime_answer_text(recording);
    StreamState state;
    std::string out;
    for (const auto& line : answer_lines(recording, state)) out += line + "\n";
    return out;
}

std::string session_transcript(const RecordedSession& session) {
    std::string out = "session " + session.id + "\n";
    out += "who: " + session.user();
    if (!session.requests.empty()) {
        const json identity = session.requests.front().value("identity", json::object());
        if (!str(identity, "exe").empty()) out += " (" + str(identity, "exe") + ")";
        if (!str(identity, "unit").empty()) out += " unit " + str(identity, "unit");
    }
    out += "\nrequests: " + std::to_string(session.requests.size()) +
           ", tokens: " + std::to_string(session.total_tokens()) + "\n";
    int n = 0;
    for (const auto& r : session.requests) {
        const json request = r.value("request", json::object());
        const json response = r.value("response", json::object());
        const json decision = r.value("decision", json::object());
        out += "\n[" + std::to_string(++n) + "] " + str(r, "ts") + "  " + str(request, "method") +
               " " + str(request, "path") + "  model " + str(request, "model") +
               (request.value("stream", false) ? "  (stream)" : "") + "  id " + str(r, "id") + "\n";
        out += "    decision: " + str(decision, "action") + " (rule " + str(decision, "rule") +
               ")  status " + str(response, "status") + "  recorded: " + str(r, "mode") + "\n";
        if (is_realtime_recording(r)) {
            const json& realtime = r["realtime"];
            out += "    realtime: " + format_ms(realtime.value("duration_ms", 0.0)) + ", " +
                   std::to_string(realtime["events"].size()) + " events recorded\n";
            for (const auto& line : realtime_transcript_lines(r)) out += "    " + line + "\n";
        }
        for (const auto& line : request_lines(r)) out += "    > " + line + "\n";
        StreamState state;
        for (const auto& line : answer_lines(r, state)) out += "    < " + line + "\n";
        if (response.contains("events") && !response["events"].empty()) {
            const json& events = response["events"];
            out += "    events: " + std::to_string(events.size()) + ", first at " +
                   format_ms(events.front().value("t_ms", 0.0)) + ", last at " +
                   format_ms(events.back().value("t_ms", 0.0)) + "\n";
        }
        out += "    timing: first byte " + format_ms(response.value("ttfb_ms", 0.0)) + ", done " +
               format_ms(response.value("latency_ms", 0.0)) + "\n";
        if (r.contains("usage") && r["usage"].is_object())
            out += "    tokens: " + str(member(r, "usage"), "prompt_tokens") +
                   str(member(r, "usage"), "input_tokens") + " in, " +
                   str(member(r, "usage"), "completion_tokens") +
                   str(member(r, "usage"), "output_tokens") + " out\n";
        if (r.contains("masking")) out += "    masking: " + r["masking"].dump() + "\n";
        if (response.value("truncated", false))
            out += "    (a body was cut at the recording limit)\n";
        if (r.contains("error")) out += "    error: " + str(r, "error") + "\n";
    }
    return out;
}

std::vector<ReplayStep> replay_script(const RecordedSession& session) {
    std::vector<ReplayStep> steps;
    if (session.requests.empty()) return steps;
    const std::string first = str(session.requests.front(), "ts");
    int n = 0;
    for (const auto& r : session.requests) {
        const double base = ms_between(first, str(r, "ts"));
        const json request = r.value("request", json::object());
        const json response = r.value("response", json::object());
        steps.push_back({base, "\n[" + std::to_string(++n) + "] " + str(request, "method") + " " +
                                   str(request, "path") + " " + str(request, "model") + "\n"});
        if (is_realtime_recording(r)) {
            for (RealtimeReplayStep& step : realtime_replay_steps(r))
                steps.push_back({base + step.at_ms, std::move(step.text)});
        } else if (response.contains("events")) {
            StreamState state;
            for (const auto& e : response["events"]) {
                const json event = json::parse(str(e, "data"), nullptr, false);
                if (!event.is_object()) continue;
                const std::size_t calls = state.calls.size();
                std::string text = event_delta(event, state);
                if (state.calls.size() > calls) text += "\n[" + state.calls.back() + "]\n";
                if (!text.empty()) steps.push_back({base + e.value("t_ms", 0.0), text});
            }
            for (const auto& [index, call] : state.chat_calls)
                steps.push_back({base + response.value("latency_ms", 0.0),
                                 "\n[" + tool_call_text(call.first, call.second, "") + "]\n"});
            // The stream ends when its last event (usage, [DONE]) arrived, text or not.
            if (!response["events"].empty())
                steps.push_back({base + response["events"].back().value("t_ms", 0.0), ""});
        } else {
            StreamState state;
            std::string text;
            for (const auto& line : answer_lines(r, state)) text += line + "\n";
            steps.push_back({base + response.value("latency_ms", 0.0), text});
        }
    }
    double last = 0;
    for (const auto& step : steps) last = std::max(last, step.at_ms);
    steps.push_back({last, "\n"});
    return steps;
}

}  // namespace sluice
