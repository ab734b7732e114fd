#include "policy/masking/sse_stream_masker.h"

#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <optional>

#include "policy/json_append.h"
#include "policy/json_member.h"
#include "policy/json_scan.h"
#include "policy/masking/char_class.h"
#include "policy/masking/json_text_unescape.h"
#include "policy/masking/sse_delta_match.h"
#include "policy/sse_writer.h"

namespace sluice::masking {

using nlohmann::json;

struct SseStreamMasker::Channel {
    Channel(TextMasker& masker, bool restore) : text(masker, Direction::response, restore) {}
    TextStreamMasker text;
    std::string emitted;  // Responses: everything released so far, for the `.done` events
    bool open = true;
    // Chat: which part of which choice.
    int64_t choice = 0;
    enum class Kind {
        content,
        refusal,
        tool_call,
        function_call,
        audio_transcript,
        responses
    } kind = Kind::content;
    int64_t tool_index = 0;
    // Tool arguments: JSON text whose escapes are decoded before masking (json_text_unescape.h),
    // so `a\u0040b.com` is seen as the address the client will parse.
    bool json_text = false;
    JsonTextUnescaper unescaper;
    // Responses: the identifiers a synthesized delta event repeats.
    json ids = json::object();
};

namespace {

constexpr std::string_view kFailureMessage =
    "sluice: the response stream could not be masked and was ended";

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// The field of a Responses `*.done` event that repeats its deltas' full text.
const char* done_field(std::string_view base) {
    if (base == "response.output_text" || base == "response.reasoning_text" ||
        base == "response.reasoning_summary_text")
        return "text";
    if (base == "response.refusal") return "refusal";
    if (base == "response.function_call_arguments" || base == "response.mcp_call_arguments")
        return "arguments";
    if (base == "response.custom_tool_call_input") return "input";
    if (base == "response.audio_transcript" || base == "response.audio.transcript")
        return "transcript";
    return nullptr;
}

std::string responses_key(std::string_view base, const json& body) {
    int64_t sub = int_or(body, "content_index", -1);
    if (sub < 0) sub = int_or(body, "summary_index", -1);
    return "r:" + std::string(base) + ":" + std::to_string(int_or(body, "output_index", -1)) + ":" +
           std::to_string(sub);
}

std::string responses_key(std::string_view base, int64_t output_index, int64_t sub) {
    return "r:" + std::string(base) + ":" + std::to_string(output_index) + ":" +
           std::to_string(sub);
}

// `data` with each range replaced by its text; `edits` sorted by position, not overlapping.
struct Edit {
    ByteRange range;
    std::string_view text;
};
std::string splice(std::string_view data, std::initializer_list<Edit> edits) {
    std::string out;
    out.reserve(data.size() + 64);
    std::size_t pos = 0;
    for (const auto& edit : edits) {
        out.append(data.substr(pos, edit.range.begin - pos)).append(edit.text);
        pos = edit.range.end;
    }
    out.append(data.substr(pos));
    return out;
}

std::string json_string(std::string_view text) {
    std::string out;
    out.reserve(text.size() + 2);
    append_json_string(out, text);
    return out;
}

void clear_logprobs(json& object) {
    if (!object.is_object()) return;
    if (auto it = object.find("logprobs"); it != object.end() && !it->is_null())
        *it = it->is_array() ? json::array() : json(nullptr);
}

}  // namespace

SseStreamMasker::SseStreamMasker(TextMasker& masker, ApiShape shape, bool restore_tokens,
                                 SseMaskerLimits limits)
    : masker_(masker),
      shape_(shape),
      restore_(restore_tokens),
      limits_(limits),
      parser_(limits.max_event_bytes) {}

SseStreamMasker::~SseStreamMasker() = default;

bool SseStreamMasker::feed(std::string_view bytes, std::string& out) {
    if (failed_) return false;
    const bool parsed = parser_.feed(
        bytes, [&](const SseEvent& event) { on_event(event, out); },
        [&](std::string_view comment) {
            // Keep-alives pass; a comment that is not UTF-8 goes out empty.
            if (failed_) return;
            out.append(":");
            if (valid_utf8(comment.data(), comment.size())) out.append(comment);
            out.append("\n");
        });
    if (!parsed && !failed_) fail("event over the size limit", out);
    return !failed_;
}

bool SseStreamMasker::finish(std::string& out) {
    if (failed_) return false;
    if (!done_) flush_all(out);
    return !failed_;
}

void SseStreamMasker::fail(std::string reason, std::string& out) {
    if (failed_) return;
    failed_ = true;
    failure_ = std::move(reason);
    if (masker_.stats().failure.empty()) masker_.stats().failure = "response stream: " + failure_;
    json error;
    if (shape_ == ApiShape::responses) {
        error = {{"type", "error"},
                 {"code", "masking_failed"},
                 {"message", kFailureMessage},
                 {"param", nullptr},
                 {"sequence_number", last_sequence_ + 1}};
        write("error", "", dump_json(error), out);
    } else {
        error = {{"error",
                  {{"message", kFailureMessage},
                   {"type", "policy_violation"},
                   {"code", "masking_failed"}}}};
        write("", "", dump_json(error), out);
    }
}

void SseStreamMasker::write(std::string_view event, std::string_view id, std::string_view data,
                            std::string& out) {
    append_sse_event(out, event, id, data);
}

SseStreamMasker::Channel* SseStreamMasker::channel(const std::string& key, bool create) {
    if (auto it = by_key_.find(key); it != by_key_.end()) {
        if (create) it->second->open = true;
        return it->second;
    }
    if (!create) return nullptr;
    if (channels_.size() >= limits_.max_channels) return nullptr;
    channels_.push_back(std::make_unique<Channel>(masker_, restore_));
    by_key_[key] = channels_.back().get();
    return channels_.back().get();
}

bool SseStreamMasker::release(Channel& ch, std::string_view delta, std::string& text) {
    text.clear();
    if (ch.json_text) {
        unescaped_.clear();
        ch.unescaper.feed(delta, unescaped_);
        delta = unescaped_;
    }
    if (!ch.text.feed(delta, text)) return false;
    if (ch.kind == Channel::Kind::responses) {
        ch.emitted.append(text);
        emitted_bytes_ += text.size();
    }
    return emitted_bytes_ <= limits_.max_emitted_bytes;
}

bool SseStreamMasker::close(Channel& ch, std::string& tail) {
    tail.clear();
    ch.open = false;
    if (ch.json_text) {
        unescaped_.clear();
        ch.unescaper.finish(unescaped_);
        if (!ch.text.feed(unescaped_, tail)) return false;
    }
    if (!ch.text.finish(tail)) return false;
    if (ch.kind == Channel::Kind::responses) {
        ch.emitted.append(tail);
        emitted_bytes_ += tail.size();
    }
    return emitted_bytes_ <= limits_.max_emitted_bytes;
}

void SseStreamMasker::on_event(const SseEvent& event, std::string& out) {
    if (failed_ || done_) return;
    if (event.data.empty()) return;  // nothing a client would act on
    if (!valid_utf8(event.event.data(), event.event.size()) ||
        !valid_utf8(event.id.data(), event.id.size()))
        return fail("malformed event", out);
    if (event.data == "[DONE]") {
        flush_all(out);
        if (failed_) return;
        write(event.event, event.id, event.data, out);
        done_ = true;
        return;
    }
    if (shape_ == ApiShape::chat && splice_chat_delta(event, out)) return;
    if (shape_ == ApiShape::responses && splice_responses_delta(event, out)) return;
    if (!json_depth_within(event.data)) return fail("event nested too deeply", out);
    json body = json::parse(event.data, nullptr, false);
    if (body.is_discarded() || !body.is_object()) return fail("malformed event", out);
    const bool responses =
        shape_ == ApiShape::responses ||
        (shape_ == ApiShape::other && body.contains("type") && !body.contains("choices"));
    if (responses) return on_responses(event, body, out);
    if (body.contains("choices")) {
        on_chat(body);
        if (!pending_failure_.empty()) return fail(std::move(pending_failure_), out);
    } else {
        JsonEdit edit{masker_, Direction::response, restore_};
        edit_response_value(body, ApiShape::other, edit);
        if (edit.failed) return fail("scan failed", out);
    }
    if (failed_) return;
    write(event.event, event.id, dump_json(body), out);
}

bool SseStreamMasker::splice_chat_delta(const SseEvent& event, std::string& out) {
    const auto match = match_chat_delta(event.data);
    if (!match) return false;
    const std::string_view data = event.data;
    for (std::size_t i = 0; i < kChatChunkFields.size(); ++i) {
        const ByteRange r = match->chunk_fields[i];
        const std::string_view raw = data.substr(r.begin, r.end - r.begin);
        if (r.empty() || raw == last_chunk_raw_[i]) continue;
        last_chunk_raw_[i] = raw;
        last_chat_chunk_[std::string(kChatChunkFields[i])] = json::parse(raw);
    }
    if (match->content.empty()) {
        write(event.event, event.id, data, out);
        return true;
    }
    Channel* ch = channel("c:" + std::to_string(match->choice) + ":content", true);
    if (!ch) {
        fail("too many channels", out);
        return true;
    }
    ch->choice = match->choice;
    ch->kind = Channel::Kind::content;
    ch->tool_index = 0;
    const ByteRange r = match->content;
    std::string text;
    if (!release(*ch, decode_json_string(data.substr(r.begin, r.end - r.begin)), text)) {
        fail("masking failed", out);
        return true;
    }
    write(event.event, event.id, splice(data, {{r, json_string(text)}}), out);
    return true;
}

bool SseStreamMasker::splice_responses_delta(const SseEvent& event, std::string& out) {
    const auto match = match_responses_delta(event.data);
    if (!match) return false;
    const std::string_view base =
        std::string_view(match->type).substr(0, match->type.size() - std::strlen(".delta"));
    Channel* ch = channel(responses_key(base, match->output_index, match->sub_index), false);
    if (!ch || ch->ids.empty()) return false;  // a channel's first delta: the general path
    ch->open = true;
    const std::string_view data = event.data;
    const ByteRange r = match->delta;
    std::string text;
    if (!release(*ch, decode_json_string(data.substr(r.begin, r.end - r.begin)), text)) {
        fail("masking failed", out);
        return true;
    }
    const std::string delta = json_string(text);
    if (!match->sequence) {
        write(event.event, event.id, splice(data, {{r, delta}}), out);
        return true;
    }
    last_sequence_ = *match->sequence + sequence_shift_;
    const std::string sequence = std::to_string(last_sequence_);
    const Edit a{r, delta}, b{match->sequence_range, sequence};
    write(event.event, event.id,
          a.range.begin < b.range.begin ? splice(data, {a, b}) : splice(data, {b, a}), out);
    return true;
}

void SseStreamMasker::on_chat(json& chunk) {
    last_chunk_raw_ = {};  // fields taken from a parsed chunk: spliced ones compare afresh
    for (const char* key : {"id", "object", "created", "model", "system_fingerprint"})
        if (auto it = chunk.find(key); it != chunk.end()) last_chat_chunk_[key] = *it;
    auto choices = chunk.find("choices");
    if (choices == chunk.end() || !choices->is_array()) return;
    std::string text;
    int64_t position = 0;
    for (auto& choice : *choices) {
        if (!choice.is_object()) continue;
        const int64_t index = int_or(choice, "index", position++);
        clear_logprobs(choice);
        const std::string prefix = "c:" + std::to_string(index) + ":";
        auto feed = [&](json& value, const std::string& key, Channel::Kind kind, int64_t tool) {
            if (!value.is_string()) return;
            Channel* ch = channel(prefix + key, true);
            if (!ch) {
                pending_failure_ = "too many channels";
                return;
            }
            ch->choice = index;
            ch->kind = kind;
            ch->tool_index = tool;
            ch->json_text =
                kind == Channel::Kind::tool_call || kind == Channel::Kind::function_call;
            if (!release(*ch, value.get_ref<const std::string&>(), text)) {
                pending_failure_ = "masking failed";
                return;
            }
            value = text;
        };
        auto delta = choice.find("delta");
        if (delta != choice.end() && delta->is_object()) {
            if (auto it = delta->find("content"); it != delta->end())
                feed(*it, "content", Channel::Kind::content, 0);
            if (auto it = delta->find("refusal"); it != delta->end())
                feed(*it, "refusal", Channel::Kind::refusal, 0);
            if (auto calls = delta->find("tool_calls");
                calls != delta->end() && calls->is_array()) {
                int64_t call_position = 0;
                for (auto& call : *calls) {
                    const int64_t tool = int_or(call, "index", call_position++);
                    if (auto fn = call.find("function"); fn != call.end() && fn->is_object())
                        if (auto args = fn->find("arguments"); args != fn->end())
                            feed(*args, "tool:" + std::to_string(tool), Channel::Kind::tool_call,
                                 tool);
                }
            }
            if (auto fn = delta->find("function_call"); fn != delta->end() && fn->is_object())
                if (auto args = fn->find("arguments"); args != fn->end())
                    feed(*args, "function", Channel::Kind::function_call, 0);
            if (auto audio = delta->find("audio"); audio != delta->end() && audio->is_object())
                if (auto transcript = audio->find("transcript"); transcript != audio->end())
                    feed(*transcript, "audio", Channel::Kind::audio_transcript, 0);
            // Annotations (url_citation titles and URLs) arrive whole: mask them in place.
            if (auto notes = delta->find("annotations"); notes != delta->end()) {
                JsonEdit edit{masker_, Direction::response, restore_};
                edit_response_value(*notes, ApiShape::other, edit);
                if (edit.failed) pending_failure_ = "masking failed";
            }
        }
        if (!pending_failure_.empty()) return;
        auto finish = choice.find("finish_reason");
        if (finish == choice.end() || finish->is_null()) continue;
        // The choice is over: its held-back tails ride in this chunk's delta.
        if (delta == choice.end() || !delta->is_object()) {
            choice["delta"] = json::object();
            delta = choice.find("delta");
        }
        for (auto& owned : channels_) {
            Channel& ch = *owned;
            if (!ch.open || ch.kind == Channel::Kind::responses || ch.choice != index) continue;
            if (!close(ch, text)) {
                pending_failure_ = "masking failed";
                return;
            }
            if (text.empty()) continue;
            auto append = [&](json& holder, const char* field) {
                auto it = holder.find(field);
                if (it != holder.end() && it->is_string())
                    it->get_ref<std::string&>().append(text);
                else
                    holder[field] = text;
            };
            switch (ch.kind) {
                case Channel::Kind::content:
                    append(*delta, "content");
                    break;
                case Channel::Kind::refusal:
                    append(*delta, "refusal");
                    break;
                case Channel::Kind::audio_transcript: {
                    json& audio = (*delta)["audio"];
                    if (!audio.is_object()) audio = json::object();
                    append(audio, "transcript");
                    break;
                }
                case Channel::Kind::function_call: {
                    json& fn = (*delta)["function_call"];
                    if (!fn.is_object()) fn = json::object();
                    append(fn, "arguments");
                    break;
                }
                case Channel::Kind::tool_call: {
                    json& calls = (*delta)["tool_calls"];
                    if (!calls.is_array()) calls = json::array();
                    json* target = nullptr;
                    for (auto& call : calls)
                        if (int_or(call, "index", -1) == ch.tool_index) target = &call;
                    if (!target) {
                        calls.push_back({{"index", ch.tool_index}, {"function", json::object()}});
                        target = &calls.back();
                    }
                    json& fn = (*target)["function"];
                    if (!fn.is_object()) fn = json::object();
                    append(fn, "arguments");
                    break;
                }
                case Channel::Kind::responses:
                    break;
            }
        }
    }
}

void SseStreamMasker::set_full_text(json& holder, const char* field, const std::string& key) {
    auto it = holder.find(field);
    if (it == holder.end() || !it->is_string()) return;
    if (Channel* ch = channel(key, false)) {
        if (ch->open) return;  // still streaming: the `.done` event will carry it
        *it = ch->emitted;
        return;
    }
    // Never streamed as deltas: mask it here.
    JsonEdit edit{masker_, Direction::response, restore_};
    edit.string(*it);
    if (edit.failed) pending_failure_ = "masking failed";
}

// The members of an output item (or content part) that carry no streamed text — annotations,
// tool outputs, search results — masked in place as a non-streamed answer's would be.
void SseStreamMasker::mask_other_members(json& object,
                                         std::initializer_list<std::string_view> streamed) {
    if (!object.is_object()) return;
    JsonEdit edit{masker_, Direction::response, restore_};
    for (auto it = object.begin(); it != object.end(); ++it) {
        if (std::find(streamed.begin(), streamed.end(), it.key()) != streamed.end()) continue;
        json wrapper = json::object();
        wrapper[it.key()] = std::move(it.value());
        edit_answer_value(wrapper, edit);
        it.value() = std::move(wrapper[it.key()]);
    }
    if (edit.failed) pending_failure_ = "masking failed";
}

void SseStreamMasker::replace_item_texts(json& item, std::size_t o) {
    if (!item.is_object()) return;
    mask_other_members(item, {"content", "summary", "arguments", "input", "output"});
    const bool reasoning = string_or(item, "type", "") == "reasoning";
    if (auto content = item.find("content"); content != item.end() && content->is_array()) {
        int64_t j = 0;
        for (auto& part : *content) {
            if (part.is_object()) {
                clear_logprobs(part);
                mask_other_members(part, {"text", "refusal", "logprobs"});
                set_full_text(
                    part, "text",
                    responses_key(reasoning ? "response.reasoning_text" : "response.output_text", o,
                                  j));
                set_full_text(part, "refusal", responses_key("response.refusal", o, j));
            }
            ++j;
        }
    } else if (content != item.end() && content->is_string()) {
        JsonEdit edit{masker_, Direction::response, restore_};
        edit.string(*content);
        if (edit.failed) pending_failure_ = "masking failed";
    }
    if (auto summary = item.find("summary"); summary != item.end() && summary->is_array()) {
        int64_t j = 0;
        for (auto& part : *summary) {
            if (part.is_object())
                set_full_text(part, "text", responses_key("response.reasoning_summary_text", o, j));
            ++j;
        }
    }
    const bool mcp = string_or(item, "type", "") == "mcp_call";
    set_full_text(
        item, "arguments",
        responses_key(mcp ? "response.mcp_call_arguments" : "response.function_call_arguments", o,
                      -1));
    set_full_text(item, "input", responses_key("response.custom_tool_call_input", o, -1));
    if (auto output = item.find("output"); output != item.end()) {
        JsonEdit edit{masker_, Direction::response, restore_};
        if (output->is_string()) edit.string(*output);
        if (edit.failed) pending_failure_ = "masking failed";
    }
}

void SseStreamMasker::on_responses(const SseEvent& event, json& body, std::string& out) {
    const std::string type = string_or(body, "type", event.event);
    std::optional<int64_t> sequence;
    if (auto it = body.find("sequence_number"); it != body.end() && it->is_number_integer())
        sequence = it->get<int64_t>();
    // The next free sequence number: synthesized events take the current event's place and
    // push it (and every later one) back by one.
    auto take_slot = [&]() {
        const int64_t slot = sequence ? *sequence + sequence_shift_ : last_sequence_ + 1;
        ++sequence_shift_;
        last_sequence_ = slot;
        return slot;
    };
    std::string text;

    if (ends_with(type, ".delta") && body.contains("delta") && body["delta"].is_string() &&
        type != "response.audio.delta") {
        const std::string base = type.substr(0, type.size() - 6);
        const std::string key = responses_key(base, body);
        Channel* ch = channel(key, true);
        if (!ch) return fail("too many channels", out);
        if (ch->ids.empty()) {
            ch->kind = Channel::Kind::responses;
            ch->json_text =
                base == "response.function_call_arguments" || base == "response.mcp_call_arguments";
            ch->ids["type"] = type;
            for (const char* id : {"item_id", "output_index", "content_index", "summary_index"})
                if (auto it = body.find(id); it != body.end()) ch->ids[id] = *it;
        }
        if (!release(*ch, body["delta"].get_ref<const std::string&>(), text))
            return fail("masking failed", out);
        body["delta"] = text;
        clear_logprobs(body);
    } else if (ends_with(type, ".done") && done_field(type.substr(0, type.size() - 5))) {
        const std::string base = type.substr(0, type.size() - 5);
        const char* field = done_field(base);
        Channel* ch = channel(responses_key(base, body), false);
        if (ch && ch->open) {
            if (!close(*ch, text)) return fail("masking failed", out);
            if (!text.empty()) {
                json synthetic = ch->ids;
                synthetic["delta"] = text;
                if (sequence || last_sequence_ >= 0) synthetic["sequence_number"] = take_slot();
                write(event.event.empty() ? "" : ch->ids["type"].get<std::string>(), "",
                      dump_json(synthetic), out);
            }
        }
        if (ch) {
            if (auto it = body.find(field); it != body.end()) *it = ch->emitted;
        } else {
            JsonEdit edit{masker_, Direction::response, restore_};
            if (auto it = body.find(field); it != body.end()) edit.string(*it);
            if (edit.failed) return fail("masking failed", out);
        }
        clear_logprobs(body);
    } else if (type == "response.content_part.added" || type == "response.content_part.done") {
        if (auto part = body.find("part"); part != body.end() && part->is_object()) {
            const auto o =
                static_cast<std::size_t>(std::max<int64_t>(0, int_or(body, "output_index", 0)));
            const int64_t c = int_or(body, "content_index", 0);
            const bool reasoning = string_or(*part, "type", "") == "reasoning_text";
            clear_logprobs(*part);
            mask_other_members(*part, {"text", "refusal", "logprobs"});
            set_full_text(
                *part, "text",
                responses_key(reasoning ? "response.reasoning_text" : "response.output_text", o,
                              c));
            set_full_text(*part, "refusal", responses_key("response.refusal", o, c));
        }
    } else if (type == "response.reasoning_summary_part.added" ||
               type == "response.reasoning_summary_part.done") {
        if (auto part = body.find("part"); part != body.end() && part->is_object()) {
            const auto o =
                static_cast<std::size_t>(std::max<int64_t>(0, int_or(body, "output_index", 0)));
            set_full_text(*part, "text",
                          responses_key("response.reasoning_summary_text", o,
                                        int_or(body, "summary_index", 0)));
        }
    } else if (type == "response.output_item.added" || type == "response.output_item.done") {
        if (auto item = body.find("item"); item != body.end())
            replace_item_texts(*item, static_cast<std::size_t>(
                                          std::max<int64_t>(0, int_or(body, "output_index", 0))));
    } else if (type.rfind("response.", 0) == 0 && body.contains("response") &&
               body["response"].is_object()) {
        // response.created / in_progress / completed / incomplete / failed: the whole object.
        const bool final = type == "response.completed" || type == "response.incomplete" ||
                           type == "response.failed";
        if (final) {
            // Channels without a `.done` event end here; their tails go out first.
            for (auto& owned : channels_) {
                Channel& ch = *owned;
                if (!ch.open) continue;
                if (!close(ch, text)) return fail("masking failed", out);
                if (text.empty()) continue;
                json synthetic = ch.ids;
                synthetic["delta"] = text;
                if (sequence || last_sequence_ >= 0) synthetic["sequence_number"] = take_slot();
                write(event.event.empty() ? "" : ch.ids["type"].get<std::string>(), "",
                      dump_json(synthetic), out);
            }
        }
        auto& response = body["response"];
        if (auto output = response.find("output"); output != response.end() && output->is_array()) {
            std::size_t o = 0;
            for (auto& item : *output) replace_item_texts(item, o++);
        }
    } else {
        JsonEdit edit{masker_, Direction::response, restore_};
        edit_response_value(body, ApiShape::other, edit);
        if (edit.failed) return fail("masking failed", out);
    }
    if (!pending_failure_.empty()) return fail(std::move(pending_failure_), out);
    if (sequence) {
        body["sequence_number"] = *sequence + sequence_shift_;
        last_sequence_ = *sequence + sequence_shift_;
    }
    write(event.event, event.id, dump_json(body), out);
}

void SseStreamMasker::flush_all(std::string& out) {
    std::string tail;
    for (auto& owned : channels_) {
        Channel& ch = *owned;
        if (!ch.open) continue;
        if (!close(ch, tail)) return fail("masking failed", out);
        if (tail.empty()) continue;
        if (ch.kind == Channel::Kind::responses) {
            json synthetic = ch.ids;
            synthetic["delta"] = tail;
            if (last_sequence_ >= 0) {
                synthetic["sequence_number"] = ++last_sequence_;
                ++sequence_shift_;
            }
            write(ch.ids["type"].get<std::string>(), "", dump_json(synthetic), out);
            continue;
        }
        json chunk = last_chat_chunk_.is_object() ? last_chat_chunk_ : json::object();
        if (!chunk.contains("object")) chunk["object"] = "chat.completion.chunk";
        json delta = json::object();
        switch (ch.kind) {
            case Channel::Kind::content:
                delta["content"] = tail;
                break;
            case Channel::Kind::refusal:
                delta["refusal"] = tail;
                break;
            case Channel::Kind::audio_transcript:
                delta["audio"] = {{"transcript", tail}};
                break;
            case Channel::Kind::function_call:
                delta["function_call"] = {{"arguments", tail}};
                break;
            case Channel::Kind::tool_call:
                delta["tool_calls"] =
                    json::array({{{"index", ch.tool_index}, {"function", {{"arguments", tail}}}}});
                break;
            case Channel::Kind::responses:
                break;
        }
        chunk["choices"] =
            json::array({{{"index", ch.choice}, {"delta", delta}, {"finish_reason", nullptr}}});
        write("", "", dump_json(chunk), out);
    }
}

}  // namespace sluice::masking
