#include "policy/masking/response_masker.h"

#include <vector>

#include "policy/json_append.h"
#include "policy/json_scan.h"
#include "policy/masking/json_text_unescape.h"
#include "policy/text_splice.h"

namespace sluice::masking {

namespace {

constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";

// What a member's name makes of its value (json_masker.cpp's edit rules, by name).
enum class MemberRole : uint8_t { text, skipped, logprobs, arguments };

MemberRole member_role(std::string_view name, ApiShape shape) {
    if (shape != ApiShape::chat && shape != ApiShape::completions && shape != ApiShape::responses)
        return identifier_key(name) ? MemberRole::skipped : MemberRole::text;
    if (answer_structural_key(name)) return MemberRole::skipped;
    if (name == "logprobs") return MemberRole::logprobs;
    if (name == "arguments") return MemberRole::arguments;
    return MemberRole::text;
}

// Walks the scan's reports (member names before their values, containers when they end) and
// collects a splice for each string that changes. The scan reports no container starts, so a
// member whose name matters is remembered with the depth of its value: everything reported
// deeper before that value itself lies inside it.
class AnswerWalk {
public:
    AnswerWalk(std::string_view body, ApiShape shape, TextMasker& masker, bool restore)
        : body_(body), shape_(shape), masker_(masker), restore_(restore) {}

    void visit(const JsonValue& v) {
        if (failed_) return;
        if (skip_depth_ >= 0 && v.depth > skip_depth_) return;  // inside a skipped member
        if (v.kind == JsonKind::key) return on_key(v);
        MemberRole role = MemberRole::text;
        if (!pending_.empty() && pending_.back().depth == v.depth) {
            role = pending_.back().role;
            pending_.pop_back();
        }
        if (skip_depth_ == v.depth) {
            skip_depth_ = -1;
            if (role == MemberRole::logprobs) drop_logprobs(v);
            return;
        }
        if (v.kind != JsonKind::string) return;
        if (role == MemberRole::arguments)
            json_text(v);
        else
            string(v);
    }

    bool failed() const { return failed_; }
    std::vector<TextSplice>& splices() { return splices_; }

private:
    struct Pending {
        int depth;
        MemberRole role;
    };

    std::string_view literal(const JsonValue& v) const {
        return body_.substr(v.begin, v.end - v.begin);
    }

    std::string decoded(const JsonValue& v) const {
        const std::string_view text = literal(v);
        return v.escaped ? decode_json_string(text) : std::string(text.substr(1, text.size() - 2));
    }

    void on_key(const JsonValue& v) {
        const std::string name = decoded(v);
        const MemberRole role = member_role(name, shape_);
        if (role == MemberRole::text) return;
        pending_.push_back({v.depth, role});
        if (role == MemberRole::skipped || role == MemberRole::logprobs) skip_depth_ = v.depth;
    }

    // Masks (and restores) one text; true when it changed.
    bool mask(std::string& text) {
        bool changed = false;
        if (!masker_.mask(text, Direction::response, &changed)) {
            failed_ = true;
            return false;
        }
        if (restore_) {
            const std::size_t n = restore_placeholders(masker_.vault(), text);
            masker_.stats().restored += static_cast<uint32_t>(n);
            changed |= n > 0;
        }
        return changed;
    }

    void replace(const JsonValue& v, std::string_view text) {
        TextSplice splice{v.begin, v.end, {}};
        append_json_string(splice.replacement, text);
        splices_.push_back(std::move(splice));
    }

    void string(const JsonValue& v) {
        std::string text = decoded(v);
        if (mask(text)) replace(v, text);
    }

    // Tool arguments, masked as the client will parse them (json_text_unescape.h); written
    // back only if something was masked, so arguments with nothing to mask keep their spelling.
    void json_text(const JsonValue& v) {
        std::string text = decoded(v);
        if (text.find('\\') == std::string::npos) {
            if (mask(text)) replace(v, text);
            return;
        }
        std::string unescaped = unescape_json_text(text);
        if (mask(unescaped)) replace(v, unescaped);
    }

    // Token logprobs spell the text out a token at a time and cannot be masked: an array
    // becomes [], any other value null (null and empty containers are left alone).
    void drop_logprobs(const JsonValue& v) {
        if (v.kind == JsonKind::null) return;
        if (v.kind == JsonKind::array || v.kind == JsonKind::object) {
            const std::string_view inner = literal(v).substr(1, v.end - v.begin - 2);
            if (inner.find_first_not_of(" \t\r\n") == std::string_view::npos) return;
        }
        splices_.push_back({v.begin, v.end, v.kind == JsonKind::array ? "[]" : "null"});
    }

    std::string_view body_;
    ApiShape shape_;
    TextMasker& masker_;
    bool restore_;
    bool failed_ = false;
    int skip_depth_ = -1;           // depth of the skipped member's value being walked, or -1
    std::vector<Pending> pending_;  // members named before their values end
    std::vector<TextSplice> splices_;
};

}  // namespace

BodyStatus mask_response_body(std::string& body, std::string_view path, TextMasker& masker,
                              bool restore) {
    // A leading byte order mark is read past (as a JSON parser does) and kept.
    const std::size_t offset = std::string_view(body).starts_with(kByteOrderMark) ? 3 : 0;
    const std::string_view value = std::string_view(body).substr(offset);
    const ApiShape shape = api_shape(path);
    AnswerWalk walk(value, shape, masker, restore);
    const bool read = shape == ApiShape::embeddings
                          ? scan_json(value, kJsonMaxDepth, [](const JsonValue&) {})
                          : scan_json(
                                value, kJsonMaxDepth, [&](const JsonValue& v) { walk.visit(v); },
                                JsonScanOptions{.report_keys = true}, nullptr);
    if (!read) return BodyStatus::not_json;
    if (walk.failed()) return BodyStatus::failed;
    if (walk.splices().empty()) return BodyStatus::unchanged;
    body = apply_splices(body, walk.splices(), offset);
    return BodyStatus::masked;
}

}  // namespace sluice::masking
