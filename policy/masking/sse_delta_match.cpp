#include "policy/masking/sse_delta_match.h"

#include <functional>

#include "policy/json_scan.h"
#include "policy/masking/json_masker.h"

namespace sluice::masking {

namespace {

// One member the matcher looks at: how often it appeared, its kind and bytes.
struct Seen {
    int count = 0;
    JsonKind kind = JsonKind::null;
    ByteRange range;
    void add(const JsonValue& v) {
        ++count;
        kind = v.kind;
        range = {v.begin, v.end};
    }
    bool absent_or_null() const { return count == 0 || (count == 1 && kind == JsonKind::null); }
};

// True when every step of the path is a plain key (no escapes): escaped keys could spell a
// member the matcher looks for under another byte sequence.
bool plain_path(const JsonValue& v) {
    for (int i = 0; i < v.depth && i < 4; ++i)
        if (v.path[i].key_escaped) return false;
    return true;
}

std::string_view slice(std::string_view data, ByteRange r) {
    return data.substr(r.begin, r.end - r.begin);
}

// An integer member, or `fallback` when absent; nullopt (no match) for any other value.
std::optional<int64_t> index_or(std::string_view data, const Seen& seen, int64_t fallback) {
    if (seen.count == 0) return fallback;
    if (seen.count > 1 || seen.kind != JsonKind::number) return std::nullopt;
    return json_int64(slice(data, seen.range));
}

// Scans an event payload that must be one JSON object on one line, passing its members (depth
// >= 1) to `visit`. The spliced event goes out as one `data:` line: a payload spread over
// several lines (JSON whitespace between them) is left to the general path.
bool scan_event_object(std::string_view data, const std::function<void(const JsonValue&)>& visit) {
    if (data.find_first_of("\r\n") != std::string_view::npos) return false;
    bool top_object = false;
    const bool valid = scan_json(data, kJsonMaxDepth, [&](const JsonValue& v) {
        if (v.depth == 0)
            top_object = v.kind == JsonKind::object;
        else
            visit(v);
    });
    return valid && top_object;
}

}  // namespace

std::optional<ChatDeltaEvent> match_chat_delta(std::string_view data) {
    Seen choices, element, index, delta, logprobs, finish, content, refusal, tools, function;
    std::array<Seen, kChatChunkFields.size()> fields;
    std::size_t elements = 0;
    bool plain = true;
    // A member this path does not splice (delta.audio, annotations, ...) may carry text: the
    // general path masks it.
    bool unknown = false;
    const bool valid = scan_event_object(data, [&](const JsonValue& v) {
        if (v.depth > 4) return;
        if (!plain_path(v)) {
            plain = false;
            return;
        }
        const JsonStep* p = v.path;
        if (v.depth == 1) {
            if (p[0].is_member("choices")) choices.add(v);
            for (std::size_t i = 0; i < fields.size(); ++i)
                if (p[0].is_member(kChatChunkFields[i])) fields[i].add(v);
            return;
        }
        if (!p[0].is_member("choices") || !p[1].is_index) return;
        if (v.depth == 2) {
            ++elements;
            element.add(v);
            return;
        }
        if (p[1].index != 0) return;
        if (v.depth == 3) {
            if (p[2].is_member("index")) index.add(v);
            if (p[2].is_member("delta")) delta.add(v);
            if (p[2].is_member("logprobs")) logprobs.add(v);
            if (p[2].is_member("finish_reason")) finish.add(v);
            unknown |= !p[2].is_member("index") && !p[2].is_member("delta") &&
                       !p[2].is_member("logprobs") && !p[2].is_member("finish_reason");
            return;
        }
        if (!p[2].is_member("delta")) return;
        unknown |= v.depth == 4 && !p[3].is_member("content") && !p[3].is_member("role") &&
                   !p[3].is_member("refusal") && !p[3].is_member("tool_calls") &&
                   !p[3].is_member("function_call");
        if (p[3].is_member("content")) content.add(v);
        if (p[3].is_member("refusal")) refusal.add(v);
        if (p[3].is_member("tool_calls")) tools.add(v);
        if (p[3].is_member("function_call")) function.add(v);
    });
    if (!valid || !plain || unknown) return std::nullopt;
    if (choices.count != 1 || choices.kind != JsonKind::array || elements != 1 ||
        element.kind != JsonKind::object)
        return std::nullopt;
    if (delta.count != 1 || delta.kind != JsonKind::object) return std::nullopt;
    if (!logprobs.absent_or_null() || !finish.absent_or_null() || !refusal.absent_or_null() ||
        tools.count || function.count)
        return std::nullopt;
    if (content.count > 1 ||
        (content.count == 1 && content.kind != JsonKind::string && content.kind != JsonKind::null))
        return std::nullopt;
    ChatDeltaEvent event;
    const auto choice = index_or(data, index, 0);
    if (!choice) return std::nullopt;
    event.choice = *choice;
    if (content.count == 1 && content.kind == JsonKind::string) event.content = content.range;
    for (std::size_t i = 0; i < fields.size(); ++i) {
        if (fields[i].count > 1) return std::nullopt;
        event.chunk_fields[i] = fields[i].range;
    }
    return event;
}

std::optional<ResponsesDeltaEvent> match_responses_delta(std::string_view data) {
    Seen type, delta, sequence, output_index, content_index, summary_index, logprobs;
    bool plain = true;
    const bool valid = scan_event_object(data, [&](const JsonValue& v) {
        if (v.depth != 1) return;
        if (v.path[0].key_escaped) {
            plain = false;
            return;
        }
        const JsonStep& key = v.path[0];
        if (key.is_member("type")) type.add(v);
        if (key.is_member("delta")) delta.add(v);
        if (key.is_member("sequence_number")) sequence.add(v);
        if (key.is_member("output_index")) output_index.add(v);
        if (key.is_member("content_index")) content_index.add(v);
        if (key.is_member("summary_index")) summary_index.add(v);
        if (key.is_member("logprobs")) logprobs.add(v);
    });
    if (!valid || !plain) return std::nullopt;
    if (type.count != 1 || type.kind != JsonKind::string) return std::nullopt;
    if (delta.count != 1 || delta.kind != JsonKind::string) return std::nullopt;
    ResponsesDeltaEvent event;
    event.type = decode_json_string(slice(data, type.range));
    static constexpr std::string_view kSuffix = ".delta";
    if (event.type.size() < kSuffix.size() ||
        event.type.compare(event.type.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0 ||
        event.type == "response.audio.delta")
        return std::nullopt;
    // Logprobs the general path would have to clear.
    if (logprobs.count > 1 || (logprobs.count == 1 && logprobs.kind != JsonKind::null &&
                               slice(data, logprobs.range) != "[]"))
        return std::nullopt;
    const auto output = index_or(data, output_index, -1);
    const auto content = index_or(data, content_index, -1);
    const auto summary = index_or(data, summary_index, -1);
    if (!output || !content || !summary) return std::nullopt;
    event.output_index = *output;
    event.sub_index = *content >= 0 ? *content : *summary;
    event.delta = delta.range;
    if (sequence.count) {
        const auto number = index_or(data, sequence, 0);
        if (!number) return std::nullopt;
        event.sequence = *number;
        event.sequence_range = sequence.range;
    }
    return event;
}

}  // namespace sluice::masking
