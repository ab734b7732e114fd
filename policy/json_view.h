// A read-only view of one JSON text, built from the reports of the scan that validates it
// (json_scan.h), so a reader can look members up by name without a tree: each value's kind,
// its bytes, its member name (decoded: "max\u005ftokens" is max_tokens, as a provider reads it)
// and its first child and next sibling. The strict reading of a request body builds one in the
// same pass (request_reading.h), and the policy's facts are read from it (docs/policy.md, "One
// reading of the body"); a parse into a tree and its allocations per value cost the gate a
// third of its time (docs/benchmarks.md).
//
// Values are stored as the scan reports them, a container after its children. The view keeps
// offsets into the text, which must outlive it unchanged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "policy/json_scan.h"

namespace sluice {

// A number as nlohmann::json reads it: a literal without fraction or exponent is an integer
// (unsigned when not negative) while it fits 64 bits, else a double.
struct JsonNumber {
    enum class Type : uint8_t { signed_integer, unsigned_integer, floating };
    Type type = Type::floating;
    int64_t integer = 0;
    uint64_t unsigned_integer = 0;
    double floating = 0;

    bool is_integer() const { return type != Type::floating; }
    bool operator==(int64_t value) const;  // as json(number) == json(value)
};
JsonNumber read_json_number(std::string_view literal);

class JsonView {
public:
    using Index = int32_t;
    static constexpr Index none = -1;

    // Building: start over `text`, then every report of a scan of it that reports keys.
    void start(std::string_view text);
    void add(const JsonValue& value);
    void clear();

    // The top-level value; none before a scan added one.
    Index root() const { return nodes_.empty() ? none : static_cast<Index>(nodes_.size() - 1); }
    JsonKind kind(Index i) const { return node(i).kind; }
    bool is(Index i, JsonKind kind) const { return i != none && node(i).kind == kind; }
    Index first_child(Index i) const { return node(i).first_child; }
    Index next_sibling(Index i) const { return node(i).next_sibling; }
    // Children of a container in document order: for (Index c : view.children(i)).
    class Children;
    Children children(Index container) const;

    // The member `name` of `object`; none when absent or `object` is none or no object. Of a
    // name given twice (only a lenient scan lets one through) the last, as a tree keeps it.
    Index member(Index object, std::string_view name) const;
    // A member's decoded name ("" for an array element or the top-level value).
    std::string_view name(Index i) const;
    std::string_view bytes(Index i) const;
    // Where the value's bytes begin in the text.
    std::size_t offset(Index i) const { return node(i).begin; }
    // The view is of `text` (the same bytes in memory, not a copy).
    bool views(std::string_view text) const {
        return text.data() == text_.data() && text.size() == text_.size();
    }
    // A string value decoded.
    std::string string(Index i) const;
    // `i` is a string whose decoded text is `text`.
    bool string_is(Index i, std::string_view text) const;
    JsonNumber number(Index i) const { return read_json_number(bytes(i)); }
    // The length of nlohmann::json's dump() of the value (no spaces, its own escapes and
    // number forms), which the token estimate of rendered JSON counts.
    std::size_t dump_size(Index i) const;

private:
    struct Node {
        JsonKind kind = JsonKind::null;
        bool escaped = false;         // a string with backslash escapes
        bool name_decoded = false;    // the name had escapes: it sits in names_, decoded
        uint32_t begin = 0, end = 0;  // the value's bytes in the text
        uint32_t name_begin = 0, name_size = 0;
        Index first_child = none, next_sibling = none;
    };
    struct Level {  // what is open at one depth while building
        Index first = none, last = none;
        bool named = false;
        uint32_t name_begin = 0, name_size = 0;
        bool name_decoded = false;
    };
    const Node& node(Index i) const { return nodes_[static_cast<std::size_t>(i)]; }

    std::string_view text_;
    std::vector<Node> nodes_;
    std::string names_;  // decoded member names that had escapes
    std::vector<Level> levels_;
};

// Scans `text` (validating, as json_scan.h) into `view`; false, `view` empty, when it is not one
// JSON value. Lenient about a member named twice: the strict reading (request_reading.h)
// refuses those, and builds its view in its own pass.
bool read_json_view(std::string_view text, JsonView& view);

class JsonView::Children {
public:
    class Iterator {
    public:
        Iterator(const JsonView* view, Index at) : view_(view), at_(at) {}
        Index operator*() const { return at_; }
        Iterator& operator++() {
            at_ = view_->next_sibling(at_);
            return *this;
        }
        bool operator!=(const Iterator& other) const { return at_ != other.at_; }

    private:
        const JsonView* view_;
        Index at_;
    };
    Children(const JsonView* view, Index first) : view_(view), first_(first) {}
    Iterator begin() const { return {view_, first_}; }
    Iterator end() const { return {view_, none}; }

private:
    const JsonView* view_;
    Index first_;
};

inline JsonView::Children JsonView::children(Index container) const {
    return {this, container == none ? none : first_child(container)};
}

}  // namespace sluice
