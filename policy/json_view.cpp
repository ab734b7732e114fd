#include "policy/json_view.h"

#include <charconv>
#include <cstdlib>

#include <nlohmann/json.hpp>

namespace sluice {

namespace {

bool integer_literal(std::string_view literal) {
    return literal.find_first_of(".eE") == std::string_view::npos;
}

// The bytes nlohmann::json's dump writes for a string (ensure_ascii off): quotes, the short
// escapes, \u00XX for other control characters, every other byte as it is.
std::size_t dump_string_size(std::string_view decoded) {
    std::size_t size = 2;
    for (const char c : decoded) {
        switch (c) {
            case '"':
            case '\\':
            case '\b':
            case '\f':
            case '\n':
            case '\r':
            case '\t':
                size += 2;
                break;
            default:
                size += static_cast<unsigned char>(c) < 0x20 ? 6 : 1;
        }
    }
    return size;
}

std::size_t dump_number_size(std::string_view literal) {
    const JsonNumber number = read_json_number(literal);
    switch (number.type) {
        case JsonNumber::Type::signed_integer:
            return std::to_string(number.integer).size();
        case JsonNumber::Type::unsigned_integer:
            return std::to_string(number.unsigned_integer).size();
        case JsonNumber::Type::floating:
            // Rare in a request (a schema's `minimum: 0.5`): nlohmann's own shortest form.
            return nlohmann::json(number.floating).dump().size();
    }
    return literal.size();
}

}  // namespace

JsonNumber read_json_number(std::string_view literal) {
    JsonNumber number;
    const char* first = literal.data();
    const char* last = first + literal.size();
    if (integer_literal(literal)) {
        if (literal.starts_with('-')) {
            if (std::from_chars(first, last, number.integer).ec == std::errc{}) {
                number.type = JsonNumber::Type::signed_integer;
                return number;
            }
        } else if (std::from_chars(first, last, number.unsigned_integer).ec == std::errc{}) {
            number.type = JsonNumber::Type::unsigned_integer;
            return number;
        }
    }
    const std::string copy(literal);  // strtod, as nlohmann reads a double
    number.floating = std::strtod(copy.c_str(), nullptr);
    return number;
}

bool JsonNumber::operator==(int64_t value) const {
    switch (type) {
        case Type::signed_integer:
            return integer == value;
        case Type::unsigned_integer:
            return static_cast<int64_t>(unsigned_integer) == value;
        case Type::floating:
            return floating == static_cast<double>(value);
    }
    return false;
}

void JsonView::start(std::string_view text) {
    clear();
    text_ = text;
}

void JsonView::clear() {
    text_ = {};
    nodes_.clear();
    names_.clear();
    levels_.clear();
}

void JsonView::add(const JsonValue& value) {
    const auto depth = static_cast<std::size_t>(value.depth);
    if (levels_.size() < depth + 2) levels_.resize(depth + 2);
    Level& level = levels_[depth];
    if (value.kind == JsonKind::key) {
        // The name of the value reported next at this depth.
        level.named = true;
        level.name_decoded = value.escaped;
        if (value.escaped) {
            const std::string decoded =
                decode_json_string(text_.substr(value.begin, value.end - value.begin));
            level.name_begin = static_cast<uint32_t>(names_.size());
            level.name_size = static_cast<uint32_t>(decoded.size());
            names_ += decoded;
        } else {
            level.name_begin = static_cast<uint32_t>(value.begin + 1);
            level.name_size = static_cast<uint32_t>(value.end - value.begin - 2);
        }
        return;
    }
    Node node;
    node.kind = value.kind;
    node.escaped = value.escaped;
    node.begin = static_cast<uint32_t>(value.begin);
    node.end = static_cast<uint32_t>(value.end);
    if (level.named) {
        node.name_decoded = level.name_decoded;
        node.name_begin = level.name_begin;
        node.name_size = level.name_size;
        level.named = false;
    }
    if (value.kind == JsonKind::object || value.kind == JsonKind::array) {
        Level& inner = levels_[depth + 1];
        node.first_child = inner.first;
        inner.first = inner.last = none;
    }
    const auto index = static_cast<Index>(nodes_.size());
    nodes_.push_back(node);
    if (level.last != none)
        nodes_[static_cast<std::size_t>(level.last)].next_sibling = index;
    else
        level.first = index;
    level.last = index;
}

bool read_json_view(std::string_view text, JsonView& view) {
    view.start(text);
    const bool valid = scan_json(
        text, kJsonMaxDepth, [&](const JsonValue& value) { view.add(value); },
        JsonScanOptions{.report_keys = true}, nullptr);
    if (!valid) view.clear();
    return valid;
}

JsonView::Index JsonView::member(Index object, std::string_view name) const {
    if (!is(object, JsonKind::object)) return none;
    Index found = none;
    for (const Index child : children(object))
        if (this->name(child) == name) found = child;
    return found;
}

std::string_view JsonView::name(Index i) const {
    const Node& n = node(i);
    return std::string_view(n.name_decoded ? std::string_view(names_) : text_)
        .substr(n.name_begin, n.name_size);
}

std::string_view JsonView::bytes(Index i) const {
    const Node& n = node(i);
    return text_.substr(n.begin, n.end - n.begin);
}

std::string JsonView::string(Index i) const {
    const std::string_view literal = bytes(i);
    if (node(i).escaped) return decode_json_string(literal);
    return std::string(literal.substr(1, literal.size() - 2));
}

bool JsonView::string_is(Index i, std::string_view text) const {
    if (!is(i, JsonKind::string)) return false;
    if (node(i).escaped) return decode_json_string(bytes(i)) == text;
    const std::string_view literal = bytes(i);
    return literal.substr(1, literal.size() - 2) == text;
}

std::size_t JsonView::dump_size(Index i) const {
    switch (kind(i)) {
        case JsonKind::string: {
            if (node(i).escaped) return dump_string_size(string(i));
            const std::string_view literal = bytes(i);
            return dump_string_size(literal.substr(1, literal.size() - 2));
        }
        case JsonKind::number:
            return dump_number_size(bytes(i));
        case JsonKind::object:
        case JsonKind::array: {
            std::size_t size = 2, members = 0;
            const bool object = kind(i) == JsonKind::object;
            for (const Index child : children(i)) {
                size += dump_size(child) + (members++ ? 1 : 0);
                if (object) size += dump_string_size(name(child)) + 1;
            }
            return size;
        }
        default:
            return bytes(i).size();  // true, false, null
    }
}

}  // namespace sluice
