#include "policy/request_reading.h"

#include <algorithm>
#include <array>

#include "policy/api_endpoint.h"
#include "policy/json_scan.h"
#include "policy/json_view.h"
#include "policy/masking/char_class.h"
#include "policy/text_fold.h"

namespace sluice {

namespace {

// Layers of encoding read inside one string (JSON in a string holding a data: URI …); deeper
// layers are scanned as the text they are.
constexpr int kMaxInnerLayers = 4;

enum class Conversation : uint8_t { none, chat, responses, completions, realtime };

Conversation conversation_of(std::string_view path) {
    const std::string_view endpoint = api_endpoint(path);
    if (endpoint == "/v1/chat/completions") return Conversation::chat;
    if (endpoint == "/v1/responses") return Conversation::responses;
    if (endpoint == "/v1/completions") return Conversation::completions;
    if (endpoint == "/v1/realtime") return Conversation::realtime;  // one client event
    return Conversation::none;
}

// A path step compared by its decoded name (an escaped key is the same member to a provider).
bool step_is(const JsonStep& step, std::string_view name) {
    if (step.is_index) return false;
    if (!step.key_escaped) return step.key == name;
    std::string literal;
    literal.reserve(step.key.size() + 2);
    literal.append("\"").append(step.key).append("\"");
    return decode_json_string(literal) == name;
}

struct PathView {
    const JsonStep* step;
    int depth;
    bool key(int i, std::string_view name) const { return i < depth && step_is(step[i], name); }
    bool index(int i) const { return i < depth && step[i].is_index; }
};

// A string of a content value: the value itself, a string part, or a part's `text`.
bool content_at(const PathView& p, int i) {
    return p.depth == i || (p.depth == i + 1 && p.index(i)) ||
           (p.depth == i + 2 && p.index(i) && p.key(i + 1, "text"));
}

// A Realtime content part's text or transcript, at step `i` (the part's index).
bool realtime_part_at(const PathView& p, int i) {
    return p.depth == i + 2 && p.index(i) && (p.key(i + 1, "text") || p.key(i + 1, "transcript"));
}

// Strings the model reads as the conversation, in the order it reads them.
bool in_conversation(Conversation kind, const PathView& p) {
    switch (kind) {
        case Conversation::chat:
            return p.key(0, "messages") && p.index(1) && p.key(2, "content") && content_at(p, 3);
        case Conversation::responses:
            return (p.depth == 1 && p.key(0, "instructions")) ||
                   (p.key(0, "input") && (p.depth == 1 || (p.depth == 2 && p.index(1)) ||
                                          (p.index(1) && p.key(2, "content") && content_at(p, 3))));
        case Conversation::completions:
            return p.key(0, "prompt") && (p.depth == 1 || (p.depth == 2 && p.index(1)));
        case Conversation::realtime:
            // session.update's and response.create's instructions; the parts of the item a
            // conversation.item.create adds and of the items a response.create puts in.
            return (p.depth == 2 && (p.key(0, "session") || p.key(0, "response")) &&
                    p.key(1, "instructions")) ||
                   (p.key(0, "item") && p.key(1, "content") && realtime_part_at(p, 2)) ||
                   (p.key(0, "response") && p.key(1, "input") && p.index(2) &&
                    p.key(3, "content") && realtime_part_at(p, 4));
        case Conversation::none:
            return false;
    }
    return false;
}

// `input_audio.data`: raw base64 audio; in a Realtime event also `audio` (an audio part, an
// input_audio_buffer.append).
bool raw_binary_at(Conversation kind, const PathView& p) {
    if (p.depth >= 2 && p.key(p.depth - 2, "input_audio") && p.key(p.depth - 1, "data"))
        return true;
    return kind == Conversation::realtime && p.depth >= 1 && p.key(p.depth - 1, "audio");
}

bool looks_like_text(std::string_view bytes) {
    for (char c : bytes) {
        const auto u = static_cast<unsigned char>(c);
        if ((u < 0x20 && c != '\t' && c != '\n' && c != '\r') || u == 0x7f) return false;
    }
    return masking::valid_utf8(bytes.data(), bytes.size());
}

bool starts_with_caseless(std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i)
        if ((s[i] | 0x20) != prefix[i]) return false;
    return true;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = static_cast<char>(c | 0x20);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

bool decode_percent(std::string_view in, std::string& out) {
    out.clear();
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] != '%') {
            out.push_back(in[i]);
            continue;
        }
        if (i + 2 >= in.size()) return false;
        const int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
        if (hi < 0 || lo < 0) return false;
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
    }
    return true;
}

// Member names that are plain identifiers may be named in a refusal; others may be data.
bool nameable(std::string_view name) {
    if (name.empty() || name.size() > 32) return false;
    return std::all_of(name.begin(), name.end(),
                       [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; });
}

class Reader {
public:
    Reader(std::string_view path, bool collect, JsonView& values)
        : conversation_(conversation_of(path)), collect_(collect), values_(values) {}

    RequestReading run(std::string_view body) {
        read_json(body, -1, 0, true);
        return std::move(reading_);
    }

private:
    // Reads one JSON text: the body (`top`), or a string's text that is JSON. False when it is
    // not strict JSON (the body then gets a problem; an inner text is just text).
    bool read_json(std::string_view text, int parent, int layer, bool top) {
        // The body's values are kept (json_view.h): its objects' member names are checked for
        // duplicates on it, and the policy's facts are read from it.
        if (top) values_.start(text);
        std::string duplicate;
        bool duplicated = false;
        const std::size_t first_node = reading_.texts.size();
        JsonScanFailure failure;
        const bool valid = scan_json(
            text, kJsonMaxDepth,
            [&](const JsonValue& v) {
                if (top) {
                    values_.add(v);
                    if (v.kind == JsonKind::object && !duplicated)
                        duplicated = find_duplicate(values_.root(), duplicate);
                }
                if (!collect_ || (v.kind != JsonKind::string && v.kind != JsonKind::key)) return;
                add_string(text, v, parent, layer);
            },
            {.report_keys = true}, &failure);
        if (!valid) {
            reading_.texts.resize(first_node);
            if (top) {
                values_.clear();
                reading_.problem = "the request body is not strict JSON: " +
                                   std::string(to_string(failure.error)) + " at byte " +
                                   std::to_string(failure.offset);
            }
            return false;
        }
        if (top && !values_.is(values_.root(), JsonKind::object)) {
            reading_.problem = "the request body is not a JSON object";
        } else if (top && duplicated) {
            reading_.problem = "the request body names a member twice in one object";
            if (nameable(duplicate)) reading_.problem += " (\"" + duplicate + "\")";
            reading_.problem += "; which copy a provider reads cannot be known";
        }
        if (!reading_.problem.empty()) {  // nothing decides on it
            reading_.texts.clear();
            values_.clear();
        }
        return true;
    }

    // A name `object` gives two of its members (decoded), the first such in sorted order.
    bool find_duplicate(JsonView::Index object, std::string& duplicate) {
        names_.clear();
        for (const JsonView::Index member : values_.children(object))
            names_.push_back(values_.name(member));
        if (names_.size() < 2) return false;
        std::sort(names_.begin(), names_.end());
        const auto twice = std::adjacent_find(names_.begin(), names_.end());
        if (twice == names_.end()) return false;
        duplicate = std::string(*twice);
        return true;
    }

    void add_string(std::string_view text, const JsonValue& v, int parent, int layer) {
        BodyText node;
        node.parent = parent;
        node.begin = v.begin;
        node.end = v.end;
        node.key = v.kind == JsonKind::key;
        const std::string_view literal = text.substr(v.begin, v.end - v.begin);
        node.text = v.escaped ? decode_json_string(literal)
                              : std::string(literal.substr(1, literal.size() - 2));
        const PathView path{v.path, std::min(v.depth, 8)};
        if (parent < 0 && !node.key && v.depth <= 8) {
            node.prompt = in_conversation(conversation_, path);
            node.binary = raw_binary_at(conversation_, path) && !decodes_to_text(node.text);
        }
        const int index = static_cast<int>(reading_.texts.size());
        reading_.texts.push_back(std::move(node));
        if (!reading_.texts.back().binary) read_inner(index, layer);
    }

    static bool decodes_to_text(const std::string& b64) {
        std::string bytes;
        return decode_base64(b64, bytes) && looks_like_text(bytes);
    }

    // A string that is itself JSON or a data: URI: its decoded content becomes its children.
    void read_inner(int index, int layer) {
        if (layer >= kMaxInnerLayers) return;
        // A copy: reading it appends nodes, which may move the node's own string.
        const std::string text = reading_.texts[static_cast<std::size_t>(index)].text;
        const std::size_t start = text.find_first_not_of(" \t\r\n");
        if (start == std::string::npos) return;
        if (text[start] == '{' || text[start] == '[') {
            if (read_json(text, index, layer + 1, false))
                reading_.texts[static_cast<std::size_t>(index)].container = true;
            return;
        }
        if (starts_with_caseless(text, "data:")) read_data_uri(index, text, layer);
    }

    // RFC 2397: data:[<mediatype>][;base64],<data>. The media type is the client's claim; the
    // content decides: text is scanned whatever the label says, anything else is binary.
    void read_data_uri(int index, const std::string& text, int layer) {
        const std::size_t comma = text.find(',');
        if (comma == std::string::npos) return;
        const std::string_view header = std::string_view(text).substr(5, comma - 5);
        const bool base64 =
            header.size() >= 7 && starts_with_caseless(header.substr(header.size() - 7), ";base64");
        const std::string_view payload = std::string_view(text).substr(comma + 1);
        std::string decoded;
        if (!(base64 ? decode_base64(payload, decoded) : decode_percent(payload, decoded))) return;
        BodyText node;
        node.parent = index;
        node.begin = comma + 1;
        node.end = text.size();
        node.encoding = base64 ? TextEncoding::base64 : TextEncoding::percent;
        node.binary = !looks_like_text(decoded);
        node.text = std::move(decoded);
        reading_.texts[static_cast<std::size_t>(index)].container = true;
        const int child = static_cast<int>(reading_.texts.size());
        reading_.texts.push_back(std::move(node));
        if (!reading_.texts.back().binary) read_inner(child, layer + 1);
    }

    Conversation conversation_;
    bool collect_;
    JsonView& values_;
    std::vector<std::string_view> names_;  // scratch for find_duplicate
    RequestReading reading_;
};

constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int8_t, 256> make_base64_table() {
    std::array<int8_t, 256> t{};
    for (auto& v : t) v = -1;
    for (std::size_t i = 0; i < kBase64Alphabet.size(); ++i)
        t[static_cast<unsigned char>(kBase64Alphabet[i])] = static_cast<int8_t>(i);
    return t;
}
constexpr std::array<int8_t, 256> kBase64Table = make_base64_table();

}  // namespace

bool decode_base64(std::string_view in, std::string& out) {
    out.clear();
    if (in.size() % 4 != 0) return false;
    out.reserve(in.size() / 4 * 3);
    for (std::size_t i = 0; i < in.size(); i += 4) {
        int v[4];
        int pad = 0;
        for (int j = 0; j < 4; ++j) {
            const char c = in[i + static_cast<std::size_t>(j)];
            if (c == '=' && i + 4 == in.size() && j >= 2) {
                ++pad;
                v[j] = 0;
                continue;
            }
            if (pad) return false;  // data after padding
            v[j] = kBase64Table[static_cast<unsigned char>(c)];
            if (v[j] < 0) return false;
        }
        const uint32_t n = (uint32_t(v[0]) << 18) | (uint32_t(v[1]) << 12) | (uint32_t(v[2]) << 6) |
                           uint32_t(v[3]);
        out.push_back(static_cast<char>(n >> 16));
        if (pad < 2) out.push_back(static_cast<char>((n >> 8) & 0xff));
        if (pad < 1) out.push_back(static_cast<char>(n & 0xff));
    }
    return true;
}

void append_base64(std::string& out, std::string_view bytes) {
    std::size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        const uint32_t n = (uint32_t(static_cast<unsigned char>(bytes[i])) << 16) |
                           (uint32_t(static_cast<unsigned char>(bytes[i + 1])) << 8) |
                           uint32_t(static_cast<unsigned char>(bytes[i + 2]));
        for (int shift = 18; shift >= 0; shift -= 6)
            out.push_back(kBase64Alphabet[(n >> shift) & 63]);
    }
    if (const std::size_t rest = bytes.size() - i) {
        uint32_t n = uint32_t(static_cast<unsigned char>(bytes[i])) << 16;
        if (rest == 2) n |= uint32_t(static_cast<unsigned char>(bytes[i + 1])) << 8;
        out.push_back(kBase64Alphabet[(n >> 18) & 63]);
        out.push_back(kBase64Alphabet[(n >> 12) & 63]);
        out.push_back(rest == 2 ? kBase64Alphabet[(n >> 6) & 63] : '=');
        out.push_back('=');
    }
}

RequestReading read_request_body(std::string_view body, std::string_view path, bool collect_texts,
                                 JsonView* values) {
    JsonView own;
    return Reader(path, collect_texts, values ? *values : own).run(body);
}

std::vector<ScanUnit> scan_units(const RequestReading& reading, bool with_containers) {
    std::vector<ScanUnit> units;
    ScanUnit conversation;
    for (std::size_t i = 0; i < reading.texts.size(); ++i) {
        const BodyText& node = reading.texts[i];
        if ((node.container && !with_containers) || node.binary) continue;
        if (node.prompt)
            conversation.nodes.push_back(static_cast<int>(i));
        else
            units.push_back({{static_cast<int>(i)}});
    }
    if (!conversation.nodes.empty()) units.push_back(std::move(conversation));
    return units;
}

std::vector<std::string> prompt_scan_texts(const RequestReading& reading) {
    std::vector<std::string> out;
    FoldedText folded;
    auto add = [&](std::string text) {
        if (fold_for_matching(text, folded)) out.push_back(std::move(folded.text));
        out.push_back(std::move(text));
    };
    for (const ScanUnit& unit : scan_units(reading, true)) {
        if (unit.nodes.size() > 1)  // each part alone too, for patterns anchored at its edges
            for (int node : unit.nodes) add(reading.texts[static_cast<std::size_t>(node)].text);
        std::string joined;
        for (int node : unit.nodes) joined += reading.texts[static_cast<std::size_t>(node)].text;
        add(std::move(joined));
    }
    return out;
}

}  // namespace sluice
