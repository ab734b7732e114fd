#include "agent/gate/request_body_edit.h"

#include <algorithm>
#include <optional>

#include "policy/api_endpoint.h"
#include "policy/ascii_case.h"
#include "policy/json_member.h"
#include "policy/json_scan.h"
#include "policy/text_splice.h"

namespace sluice {

namespace {

// Without regard to case, as policy reads the caps (policy/output_bound.h): an upstream may
// route "/V1/Chat/Completions" as the lower-case path.
std::string endpoint_of(std::string_view target) { return ascii_lower(api_endpoint(target)); }

void cap_field(const nlohmann::json& body, const char* field, int64_t limit,
               std::vector<MemberEdit>& edits) {
    auto it = body.find(field);
    bool over = true;  // absent or not an integer: set
    if (it != body.end() && it->is_number_integer()) {
        // An unsigned value past INT64_MAX must not be read as a negative cap and kept.
        over = it->is_number_unsigned()
                   ? it->get<uint64_t>() > static_cast<uint64_t>(std::max<int64_t>(0, limit))
                   : it->get<int64_t>() > limit;
    }
    // A value equal to the cap (4096.0 for 4096) is left as it is.
    if (over && (it == body.end() || *it != nlohmann::json(limit)))
        edits.push_back({field, "", limit});
}

struct Place {
    std::size_t begin = 0, end = 0;  // the value's bytes; empty when not found
    bool object = false;
};

// Where a member's value sits; for an object, also where each of its members' values sit.
struct MemberPlaces {
    Place value;
    std::vector<std::pair<std::string, Place>> members;
};

std::string member_name(std::string_view literal, bool escaped) {
    return escaped ? decode_json_string(literal)
                   : std::string(literal.substr(1, literal.size() - 2));
}

bool empty_container(std::string_view text, const Place& place) {
    const std::string_view inner = text.substr(place.begin + 1, place.end - place.begin - 2);
    return inner.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

// A member written into the object at `object`: after its '{', before any member it has.
TextSplice insertion(std::string_view text, const Place& object, std::string_view name,
                     const nlohmann::json& value) {
    TextSplice splice{object.begin + 1, object.begin + 1, {}};
    splice.replacement = dump_json(nlohmann::json(name)) + ":" + dump_json(value);
    if (!empty_container(text, object)) splice.replacement += ",";
    return splice;
}

}  // namespace

void plan_output_cap(const nlohmann::json& body, std::string_view target, int64_t limit,
                     std::vector<MemberEdit>& edits) {
    if (!body.is_object()) return;
    const std::string endpoint = endpoint_of(target);
    if (endpoint == "/v1/chat/completions") {
        const bool has_new = body.contains("max_completion_tokens");
        const bool has_old = body.contains("max_tokens");
        if (has_old) cap_field(body, "max_tokens", limit, edits);
        if (has_new || !has_old) cap_field(body, "max_completion_tokens", limit, edits);
    } else if (endpoint == "/v1/responses") {
        cap_field(body, "max_output_tokens", limit, edits);
    } else if (endpoint == "/v1/completions") {
        cap_field(body, "max_tokens", limit, edits);
    }
}

void plan_stream_usage(const nlohmann::json& body, std::string_view target,
                       std::vector<MemberEdit>& edits) {
    if (!body.is_object() || endpoint_of(target) != "/v1/chat/completions") return;
    auto stream = body.find("stream");
    if (stream == body.end() || !stream->is_boolean() || !stream->get<bool>()) return;
    auto options = body.find("stream_options");
    if (options == body.end() || !options->is_object()) {
        edits.push_back({"stream_options", "", {{"include_usage", true}}});
        return;
    }
    auto include = options->find("include_usage");
    if (include != options->end() && include->is_boolean() && include->get<bool>()) return;
    edits.push_back({"stream_options", "include_usage", true});
}

bool write_member_edits(std::string& text, const std::vector<MemberEdit>& edits) {
    if (edits.empty()) return true;
    // The places of the members edits name, and of the members of those that are objects.
    Place top;
    std::vector<std::pair<std::string, MemberPlaces>> places;
    for (const auto& edit : edits)
        if (std::none_of(places.begin(), places.end(),
                         [&](const auto& p) { return p.first == edit.member; }))
            places.push_back({edit.member, {}});
    MemberPlaces* current = nullptr;  // the named top-level member being read
    std::string inner_name;
    const bool valid = scan_json(
        text, kJsonMaxDepth,
        [&](const JsonValue& v) {
            const std::string_view literal =
                std::string_view(text).substr(v.begin, v.end - v.begin);
            if (v.depth == 0) {
                top = {v.begin, v.end, v.kind == JsonKind::object};
            } else if (v.kind == JsonKind::key && v.depth == 1) {
                const std::string name = member_name(literal, v.escaped);
                current = nullptr;
                for (auto& [member, place] : places)
                    if (member == name) current = &place;
            } else if (v.depth == 1 && current) {
                current->value = {v.begin, v.end, v.kind == JsonKind::object};
                current = nullptr;
            } else if (v.kind == JsonKind::key && v.depth == 2 && current) {
                inner_name = member_name(literal, v.escaped);
            } else if (v.depth == 2 && current && v.kind != JsonKind::key) {
                current->members.push_back({inner_name, {v.begin, v.end, true}});
            }
        },
        JsonScanOptions{.report_keys = true}, nullptr);
    if (!valid || !top.object) return false;
    std::vector<TextSplice> splices;
    for (const auto& edit : edits) {
        const MemberPlaces& place = std::find_if(places.begin(), places.end(), [&](const auto& p) {
                                        return p.first == edit.member;
                                    })->second;
        if (edit.inner.empty()) {
            if (place.value.end > place.value.begin)
                splices.push_back({place.value.begin, place.value.end, dump_json(edit.value)});
            else
                splices.push_back(insertion(text, top, edit.member, edit.value));
            continue;
        }
        if (!place.value.object) return false;  // planned on an object member: it is one
        auto inner = std::find_if(place.members.begin(), place.members.end(),
                                  [&](const auto& m) { return m.first == edit.inner; });
        if (inner != place.members.end())
            splices.push_back({inner->second.begin, inner->second.end, dump_json(edit.value)});
        else
            splices.push_back(insertion(text, place.value, edit.inner, edit.value));
    }
    // Insertions into one object share a place: each but the last there is followed by
    // another member, so it takes a comma even if the object had none.
    std::stable_sort(splices.begin(), splices.end(),
                     [](const TextSplice& a, const TextSplice& b) { return a.begin < b.begin; });
    for (std::size_t i = 0; i + 1 < splices.size(); ++i)
        if (splices[i].begin == splices[i + 1].begin && splices[i].replacement.back() != ',')
            splices[i].replacement += ",";
    text = apply_splices(text, splices);
    return true;
}

void apply_member_edits(nlohmann::json& body, const std::vector<MemberEdit>& edits) {
    for (const auto& edit : edits) {
        if (edit.inner.empty())
            body[edit.member] = edit.value;
        else
            body[edit.member][edit.inner] = edit.value;
    }
}

}  // namespace sluice
