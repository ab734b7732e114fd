#include "agent/gate/request_body_edit.h"

#include <algorithm>
#include <optional>

#include "policy/api_endpoint.h"
#include "policy/ascii_case.h"
#include "policy/json_member.h"
#include "policy/text_splice.h"

namespace sluice {

namespace {

// Without regard to case, as policy reads the caps (policy/output_bound.h): an upstream may
// route "/V1/Chat/Completions" as the lower-case path.
std::string endpoint_of(std::string_view target) { return ascii_lower(api_endpoint(target)); }

using Index = JsonView::Index;

void cap_field(const JsonView& body, std::string_view field, int64_t limit,
               std::vector<MemberEdit>& edits) {
    const Index value = body.member(body.root(), field);
    bool over = true;  // absent or not an integer: set
    std::optional<JsonNumber> number;
    if (body.is(value, JsonKind::number)) number = body.number(value);
    if (number && number->is_integer()) {
        // An unsigned value past INT64_MAX must not be read as a negative cap and kept.
        over = number->type == JsonNumber::Type::unsigned_integer
                   ? number->unsigned_integer > static_cast<uint64_t>(std::max<int64_t>(0, limit))
                   : number->integer > limit;
    }
    // A value equal to the cap (4096.0 for 4096) is left as it is.
    if (over && !(number && *number == limit)) edits.push_back({std::string(field), "", limit});
}

bool empty_container(std::string_view text) {
    return text.substr(1, text.size() - 2).find_first_not_of(" \t\r\n") == std::string_view::npos;
}

// A member written into `object`: after its '{', before any member it has.
TextSplice insertion(const JsonView& body, Index object, std::string_view name,
                     const nlohmann::json& value) {
    const std::size_t at = body.offset(object) + 1;
    TextSplice splice{at, at, {}};
    splice.replacement = dump_json(nlohmann::json(name)) + ":" + dump_json(value);
    if (!empty_container(body.bytes(object))) splice.replacement += ",";
    return splice;
}

// `member` of `object` set to `value`: its value replaced, or the member inserted.
TextSplice member_set(const JsonView& body, Index object, std::string_view member,
                      const nlohmann::json& value) {
    const Index current = body.member(object, member);
    if (current == JsonView::none) return insertion(body, object, member, value);
    const std::size_t begin = body.offset(current);
    return {begin, begin + body.bytes(current).size(), dump_json(value)};
}

}  // namespace

void plan_output_cap(const JsonView& body, std::string_view target, int64_t limit,
                     std::vector<MemberEdit>& edits) {
    const Index root = body.root();
    if (!body.is(root, JsonKind::object)) return;
    const std::string endpoint = endpoint_of(target);
    if (endpoint == "/v1/chat/completions") {
        const bool has_new = body.member(root, "max_completion_tokens") != JsonView::none;
        const bool has_old = body.member(root, "max_tokens") != JsonView::none;
        if (has_old) cap_field(body, "max_tokens", limit, edits);
        if (has_new || !has_old) cap_field(body, "max_completion_tokens", limit, edits);
    } else if (endpoint == "/v1/responses") {
        cap_field(body, "max_output_tokens", limit, edits);
    } else if (endpoint == "/v1/completions") {
        cap_field(body, "max_tokens", limit, edits);
    }
}

void plan_stream_usage(const JsonView& body, std::string_view target,
                       std::vector<MemberEdit>& edits) {
    const Index root = body.root();
    if (!body.is(root, JsonKind::object) || endpoint_of(target) != "/v1/chat/completions") return;
    const Index stream = body.member(root, "stream");
    if (!body.is(stream, JsonKind::boolean) || body.bytes(stream) != "true") return;
    const Index options = body.member(root, "stream_options");
    if (!body.is(options, JsonKind::object)) {
        edits.push_back({"stream_options", "", {{"include_usage", true}}});
        return;
    }
    const Index include = body.member(options, "include_usage");
    if (body.is(include, JsonKind::boolean) && body.bytes(include) == "true") return;
    edits.push_back({"stream_options", "include_usage", true});
}

bool write_member_edits(std::string& text, const JsonView& body,
                        const std::vector<MemberEdit>& edits) {
    if (edits.empty()) return true;
    const Index root = body.root();
    if (!body.views(text) || !body.is(root, JsonKind::object)) return false;
    std::vector<TextSplice> splices;
    for (const auto& edit : edits) {
        if (edit.inner.empty()) {
            splices.push_back(member_set(body, root, edit.member, edit.value));
            continue;
        }
        const Index object = body.member(root, edit.member);
        if (!body.is(object, JsonKind::object)) return false;  // planned on an object member
        splices.push_back(member_set(body, object, edit.inner, edit.value));
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

}  // namespace sluice
