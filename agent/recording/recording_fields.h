// Reading a stored recording's members for people (sessions show, replay): a member's text, or
// the member itself, with nothing thrown for what a recording does not hold.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace sluice {

// `object[key]` as text: a string as it is, any other value as JSON, "" when absent or null.
inline std::string member_text(const nlohmann::json& object, const char* key) {
    if (!object.is_object()) return {};
    const auto it = object.find(key);
    if (it == object.end() || it->is_null()) return {};
    return it->is_string() ? it->get<std::string>() : it->dump();
}

// `object[key]`, or null when it is not there (const operator[] must not be asked for a
// missing member).
inline const nlohmann::json& member_of(const nlohmann::json& object, const char* key) {
    static const nlohmann::json null;
    if (!object.is_object()) return null;
    const auto it = object.find(key);
    return it == object.end() ? null : *it;
}

}  // namespace sluice
